// The process's peak resident memory over a stretch of work (Linux: the kernel's high-water mark
// VmHWM, reset through /proc/self/clear_refs), so an evaluation can say what decoding cost in
// memory beside the bytes its cache tensors hold.
#pragma once

#include <cstdint>

namespace cp {

// Starts a new stretch: the high-water mark is reset to the current resident memory. Returns
// false where the kernel does not allow it (then peak_resident_bytes() is the process's peak).
bool reset_peak_resident();
// The high-water mark of resident memory since the last reset, in bytes; -1 when unknown.
std::int64_t peak_resident_bytes();

}  // namespace cp
