// One experiment, the single entry point shared by the CLI and the GUI: validate every parameter
// before any work, then Phase 1, Phase 2 of Context-Pythia, Phase 2 of Pythia and evaluation,
// each recorded as a run in the SQLite store; progress through an observer; stop by a flag.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/experiment_text.h"
#include "data/last_word.h"
#include "data/test_chunks.h"
#include "model/conversion.h"
#include "model/inference.h"
#include "experiment/experiment_params.h"
#include "experiment/plan.h"
#include "experiment/progress.h"

namespace cp::data {
class BpeTokenizer;
}
namespace cp::model {
class CausalLm;
class ContextBlockModel;
struct ModelConfig;
}  // namespace cp::model

namespace cp::train {

struct ModelSummary {
    model::Design model = model::Design::pythia;
    std::int64_t run_id = 0;
    store::RunStatus status = store::RunStatus::finished;
    std::string message;  // why, when not finished
    model::ParameterCounts parameters;
    std::int64_t epochs_run = 0, best_epoch = -1;
    double best_val_ppl = 0, best_val_loss = 0, best_val_accuracy = 0;
    double train_tokens_per_second = 0, seconds_per_epoch = 0;
    double test_ppl = 0, test_accuracy = 0, last_word_accuracy = 0, last_word_ppl = 0;
    std::int64_t last_word_passages = 0;                             // n
    double last_word_accuracy_low = 0, last_word_accuracy_high = 0;  // 95% Wilson interval
    double generation_tokens_per_second = 0;
    // Baselines on the same test targets, smoothed on validation (common/ngram_baselines.h).
    double unigram_test_ppl = 0, bigram_test_ppl = 0, uniform_ppl = 0;
    // Whether the model learned anything beyond token frequencies: its test perplexity is below
    // the unigram baseline of its training tokens (which is below the uniform distribution's).
    bool learned() const { return test_ppl > 0 && test_ppl < unigram_test_ppl; }
    // Learned, but not beyond what the previous token alone tells (not below the bigram).
    bool barely_learned() const { return learned() && !(test_ppl < bigram_test_ppl); }
    std::vector<model::KvMeasurement> kv;
    std::string checkpoint;
};

struct ExperimentSummary {
    std::int64_t experiment_id = 0;
    store::RunStatus status = store::RunStatus::finished;  // the first run that did not finish
    std::string device;
    std::optional<std::int64_t> phase1_run_id;
    std::int64_t phase1_iterations = 0;
    double phase1_convergence_rate = 0;
    double phase1_context_rank = 0, phase1_context_rank_initial = 0;  // before / after Phase 1
    bool phase1_converged = false;
    std::vector<ModelSummary> models;
    double wall_seconds = 0;
};

// What the data allows, for messages and the GUI: training tokens and the most samples.
struct DataBudget {
    std::int64_t train_tokens = 0, test_tokens = 0;
    std::int64_t max_samples = 0;  // for the given seq_length
};

using HeldOutData = data::HeldOutData;  // data/experiment_text.h

// The text an experiment with `p` reads: its corpora, its length, its evaluation's passages.
data::TextSpec text_spec_of(const ExperimentParams& p);

// Data preparation saw the stop flag: nothing was run or stored.
class ProcessGroup;  // train/distributed.h

struct StoppedBeforeStart : Error {
    StoppedBeforeStart() : Error("stopped before the experiment started: nothing was stored") {}
};

class Experiment {
  public:
    // Validates params (throws cp::Error naming each bad field), prepares the token caches and
    // checks that the corpus holds enough text; nothing is written to the database yet. The
    // stop flag is read between the preparation's stages (StoppedBeforeStart).
    explicit Experiment(ExperimentParams params, LaunchMode mode = LaunchMode::full_comparison,
                        const std::atomic<bool>* stop = nullptr);
    ~Experiment();

