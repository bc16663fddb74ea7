// Compressing the cache of a trained model (KV_METHODS.md part B): evaluate a finished run (or
// a checkpoint file, a real Pythia model.safetensors too) under each cache policy by decoding with
// that cache, on exactly the held-out text its own evaluation read; record each result as an
// evaluation run linked to the trained run, so the comparison, the Pareto view and the CSV show
// policies beside the trained designs. The low-rank policy's PCA bases and the K/V anatomy (each
// layer's eigenvalue spectrum of K and of V) come from one calibration pass over training text.
// Torch-free interface: the CLI and the GUI's worker call it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/run_kinds.h"
#include "experiment/cache_eval_params.h"
#include "experiment/progress.h"

namespace cp::train {

struct PolicyOutcome {
    std::int64_t run_id = 0;  // the evaluation run recorded
    std::string policy;       // its text
    store::RunStatus status = store::RunStatus::finished;
    std::string message;
    double test_ppl = 0, continuation_ppl = 0, test_accuracy = 0;
    double last_word_accuracy = 0;
    std::int64_t last_word_passages = 0;
    double kl_to_full = 0, top1_agreement_to_full = 0;  // against the full cache, same tokens
    double scored_kv_bytes_per_token = 0;  // the bytes held while those tokens were scored
    double generation_tokens_per_second = 0;
    std::vector<std::pair<std::int64_t, double>> kv_bytes_per_token;  // (length, bytes/token)
};

// Per layer, the spectrum's spread: largest over median eigenvalue (the seed measured 132x for
// K against 4x for V on a 7B model).
struct AnatomyOutcome {
    std::int64_t run_id = 0;
    std::vector<double> k_spread, v_spread;  // one per layer with a K/V cache
};

struct TrainedOutcome {
    std::int64_t trained_run_id = 0;  // 0 for a checkpoint file
    std::int64_t experiment_id = 0;   // where the evaluation runs were recorded
    std::string what;                 // "run 3 (pythia)", "checkpoint FILE"
    std::vector<PolicyOutcome> policies;
    std::optional<AnatomyOutcome> anatomy;
};

struct CacheEvalSummary {
    std::vector<TrainedOutcome> trained;
    store::RunStatus status = store::RunStatus::finished;  // the first policy that did not finish
    double wall_seconds = 0;
};

class CacheEval {
  public:
    // Checks everything before any work (each policy against each model: a rank above the head
    // width, a group that does not divide the cached width; runs that are not finished Phase 2
    // runs; a checkpoint without --seq-length) and prepares the text; nothing is written yet.
    CacheEval(CacheEvalParams params, const std::atomic<bool>* stop = nullptr);
    ~CacheEval();
    CacheEvalSummary run(ExperimentObserver* observer, const std::atomic<bool>& stop);
    const CacheEvalParams& params() const { return params_; }
    const std::vector<std::string>& warnings() const { return warnings_; }
    struct Target;  // a model to evaluate and its text

  private:
    void add_run_targets(store::RunStore& store, std::vector<std::string>& problems);
    void prepare_texts(store::RunStore* store, const std::atomic<bool>* stop);
    void prepare_checkpoint_text(Target& t, const std::atomic<bool>* stop);
    CacheEvalParams params_;
    std::vector<std::unique_ptr<Target>> targets_;
    // Checkpoints that cannot be verified (recorded before they were hashed): said before work.
    std::vector<std::string> warnings_;
};

// Names of the anatomy's metric series and results, per layer: "k_spectrum_layer_3" (step j =
// the j-th eigenvalue, descending), "k_spread_layer_3".
std::string spectrum_metric(char kv, std::int64_t layer);
std::string spread_result(char kv, std::int64_t layer);

}  // namespace cp::train
