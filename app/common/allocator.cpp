// The executables allocate through jemalloc, which keeps the pages it frees for reuse. Why: a
// training step allocates and frees logits of batch x sequence x 50304 floats (hundreds of MB).
// glibc maps and unmaps each one, and the page faults cost more than the arithmetic (measured on
// the 2-core VM: pythia-tiny 5 s -> 0.9 s per step, 1.3 M -> 20 k page faults). jemalloc's own
// default still returns freed pages to the system after a few seconds, and the kernel zeroes them
// again on the next step: 44% of a tiny Pythia run's time was spent in the kernel's page clearing.
// Never returning them (dirty and muzzy decay off) takes that run from 17.2 s to 11.0 s (system
// time 12.1 s -> 0.8 s) for 10% more peak memory (1.24 -> 1.37 GB): `run --models pythia
// --samples 800 --seq-length 32 --epochs 1 --size tiny --skip-evaluation --threads 2`, with
// MALLOC_CONF set to each setting. Transparent huge pages are left to the system's setting: with
// pages kept they no longer save anything (11.0 s without, 12.2 s with thp:always).
// jemalloc reads this symbol at start-up; MALLOC_CONF in the environment still overrides it.
#include "allocator.h"

#include <jemalloc/jemalloc.h>

#include <string>

extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's interface.
const char* malloc_conf = "background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}

namespace cp {

void release_cached_memory() {
    // Purging every arena returns its unused dirty pages to the system (the call cannot fail
    // in a way the caller could act on: at worst the pages stay).
    const std::string purge = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
    mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0);
}

}  // namespace cp