    const ExperimentParams& params() const { return params_; }
    const DataBudget& budget() const { return budget_; }
    // The text its evaluation reads and its training chunks' tokens.
    HeldOutData held_out_data() const;
    LaunchMode mode() const { return mode_; }

    // Runs everything in order. Throws cp::Error on failure after marking the current run failed
    // in the store.
    ExperimentSummary run(ExperimentObserver* observer, const std::atomic<bool>& stop);
    // Makes the next run() one member of a seed group: the same data and parameters under
    // another seed, recorded as a new experiment carrying the group's uid (train/seed_group.h).
    void become_group_member(const std::string& group_uid, std::uint64_t seed);
    // Trains as one rank of `group` (data parallel; null: one process): Phase 1 and Phase 2 sum
    // over its ranks, and a CUDA rank trains on its node's GPU LOCAL_RANK. Not owned.
    void train_in(ProcessGroup* group) { group_ = group; }

  private:
    struct Data;
    struct Execution;
    void choose_diversity_sample(data::BpeTokenizer& tokenizer);
    void check_budget();
    void check_plan();
    void check_init_from() const;
    void check_files_folder(const std::string& db) const;
    // "tiny 2000x64 seed 0", or the user's name (with its seed in a group).
    std::string experiment_name() const;
    // The parameters as stored: with the tokenizer, the device, preset values, reference notes,
    // and the reproducibility stamp (what ran it, on what, on which data, and the command).
    nlohmann::json record(const std::string& device) const;
    nlohmann::json stamp(const std::string& device) const;
    void make_tensors(Execution& x);
    // Held-out chunks evaluated: at most eval.max_test_chunks, as many as the text holds; drawn
    // evenly across the held-out stream (data/experiment_text.h).
    data::TestChunkChoice test_chunk_choice() const;
    // Each corpus read: its name as given, where it was read from, the npm data package it came
    // in and the token cache file that holds its ids (the stamp's data).
    nlohmann::json corpora_read() const;
    void run_step(const PlanStep& step, Execution& x);
    void run_phase1_step(const PlanStep& step, Execution& x);
    void run_phase2_step(const PlanStep& step, Execution& x);
    void run_pretrained_step(const PlanStep& step, Execution& x);
    std::optional<std::int64_t> load_block(const PlanStep& step, model::CausalLm& net,
                                           Execution& x);
    // From init_from (#27): the design's conversion applied to `net`, nothing without one; its
    // run label and its record (a file in the run's folder, parameter counts as results).
    std::optional<model::ConversionRecord> initialise(model::CausalLm& net,
                                                      model::Design design) const;
    static std::string init_label(const model::ConversionRecord& r);
    void record_init(const model::ConversionRecord& r, model::Design design,
                     const std::string& suffix, RunLogger& log, Execution& x);
    void evaluate_step(const PlanStep& step, model::CausalLm& net, Execution& x, ModelSummary& s,
                       RunLogger& log);
    void record_baselines(std::int64_t vocab, Execution& x, ModelSummary& s, RunLogger& log);
    // Context vectors of held-out text for the workbench's diversity view, beside the checkpoint.
    void save_diversity(model::ContextBlockModel& net, const std::string& checkpoint,
                        const std::string& stage);

    ExperimentParams params_;
    // The parameters as given, before the size presets filled anything in: what the stamp's
    // command reproduces (a seed group's command, with its first seed).
    ExperimentParams given_;
    std::string group_uid_;  // empty: an experiment on its own
    ProcessGroup* group_ = nullptr;
    std::vector<std::string> preset_values_;  // "key: value (from the tiny preset: ...)"
    LaunchMode mode_;
    DataBudget budget_;
    std::unique_ptr<Data> data_;
};

// The libtorch this build runs ("1.13.1"), for the About box and the stamp.
std::string libtorch_version();

// "cuda" when asked or available (auto), else "cpu"; throws when cuda is asked but absent.
std::string choose_device(DeviceChoice requested);

}  // namespace cp::train
