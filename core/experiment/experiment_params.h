// Every parameter of an experiment, with the reference values as defaults — except samples,
// sequence length and epochs, which have none anywhere (the reference found silent defaults
// caused wrong experiments) — and validation that names each bad field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/design.h"
#include "model/model_config.h"
#include "model/model_registry.h"
#include "model/precision.h"

namespace cp::train {

// Where a run trains: auto (a CUDA GPU when this libtorch sees one, else the CPU), the CPU, or
// CUDA (refused before any work when there is none: train::choose_device).
enum class DeviceChoice { automatic, cpu, cuda };
inline const char* device_key(DeviceChoice d) {
    return d == DeviceChoice::cpu ? "cpu" : d == DeviceChoice::cuda ? "cuda" : "auto";
}

struct Phase1Params {
    double centroid_weight = 0.1;  // w in dispersion + w x centroid
    double noise_std = 0.05;       // Gaussian noise on the shifted previous contexts
    double learning_rate = 0.003;  // Adam, one step per iteration
    double clip_grad_norm = 2.0;
    double convergence_threshold = 0.03;  // a token has converged when mean((C - P)^2) < this
    double convergence_target = 0.95;     // stop when this share of tokens has converged
    std::int64_t max_iterations = 100;
    std::int64_t batch_size = 4096;     // tokens per OACD batch (workbench default; reference 5000)
    std::int64_t rank_sample = 10000;   // contexts used for the effective rank
    std::int64_t cosine_sample = 1000;  // contexts used for the mean pairwise cosine
    double init_scale = 0.01;           // iteration 0: P = N(0, 1) x init_scale
};

struct Phase2Params {
    // AdamW; empty: the size preset's (model::training_preset), filled in by with_presets().
    std::optional<double> learning_rate;
    double weight_decay = 0.01;
    std::int64_t batch_size = 32;
    std::int64_t patience = 0;  // epochs without a better validation perplexity before stopping
    double validation_fraction = 0.1;  // the last 10% of chunks validate
    double clip_grad_norm = 0.0;       // 0: off (the reference does not clip in Phase 2)
    std::string resume_from;           // a Phase 2 checkpoint: continue after its epoch
    // Losses are read back to the host every this many steps (0: every step on the CPU, every 25
    // on CUDA, where a read-back waits for the GPU and leaves it idle while the next step is
    // queued). Curves still get one point per step; a NaN is found at the next read-back.
    std::int64_t readback_every = 0;
    // Not a parameter (set by the experiment, never recorded with them): written into every
    // checkpoint's metadata beside the config, e.g. the tokenizer the model was trained with.
    std::map<std::string, std::string> checkpoint_metadata;
};

struct EvalParams {
    std::int64_t max_test_chunks = 256;  // seq_length-token chunks of the held-out documents
    std::int64_t max_last_word_passages = 200;
    // LAMBADA's own passages (lambada_openai JSONL or plain text, one per line) instead of the
    // held-out corpus's: every line evaluated, never trained on. Empty: the corpus's passages.
    std::string lambada_file;
    // Sliding-window perplexity (data::strided_windows) over held-out spans of four windows from
    // each test chunk's start, windows of seq_length tokens moved `stride` at a time; 0: off.
    std::int64_t stride = 0;
    std::vector<std::int64_t> kv_lengths = {128, 512, 2048};
};

// The most seeds one group repeats: each seed is a whole experiment, so more is a typo or a job
// for a sweep (split it into groups).
constexpr std::int64_t kMaxSeeds = 32;

struct ExperimentParams {
    // Required: no defaults.
    std::optional<std::int64_t> samples;     // training + validation chunks
    std::optional<std::int64_t> seq_length;  // tokens per chunk (inputs)
    std::optional<std::int64_t> epochs;      // Phase 2 epochs at most

