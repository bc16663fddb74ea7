// The K/V anatomy of a trained model (KV_METHODS.md part B), as cache-eval recorded it: per
// layer the eigenvalue spectrum of the cached K and of the cached V over training text, and each
// spectrum's spread (largest / median eigenvalue; the seed measured 132x for K against 4x for V
// on a 7B model). Read from the store, for the CLI's table, the GUI's plot and the CSV.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

struct LayerSpectrum {
    std::int64_t layer = 0;
    std::vector<double> k, v;  // eigenvalues, descending
    double k_spread = 0, v_spread = 0;
};

struct KvAnatomy {
    std::int64_t run_id = 0;          // the anatomy's evaluation run
    std::int64_t trained_run_id = 0;  // the run it describes (0: a checkpoint file)
    model::Design design = model::Design::pythia;
    std::int64_t calibration_tokens = 0;
    std::vector<LayerSpectrum> layers;
};

// The anatomy recorded as run `run_id` (throws naming the way out when that run is none).
KvAnatomy load_anatomy(store::RunStore& store, std::int64_t run_id);
// The latest anatomy of a trained run, or of the runs of an experiment; empty when none.
std::optional<std::int64_t> latest_anatomy_of_run(store::RunStore& store, std::int64_t trained_run);
std::optional<std::int64_t> latest_anatomy_of_experiment(store::RunStore& store,
                                                         std::int64_t experiment_id);

std::string anatomy_text(const KvAnatomy& a);  // layer, K spread, V spread, eigenvalue counts
// layer, index, K eigenvalue, V eigenvalue (one row per index), then the spreads.
void write_anatomy_csv(const KvAnatomy& a, std::ostream& out);

}  // namespace cp::report
