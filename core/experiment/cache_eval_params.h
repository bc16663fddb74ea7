// What a cache evaluation is asked to do (train/cache_eval.h runs it), torch-free so that the
// CLI and the GUI check a request, and each policy against the model it will compress, before
// any work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/cache_policy.h"
#include "model/design.h"
#include "store/run_store.h"
#include "experiment/experiment_params.h"
#include "experiment/param_schema.h"

namespace cp::train {

struct CacheEvalParams {
    std::string db;                   // empty: the workbench's default database
    std::vector<std::int64_t> runs;   // finished Phase 2 runs of the store to evaluate
    std::string checkpoint;           // or a checkpoint file (ours, or Hugging Face GPT-NeoX)
    // The tokenizer of a checkpoint's ids; empty: model::checkpoint_tokenizer's choice.
    std::string tokenizer;
    std::optional<std::int64_t> seq_length;  // required with a checkpoint: the test chunks' length
    std::vector<std::string> corpora = {"brown"};  // a checkpoint's text (a run reads its own)
    std::vector<model::CachePolicy> policies;
    // Every policy but full evaluated at each of these fractions of the full cache's scored bytes
    // instead of its own knobs (--budgets 0.5,0.25,0.125): each policy a curve on the plane.
    std::vector<double> budgets;
    // Training tokens the calibration reads: lowrank's PCA bases and the K/V anatomy.
    std::int64_t calibration_tokens = 16384;
    // How each held-out chunk (and each last-word passage) is fed: `prefill_chunk` tokens per
    // step from the first, each step attending to the compressed cache of the ones before, so
    // every scored token is predicted under the policy (1: token by token, the default).
    // `prefill` > 0 is the labelled "uncompressed prompt" mode of the papers: that many tokens
    // at once first (they attend to each other uncompressed), the rest token by token; -1: half
    // the chunk. 0: none (the default).
    std::int64_t prefill_chunk = 1;
    std::int64_t prefill = 0;
    std::int64_t max_test_chunks = 0;         // 0: the run's own evaluation's
    std::int64_t max_last_word_passages = 0;  // 0: the run's own evaluation's
    std::vector<std::int64_t> kv_lengths;     // empty: the run's own evaluation's
    std::int64_t batch = 16;                  // held-out chunks decoded side by side
    bool anatomy = true;                      // record the K/V spectra
    DeviceChoice device = DeviceChoice::automatic;
    std::int64_t threads = 0;

    // Every problem of these parameters alone (no model, no store), each naming the option.
    std::vector<std::string> problems() const;
};

// cache-eval's parameter schema: its options, their help and defaults, read with the same entry
// makers as the experiment's (experiment/param_builders.h); the checks are problems()'.
const std::vector<BasicParamSpec<CacheEvalParams>>& cache_eval_schema();

// The policies of one line of parameter sets, "rank=8,target=k; rank=8,target=v" for `kind`
// (the GUI's field per policy): one policy each, parsed as "kind:params". Throws cp::Error as
// parse_policy does.
// "0.5, 0.25": the budgets as fractions (empty text: none); throws cp::Error naming a part that
// is not a number. Their range is checked by CacheEvalParams::problems().
std::vector<double> parse_budgets(const std::string& text);

std::vector<model::CachePolicy> parse_policy_sets(model::PolicyKind kind, const std::string& sets);

// Parameters that suit held-out chunks of `seq_length` tokens, for a form to start from: the
// evicting policies keep about half the chunk (so they evict within it), low rank half a head of
// the tiny presets; the rest their defaults (KV_METHODS.md).
std::string suggested_parameters(model::PolicyKind kind, std::int64_t seq_length);

// Whether cache-eval can evaluate a stored run: a finished Phase 2 run (its best checkpoint). The
// one rule for the CLI's refusal and the workbench's list of runs to choose from.
bool cache_eval_reads(const store::RunRow& run);

// Each policy's problems for the model `design` trains as in an experiment with `params` (a rank
// above its head width, a group that does not divide its cached width); empty when they fit.
std::vector<std::string> policy_problems(const ExperimentParams& params, model::Design design,
                                         const std::vector<model::CachePolicy>& policies);

}  // namespace cp::train