    std::string name;                              // free text; a default is made from the rest
    model::ModelSize size = model::ModelSize::tiny;  // both models' presets
    std::vector<std::string> corpora = {"brown"};  // names or paths
    std::string tokenizer;                         // empty: the installed GPT-2 tokenizer
    std::uint64_t seed = 0;
    // Repeat the whole experiment with seeds seed, seed + 1, ...: one experiment per seed, kept
    // together as a seed group; every seed trains on the same chunks.
    std::int64_t seeds = 1;
    DeviceChoice device = DeviceChoice::automatic;
    std::int64_t threads = 0;     // torch intra-op threads; 0: torch's choice
    // fp32 | bf16: bf16 runs Phase 2 and evaluation under bf16 autocast (weights and optimizer
    // stay float32; losses in float32). Phase 1 always runs in float32.
    model::Precision precision = model::Precision::fp32;
    // pythia-gqa's K/V heads, shared by its query heads (1: multi-query attention); 0: the
    // preset's (4 of 8 at 70m, 2 of 4 at tiny).
    std::int64_t kv_heads = 0;
    // pythia-mla's cached latent width; 0: the preset's (hidden - rotary dims: 496 at 70m, 60 at
    // tiny, half of Pythia's cache with the shared rotary key).
    std::int64_t kv_latent = 0;
    // context-kv's layer 0: contexts every context_interval positions back, at most max_contexts
    // of them; 0: the preset's (the reference 32 and 32).
    std::int64_t context_interval = 0;
    std::int64_t max_contexts = 0;
    // The context stream's width for every design that has one (Context-Pythia, its
    // untrained-block ablation, projection-256, context-kv) and its Phase 1; 0: the preset's
    // (256 at 70m, 32 at tiny).
    std::int64_t context_dim = 0;
    // Data-parallel runs (torchrun or srun): seconds a rank waits for the others before the
    // job ends with an error naming the silent rank.
    std::int64_t dist_timeout = 120;
    // The designs to train, in this order (KV_METHODS.md part C's default).
    std::vector<model::Design> models = model::default_designs();
    bool ablation_untrained_context_block = false;  // Phase 2 of Context-Pythia without Phase 1
    bool skip_evaluation = false;
    bool phase1_only = false;  // Phase 1 of the ContextBlock and nothing after
    // A finished Phase 1's checkpoint: Context-Pythia's Phase 2 starts from it (frozen
    // ContextBlock) instead of running Phase 1 again. Empty: Phase 1 runs first.
    std::string context_block_from;
    // A pretrained GPT-NeoX checkpoint every design starts from (#27, KV_METHODS.md §E): each
    // design's conversion (model/conversion.h), Phase 1 included where a design has a ContextBlock
    // (it reads the pretrained embedding). Empty: every design from its own initialisation.
    std::string init_from;
    // A stored, finished Phase 1 run (by id): the same, found through the store; 0: none.
    std::int64_t context_block_run = 0;
    // A stored experiment to add the runs to (its non-bookkeeping parameters must equal these);
    // 0: a new experiment.
    std::int64_t experiment = 0;
    // A sweep's cell this experiment is ("<sweep uid>:<cell>"; experiment/sweep.h); empty otherwise.
    std::string sweep_cell;
    std::string db;              // empty: the workbench's default database
    std::string checkpoint_dir;  // empty: the database's own folder, <db>.files

    Phase1Params phase1;
    Phase2Params phase2;
    EvalParams eval;

    struct Problem {
        std::string field, message;
    };
    // Checks that need no data (ranges, required fields); every problem, each naming its field.
    // Single-field rules come from the parameter schema (experiment/param_schema.h).
    std::vector<Problem> problems() const;
    // Throws cp::Error listing problems() when there are any.
    void validate() const;

    // These parameters with every value left to the size preset filled in from it (the tiny
    // presets train at a learning rate that suits them, 70m at the reference's); `filled`, when
    // given, receives "key: value (from the tiny preset)" for each.
    ExperimentParams with_presets(std::vector<std::string>* filled = nullptr) const;

    // The model a design trains as in this experiment: its size preset with this experiment's
    // model parameters (kv_heads, kv_latent, context_interval, max_contexts) applied.
    model::ModelConfig model_config(model::Design design) const;

    // Whether any chosen design trains on a ContextBlock (so Phase 1 or a block source matters).
    bool needs_context_block() const;

    // Both through the parameter schema; from_json refuses unknown choices as the CLI does.
    nlohmann::json to_json() const;
    static ExperimentParams from_json(const nlohmann::json& j);
};

// The default database: $CP_DB, else <XDG data home>/context-pythia/workbench.db.
std::string default_database_path();

}  // namespace cp::train
