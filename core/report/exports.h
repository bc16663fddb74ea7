// The store's contents as tables: run listings with their key results, a run's metric series in
// long format, and a sweep summary with one row per experiment x model. CLI and GUI share them.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

struct RunListing {
    store::RunRow run;
    std::string experiment_name;
    std::map<std::string, double> results;
};

// Every run, oldest first, with its results; a fixed number of queries however many runs.
std::vector<RunListing> list_runs(store::RunStore& store);
nlohmann::json run_listing_json(const RunListing& r);
std::string runs_text(const std::vector<RunListing>& runs);

// Long format: experiment, run, model, phase, name, step, epoch, value, wall_time; epoch is
// empty for points that are not per epoch. Returns the number of points written.
std::int64_t write_metrics_csv(store::RunStore& store, std::int64_t run_id, std::ostream& out);

// One row per experiment x model (its latest Phase 2 run, or its Phase 1 run when it has no
// Phase 2), the experiment's parameters as columns, then the key results.
// With `sweep_uid`, only that sweep's cells (experiments whose sweep_cell names it).
void write_sweep_summary_csv(store::RunStore& store, std::ostream& out,
                             const std::string& sweep_uid = "");

}  // namespace cp::report
