// One experiment, the single entry point shared by the CLI and the GUI: validate every parameter
// before any work, then Phase 1, Phase 2 of Context-Pythia, Phase 2 of Pythia and evaluation,
// each recorded as a run in the SQLite store; progress through an observer; stop by a flag.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "model/inference.h"
#include "train/experiment_params.h"
#include "train/progress.h"

namespace cp::train {

struct ModelSummary {
    std::string model;  // "context-pythia" or "pythia"
    std::int64_t run_id = 0;
    std::string status;   // finished, stopped, diverged, failed
    std::string message;  // why, when not finished
    model::ParameterCounts parameters;
    std::int64_t epochs_run = 0, best_epoch = -1;
    double best_val_ppl = 0, best_val_loss = 0, best_val_accuracy = 0;
    double train_tokens_per_second = 0, seconds_per_epoch = 0;
    double test_ppl = 0, test_accuracy = 0, last_word_accuracy = 0, last_word_ppl = 0;
    std::int64_t last_word_passages = 0;
    double generation_tokens_per_second = 0;
    std::vector<model::KvMeasurement> kv;
    std::string checkpoint;
};

struct ExperimentSummary {
    std::int64_t experiment_id = 0;
    std::string status = "finished";  // finished, stopped, failed, diverged
    std::string device;
    std::optional<std::int64_t> phase1_run_id;
    std::int64_t phase1_iterations = 0;
    double phase1_convergence_rate = 0, phase1_effective_rank = 0;
    bool phase1_converged = false;
    std::vector<ModelSummary> models;
    double wall_seconds = 0;
};

// What the data allows, for messages and the GUI: training tokens and the most samples.
struct DataBudget {
    std::int64_t train_tokens = 0, test_tokens = 0;
    std::int64_t max_samples = 0;  // for the given seq_length
};

class Experiment {
  public:
    // Validates params (throws cp::Error naming each bad field), prepares the token caches and
    // checks that the corpus holds enough text; nothing is written to the database yet.
    explicit Experiment(ExperimentParams params);
    ~Experiment();

    const ExperimentParams& params() const { return params_; }
    const DataBudget& budget() const { return budget_; }

    // Runs everything in order. Safe to call once. Throws cp::Error on failure after marking the
    // current run failed in the store.
    ExperimentSummary run(ExperimentObserver* observer, const std::atomic<bool>& stop);

  private:
    struct Data;
    ExperimentParams params_;
    DataBudget budget_;
    std::unique_ptr<Data> data_;
};

// "cuda" when asked or available (auto), else "cpu"; throws when cuda is asked but absent.
std::string choose_device(const std::string& requested);

}  // namespace cp::train
