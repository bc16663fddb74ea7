// A sweep as one table (experiment/sweep.h): each cell's experiment (the latest that completed) and
// each of its designs, the parameters that vary across the cells as columns, then the key
// results; and the same rows as points on the Pareto plane (measured KV bytes per token against
// test perplexity), grouped by a chosen parameter. Read from the store alone, for the GUI's
// sweep view.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/design.h"
#include "store/run_store.h"

namespace cp::report {

struct SweepListing {
    std::string uid, name;
    std::int64_t cells = 0;  // cells with an experiment in this database
};
// The sweeps the database holds cells of, in the order they were first recorded.
std::vector<SweepListing> list_sweeps(store::RunStore& store);

// Each cell's experiment (cell index -> experiment id): the latest whose runs all completed, so a
// retried cell's failed attempts stay out, else the latest.
std::map<std::int64_t, std::int64_t> chosen_cell_experiments(store::RunStore& store,
                                                             const std::string& uid);

struct SweepRow {
    std::int64_t cell = 0, experiment = 0, run = 0;
    std::map<std::string, std::string> values;  // the varying parameters, as typed
    model::Design design = model::Design::pythia;
    std::string status;
    std::optional<double> best_val_ppl, test_ppl, last_word_accuracy, kv_bytes_per_token,
        parameters, tokens_trained;
};

struct SweepSummary {
    std::string uid, name;
    std::vector<std::string> varying;  // parameter keys that differ between cells
    std::int64_t kv_length = 0;        // the cache length of kv_bytes_per_token (the longest all measured)
    std::vector<SweepRow> rows;
};

// Throws naming the way out when the database holds no cell of the sweep.
SweepSummary sweep_summary(store::RunStore& store, const std::string& uid);
std::vector<std::vector<std::string>> sweep_table_cells(const SweepSummary& s);

// Tuning on validation only (#26): for each design, the cell whose run reached the lowest best
// validation perplexity; its test numbers are the only ones reported, so no test number chooses
// a value. Throws naming the way out when the sweep varies nothing (nothing to select) or no run
// of a design has a validation perplexity.
struct SweepSelection {
    std::vector<std::string> varying;  // what was selected among
    std::vector<SweepRow> chosen;      // one per design, in the order designs first appear
    std::vector<std::int64_t> candidates;  // cells each design was chosen among (rows with val)
};
SweepSelection select_on_validation(const SweepSummary& s);
// design, the chosen value of each varying parameter, best validation perplexity, then the
// chosen run's test perplexity and last-word accuracy.
std::vector<std::vector<std::string>> selection_table_cells(const SweepSelection& s);

}  // namespace cp::report
