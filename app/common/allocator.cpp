// The executables allocate through jemalloc with transparent huge pages. Why: a training step
// allocates and frees logits of batch x sequence x 50304 floats (hundreds of MB); glibc maps and
// unmaps each one, and the page faults cost more than the arithmetic (measured on the 2-core
// VM: pythia-tiny 5 s -> 0.9 s per step, 1.3 M -> 20 k page faults).
// jemalloc reads this symbol at start-up; MALLOC_CONF in the environment still overrides it.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's interface.
const char* malloc_conf = "thp:always,background_thread:false";
}
