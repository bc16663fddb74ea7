// The allocator every training executable links (allocator.cpp says how it is configured, and why).
#pragma once

namespace cp {

// Hands the free pages the allocator keeps for reuse back to the system. A long-lived process
// (the workbench) calls it when an experiment ends, so the memory a finished run used does not
// stay with the window; a process that exits after one experiment has no need to.
void release_cached_memory();

}  // namespace cp
