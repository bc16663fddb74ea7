// Which stored things the workbench shows first: decisions made here, in core, where a test can
// check them, rather than in the widgets.
#pragma once

#include <optional>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

// The experiment to show on start-up and in screenshots: the latest one with at least two
// Phase 2 runs (a comparison), else the latest experiment; empty for an empty database.
std::optional<std::int64_t> showcase_experiment(store::RunStore& store);

// The latest run that has context vectors to show (a Phase 1, or a Phase 2 of a design that
// trains on a ContextBlock) with a checkpoint; empty when there is none.
std::optional<std::int64_t> latest_diversity_run(store::RunStore& store);

// The trained run most recently evaluated under a cache policy (what the Cache compression view
// shows first); empty when none was.
std::optional<std::int64_t> latest_compressed_run(store::RunStore& store);

// The runs of an experiment whose curves the live plots show: the ones that trained (Phase 1,
// each Phase 2), not the evaluations recorded against them (cache policies, K/V anatomy), which
// have views of their own.
std::vector<store::RunRow> trained_runs(store::RunStore& store, std::int64_t experiment_id);

}  // namespace cp::report
