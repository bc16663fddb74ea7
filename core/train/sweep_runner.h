// A sweep run in this process, one cell after another (the workbench's "Run here"): each cell a
// whole experiment (a seed group with --seeds N) through SeedGroup, as `context-pythia run`
// would run it. Cells the database holds finished are skipped, failed ones run again; a cell
// that fails is recorded and the next one runs; Stop ends after the current run, the cell's
// run marked stopped. The CLI's `sweep --local` runs each cell as a process of its own instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "store/run_kinds.h"
#include "experiment/progress.h"
#include "experiment/sweep.h"

namespace cp::train {

struct SweepOutcome {
    store::RunStatus status = store::RunStatus::finished;  // stopped wins; else failed if any
    std::int64_t ran = 0, skipped = 0, failed = 0;
    std::vector<std::int64_t> experiments;  // every experiment this run stored, in order
    std::string errors;                     // one line per cell that did not finish
};

// Into the database of the base parameters (`sweep.base.db`). The observer hears each cell
// begin (on_sweep_cell) and then its experiment as any other.
SweepOutcome run_sweep(const Sweep& sweep, ExperimentObserver* observer,
                       const std::atomic<bool>& stop);

}  // namespace cp::train
