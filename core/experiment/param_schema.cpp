#include "experiment/param_schema.h"
#include "experiment/param_builders.h"

#include <filesystem>

#include <cmath>
#include <limits>
#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "common/numbers.h"
#include "common/text.h"
#include "data/data_paths.h"
#include "model/checkpoint_summary.h"
#include "model/checkpoint_tokenizer.h"
#include "model/design.h"
#include "model/model_registry.h"

namespace cp::train {
using nlohmann::json;
using P = ExperimentParams;

const char* group_title(ParamGroup g) {
    switch (g) {
        case ParamGroup::required:
            return "Experiment (required)";
        case ParamGroup::run:
            return "Run";
        case ParamGroup::phase1:
            return "Phase 1 (OACD)";
        case ParamGroup::phase2:
            return "Phase 2 (language model)";
        case ParamGroup::evaluation:
            return "Evaluation";
        case ParamGroup::storage:
            return "Storage";
    }
    return "?";
}

namespace {

using B = ParamBuilder<P>;
template <typename T>
using Ref = B::Ref<T>;
using Check = B::Check;

std::string number_text(double v) { return short_number(v); }

ParamSpec models_param() {
    ParamSpec m = B::base("models", "models", ParamType::design_list, "", "", ParamGroup::run);
    m.value_name = "DESIGN,...";
    m.help = "the designs to train (" + model::design_keys_text() +
             "; 'all': every design and the untrained-block ablation)";
    m.get = [](const P& p) {
        json a = json::array();
        for (model::Design d : p.models) a.push_back(model::design_key(d));
        return a;
    };
    m.set = [](P& p, const json& v) {
        // Older records store one word: both, pythia or context-pythia.
        std::vector<std::string> keys;
        if (v.is_string())
            keys = split_skipping_empty(v.get<std::string>(), ',');
        else if (v.is_array())
            for (const json& k : v) keys.push_back(text_value(k, "models"));
        else
            throw Error("experiment parameters: models must be a list of designs");
        std::vector<model::Design> designs;
        for (const std::string& k : keys) {
            if (k == "all") {  // every design, the untrained-block ablation beside Context-Pythia
                designs = model::every_design();
                break;
            }
            if (k == "below-half") {  // every design's quarter and eighth, with the families
                for (model::Design d : model::below_half_designs()) {
                    const model::Design f = model::design_family(d);
                    for (model::Design x : {f, d})
                        if (std::find(designs.begin(), designs.end(), x) == designs.end())
                            designs.push_back(x);
                }
                continue;
            }
            if (k == "both") {  // older records: the two models there were then
                designs = {model::Design::context_pythia, model::Design::pythia};
                break;
            }
            const auto d = model::design_from_key(k);
            if (!d)
                throw Error("models: unknown design '" + k + "' (" + model::design_keys_text() +
                            ", all, or below-half)");
            bool seen = false;
            for (model::Design e : designs) seen = seen || e == *d;
            if (!seen) designs.push_back(*d);
        }
        p.models = designs;
    };
    m.check = [](const P& p) -> std::string {
        return p.models.empty() ? "models: choose at least one design" : "";
    };
    m.in_gui = false;  // the launch panel's own controls
    return m;
}

ParamSpec corpora_param() {
    ParamSpec c = B::base("corpora", "corpus", ParamType::text_list, "NAME|PATH",
                       "brown, nlp, or your own text", ParamGroup::run);
    c.choices = {"brown", "nlp", "brown,nlp"};  // what the GUI offers; a path is valid too
    c.get = [](const P& p) { return json(p.corpora); };
    c.set = [](P& p, const json& v) {
        if (v.is_string()) {
            p.corpora = split_skipping_empty(v.get<std::string>(), ',');
            return;
        }
        std::vector<std::string> list;
        if (!v.is_array()) throw Error("experiment parameters: corpora must be a list");
        for (const json& x : v) list.push_back(text_value(x, "corpora"));
        p.corpora = list;
    };
    c.check = [](const P& p) -> std::string {
        return p.corpora.empty() ? "at least one corpus is needed" : "";
    };
    return c;
}

ParamSpec seed_param() {
    ParamSpec seed = B::base("seed", "seed", ParamType::seed, "S",
                          "seed of initialisation, noise and shuffling", ParamGroup::run);
    seed.get = [](const P& p) { return json(p.seed); };
    seed.set = [](P& p, const json& v) {
        const std::int64_t x = whole_number(v, "seed");
        if (x < 0) throw Error("experiment parameters: seed must be zero or positive");
        p.seed = static_cast<std::uint64_t>(x);
    };
    return seed;
}

// Repeats and the comparators' own model parameters.
void add_seeds_and_model_parameters(std::vector<ParamSpec>& s) {
    s.push_back(B::integer(
        "seeds", "seeds", "N",
        "repeat the whole experiment with seeds S, S+1, ..., S+N-1 as one group (every seed "
        "trains on the same chunks); the comparison reports mean, sd and 95% t-intervals",
        ParamGroup::run, [](P & p) -> auto& { return p.seeds; }, [](const P& p) -> std::string {
            if (p.seeds < 1)
                return "seeds must be at least 1 (got " + std::to_string(p.seeds) +
                       "): the number of times the experiment is repeated";
            if (p.seeds > kMaxSeeds)
                return "seeds " + std::to_string(p.seeds) + " is more than " +
                       std::to_string(kMaxSeeds) +
                       " (each seed is a whole experiment): split it into groups with --seed";
            return "";
        }));
    s.push_back(B::integer(
        "kv_heads", "kv-heads", "N",
        "pythia-gqa: K/V heads shared by the query heads, 1 = multi-query (0: the preset's, 4 "
        "at 70m, 2 at tiny)",
        ParamGroup::run, [](P & p) -> auto& { return p.kv_heads; },
        B::non_negative_integer([](P & p) -> auto& { return p.kv_heads; }, "kv_heads",
                             "the preset's")));
    s.push_back(B::integer(
        "kv_latent", "kv-latent", "N",
        "pythia-mla: width of the cached latent (0: the preset's, 496 at 70m, 60 at tiny: half "
        "of Pythia's cache with the shared rotary key)",
        ParamGroup::run, [](P & p) -> auto& { return p.kv_latent; },
        B::non_negative_integer([](P & p) -> auto& { return p.kv_latent; }, "kv_latent",
                             "the preset's")));
    s.push_back(B::integer(
        "context_interval", "context-interval", "N",
        "context-kv: layer 0 reads the contexts every N positions back (0: the preset's: the "
        "reference 32 at 70m, seq-length / 8 at tiny)",
        ParamGroup::run, [](P & p) -> auto& { return p.context_interval; },
        B::non_negative_integer([](P & p) -> auto& { return p.context_interval; },
                             "context_interval", "the preset's")));
    s.push_back(B::integer(
        "context_dim", "context-dim", "N",
        "width of the context stream of Context-Pythia, projection-256, context-kv and their "
        "Phase 1 (0: the preset's, 256 at 70m, 32 at tiny)",
        ParamGroup::run, [](P & p) -> auto& { return p.context_dim; },
        B::non_negative_integer([](P & p) -> auto& { return p.context_dim; }, "context_dim",
                             "the preset's")));
    s.push_back(B::integer(
        "max_contexts", "max-contexts", "N",
        "context-kv: the most contexts layer 0 reads (0: the preset's, the reference 32)",
        ParamGroup::run, [](P & p) -> auto& { return p.max_contexts; },
        B::non_negative_integer([](P & p) -> auto& { return p.max_contexts; }, "max_contexts",
                             "the preset's")));
}

void add_required_and_run(std::vector<ParamSpec>& s) {
    // ---- required: no default anywhere ----
    s.push_back(B::required_integer(
        "samples", "samples", "training + validation chunks of seq-length + 1 tokens",
        [](P & p) -> auto& { return p.samples; }));
    s.push_back(B::required_integer(
        "seq_length", "seq-length", "tokens per chunk",
        [](P & p) -> auto& { return p.seq_length; }));
    s.back().unit = "tokens";
    s.push_back(B::required_integer(
        "epochs", "epochs", "Phase 2 epochs at most", [](P & p) -> auto& { return p.epochs; }));
    // ---- run ----
    s.push_back(B::enum_choice("size", "size", "every design's preset widths", ParamGroup::run,
                               [](P & p) -> auto& { return p.size; }, size_keys()));
    s.push_back(models_param());
    s.push_back(corpora_param());
    s.push_back(seed_param());
    add_seeds_and_model_parameters(s);
    s.push_back(B::text(
        "name", "name", "TEXT", "experiment name (default: size, samples x length, seed)",
        ParamGroup::run, [](P & p) -> auto& { return p.name; }));
    s.push_back(B::enum_choice("device", "device", "where to train (auto: CUDA when available)",
                               ParamGroup::run, [](P & p) -> auto& { return p.device; },
                               device_keys()));
    s.push_back(B::enum_choice(
        "precision", "precision", "bf16: Phase 2 and evaluation under bf16 autocast, weights fp32",
        ParamGroup::run, [](P & p) -> auto& { return p.precision; }, precision_keys()));
    s.push_back(B::integer(
        "threads", "threads", "N", "torch CPU threads (0: torch's choice)", ParamGroup::run,
        [](P & p) -> auto& { return p.threads; },
        B::non_negative_integer(
            [](P & p) -> auto& { return p.threads; }, "threads", "torch's choice")));
    s.push_back(B::text("sweep_cell", "sweep-cell", "UID:CELL",
                     "the sweep cell this experiment is (set by 'context-pythia sweep')",
                     ParamGroup::run, [](P & p) -> auto& { return p.sweep_cell; }));
    s.back().in_gui = false;
    s.push_back(B::integer(
        "dist_timeout", "dist-timeout", "S",
        "data-parallel runs (torchrun, srun): seconds a rank waits for the others before the job "
        "ends, naming the rank that stopped",
        ParamGroup::run, [](P & p) -> auto& { return p.dist_timeout; },
        [](const P& p) -> std::string {
            return p.dist_timeout < 5 ? "dist_timeout must be at least 5 seconds (got " +
                                            std::to_string(p.dist_timeout) + ")"
                                      : "";
        }));
    s.back().in_gui = false;
    s.push_back(B::text(
        "tokenizer", "tokenizer", "PATH",
        "tokenizer folder or tokenizer.json (empty: the installed GPT-2)", ParamGroup::run,
        [](P & p) -> auto& { return p.tokenizer; }));
    s.back().in_gui = false;
}

// Which steps run and where a Phase 2's ContextBlock comes from (bookkeeping: not part of what
// is trained on what).
void add_step_choices(std::vector<ParamSpec>& s) {
    s.push_back(B::flag(
        "ablation_untrained_context_block", "ablation-untrained-context-block",
        "ablation: Phase 2 of a ContextBlock design without Phase 1 (labelled)", ParamGroup::run,
        [](P & p) -> auto& { return p.ablation_untrained_context_block; }));
    s.back().in_gui = false;
    s.push_back(B::flag(
        "skip_evaluation", "skip-evaluation", "train only", ParamGroup::run,
        [](P & p) -> auto& { return p.skip_evaluation; }));
    s.back().in_gui = false;
    s.push_back(B::flag(
        "phase1_only", "phase1-only", "Phase 1 of the ContextBlock only", ParamGroup::run,
        [](P & p) -> auto& { return p.phase1_only; }));
    s.back().in_gui = false;
    s.push_back(B::text(
        "context_block_from", "context-block-from", "FILE",
        "Phase 2 on the ContextBlock of this Phase 1 checkpoint", ParamGroup::run,
        [](P & p) -> auto& { return p.context_block_from; }));
    s.back().in_gui = false;
    s.push_back(B::text(
        "init_from", "init-from", "CHECKPOINT",
        "start every design from this pretrained GPT-NeoX checkpoint (Hugging Face's "
        "model.safetensors or a workbench Pythia): each design's conversion, as 'convert' writes "
        "it; empty: from the design's own initialisation",
        ParamGroup::run, [](P & p) -> auto& { return p.init_from; }));
    s.back().is_file = true;
    s.back().describe = [](const std::string& path) { return model::checkpoint_summary(path); };
    s.back().check = [](const P& p) -> std::string {
        if (p.init_from.empty()) return "";
        if (!std::filesystem::is_regular_file(p.init_from))
            return "init_from '" + p.init_from + "' is not a file (give a model.safetensors)";
        // Its ids are its own tokenizer's: the experiment must read the text with that one.
        try {
            const std::filesystem::path wanted = model::checkpoint_tokenizer(p.init_from, "");
            const std::filesystem::path used =
                p.tokenizer.empty() ? data::default_tokenizer_path() : std::filesystem::path(p.tokenizer);
            std::error_code ec;
            if (!std::filesystem::equivalent(wanted, used, ec))
                return "init_from '" + p.init_from + "' reads its text with " + wanted.string() +
                       ", this experiment with " + used.string() + ": give --tokenizer " +
                       wanted.string();
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    s.push_back(B::integer(
        "context_block_run", "context-block-run", "ID",
        "Phase 2 on the ContextBlock of this stored Phase 1 run (0: none)", ParamGroup::run,
        [](P & p) -> auto& { return p.context_block_run; },
        B::non_negative_integer(
            [](P & p) -> auto& { return p.context_block_run; }, "context_block_run", "none")));
    s.back().in_gui = false;
}

void add_phase1(std::vector<ParamSpec>& s) {
    s.push_back(B::real(
        "phase1.centroid_weight", "p1-centroid-weight", "W", "OACD centroid weight",
        ParamGroup::phase1, [](P & p) -> auto& { return p.phase1.centroid_weight; },
        RealRule::non_negative));
    s.push_back(B::real(
        "phase1.noise_std", "p1-noise", "S", "context noise std", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.noise_std; }, RealRule::non_negative));
    s.push_back(B::real(
        "phase1.learning_rate", "p1-lr", "LR", "Phase 1 Adam learning rate", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.learning_rate; }, RealRule::positive, true));
    s.push_back(B::real(
        "phase1.clip_grad_norm", "p1-clip", "C", "Phase 1 gradient-norm clip", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.clip_grad_norm; }, RealRule::non_negative));
    s.push_back(B::real(
        "phase1.convergence_threshold", "p1-convergence-threshold", "T",
        "per-token mean squared change that counts as converged", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.convergence_threshold; }, RealRule::positive));
    s.push_back(B::real(
        "phase1.convergence_target", "p1-convergence-target", "F",
        "stop when this share of tokens has converged", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.convergence_target; }, RealRule::fraction_half_open));
    s.push_back(B::integer(
        "phase1.max_iterations", "p1-max-iterations", "N", "Phase 1 iterations at most",
        ParamGroup::phase1, [](P & p) -> auto& { return p.phase1.max_iterations; },
        B::positive_integer(
            [](P & p) -> auto& { return p.phase1.max_iterations; }, "phase1.max_iterations")));
    s.push_back(B::integer(
        "phase1.batch_size", "p1-batch-size", "N", "tokens per OACD batch", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.batch_size; },
        B::positive_integer(
            [](P & p) -> auto& { return p.phase1.batch_size; }, "phase1.batch_size")));
    s.back().unit = "tokens";
    s.back().reference_note = "workbench default; reference: 5000";
    s.push_back(B::integer(
        "phase1.rank_sample", "p1-rank-sample", "N", "contexts used for the effective rank",
        ParamGroup::phase1, [](P & p) -> auto& { return p.phase1.rank_sample; },
        B::positive_integer(
            [](P & p) -> auto& { return p.phase1.rank_sample; }, "phase1.rank_sample")));
    s.push_back(B::integer(
        "phase1.cosine_sample", "p1-cosine-sample", "N",
        "contexts used for the mean pairwise cosine", ParamGroup::phase1,
        [](P & p) -> auto& { return p.phase1.cosine_sample; },
        [](const P& p) -> std::string {
            return p.phase1.cosine_sample >= 2 ? "" : "phase1.cosine_sample must be at least 2";
        }));
    s.push_back(B::real(
        "phase1.init_scale", "p1-init-scale", "S", "iteration 0: previous contexts N(0, 1) x this",
        ParamGroup::phase1, [](P & p) -> auto& { return p.phase1.init_scale; },
        RealRule::positive));
}

void add_phase2(std::vector<ParamSpec>& s) {
    s.push_back(B::preset_real(
        "phase2.learning_rate", "lr", "LR",
        "Phase 2 AdamW learning rate (default: the size preset's, tiny 3e-3, 70m 1e-4)",
        ParamGroup::phase2, [](P & p) -> auto& { return p.phase2.learning_rate; },
        RealRule::positive));
    s.back().reference_note = "reference: 1e-4";
    s.push_back(B::real(
        "phase2.weight_decay", "weight-decay", "WD", "Phase 2 AdamW weight decay",
        ParamGroup::phase2, [](P & p) -> auto& { return p.phase2.weight_decay; },
        RealRule::non_negative));
    s.push_back(B::integer(
        "phase2.batch_size", "batch-size", "B", "Phase 2 batch size", ParamGroup::phase2,
        [](P & p) -> auto& { return p.phase2.batch_size; },
        B::positive_integer(
            [](P & p) -> auto& { return p.phase2.batch_size; }, "phase2.batch_size")));
    s.back().unit = "chunks";
    s.push_back(B::integer(
        "phase2.patience", "patience", "P",
        "epochs without a better validation perplexity before stopping", ParamGroup::phase2,
        [](P & p) -> auto& { return p.phase2.patience; },
        B::non_negative_integer(
            [](P & p) -> auto& { return p.phase2.patience; }, "phase2.patience")));
    s.push_back(B::real(
        "phase2.validation_fraction", "val-fraction", "F", "share of chunks that validate",
        ParamGroup::phase2, [](P & p) -> auto& { return p.phase2.validation_fraction; },
        RealRule::fraction_open));
    s.push_back(B::real(
        "phase2.clip_grad_norm", "clip-grad-norm", "C", "Phase 2 gradient-norm clip, 0 = off",
        ParamGroup::phase2, [](P & p) -> auto& { return p.phase2.clip_grad_norm; },
        RealRule::non_negative));
    s.push_back(B::integer(
        "phase2.readback_every", "readback-every", "N",
        "read losses back every N steps (0: 1 on CPU, 25 on CUDA)", ParamGroup::phase2,
        [](P & p) -> auto& { return p.phase2.readback_every; },
        B::non_negative_integer(
            [](P & p) -> auto& { return p.phase2.readback_every; }, "readback_every",
            "automatic")));
    s.push_back(B::text(
        "phase2.resume_from", "resume-from", "FILE",
        "continue one model's Phase 2 from its checkpoint (with --models)", ParamGroup::phase2,
        [](P & p) -> auto& { return p.phase2.resume_from; }));
    s.back().in_gui = false;
}

void add_evaluation(std::vector<ParamSpec>& s) {
    s.push_back(B::integer(
        "eval.max_test_chunks", "eval-test-chunks", "N", "held-out chunks evaluated at most",
        ParamGroup::evaluation, [](P & p) -> auto& { return p.eval.max_test_chunks; },
        B::positive_integer(
            [](P & p) -> auto& { return p.eval.max_test_chunks; }, "eval.max_test_chunks")));
    s.push_back(B::integer(
        "eval.max_last_word_passages", "eval-last-word-passages", "N", "last-word passages at most",
        ParamGroup::evaluation, [](P & p) -> auto& { return p.eval.max_last_word_passages; },
        B::non_negative_integer(
            [](P & p) -> auto& { return p.eval.max_last_word_passages; },
            "eval.max_last_word_passages")));
    s.back().legacy_key = "eval.max_lambada_passages";  // records before #29
    s.push_back(B::integer(
        "eval.stride", "eval-stride", "S",
        "also a sliding-window test perplexity: windows of seq-length tokens moved S at a time over "
        "held-out spans of four windows, every token scored once with up to seq-length - 1 tokens "
        "of context (Hugging Face's perplexity guide); 0: off",
        ParamGroup::evaluation, [](P & p) -> auto& { return p.eval.stride; },
        B::non_negative_integer([](P & p) -> auto& { return p.eval.stride; }, "eval.stride")));
    s.back().zero_when_typed = "leave --eval-stride out for no sliding-window perplexity";
    s.back().check = [](const P& p) -> std::string {
        if (p.eval.stride < 0) return "eval.stride must be 0 (off) or positive";
        if (p.eval.stride > 0 && p.seq_length && p.eval.stride > *p.seq_length)
            return "eval.stride " + std::to_string(p.eval.stride) + " is above the sequence length " +
                   std::to_string(*p.seq_length) +
                   ": windows would skip tokens (give at most --seq-length)";
        return "";
    };
    s.push_back(B::text("eval.lambada_file", "lambada", "FILE",
                     "last-word passages from a LAMBADA file (lambada_openai JSONL or one passage "
                     "per line), every line, instead of the held-out corpus's",
                     ParamGroup::evaluation, [](P & p) -> auto& { return p.eval.lambada_file; }));
    s.back().is_file = true;
    s.back().check = [](const P& p) -> std::string {
        if (p.eval.lambada_file.empty() || std::filesystem::is_regular_file(p.eval.lambada_file))
            return "";
        return "the LAMBADA file '" + p.eval.lambada_file + "' does not exist (check --lambada)";
    };
    {
        ParamSpec k =
            B::base("eval.kv_lengths", "eval-kv-lengths", ParamType::integer_list, "L1,L2,...",
                 "cache lengths at which KV bytes are measured", ParamGroup::evaluation);
        k.unit = "tokens";
        k.get = [](const P& p) { return json(p.eval.kv_lengths); };
        k.set = [](P& p, const json& v) {
            if (!v.is_array()) throw Error("experiment parameters: eval.kv_lengths must be a list");
            p.eval.kv_lengths.clear();
            for (const json& x : v) p.eval.kv_lengths.push_back(whole_number(x, "kv_lengths"));
        };
        k.check = [](const P& p) -> std::string {
            const auto& l = p.eval.kv_lengths;
            for (std::size_t i = 0; i < l.size(); ++i)
                if (l[i] <= 0 || (i > 0 && l[i] <= l[i - 1]))
                    return "eval.kv_lengths must be positive and ascending";
            return "";
        };
        s.push_back(k);
    }
}

void add_storage(std::vector<ParamSpec>& s) {
    s.push_back(B::text(
        "db", "db", "FILE", "database (default: $CP_DB or the workbench's)", ParamGroup::storage,
        [](P & p) -> auto& { return p.db; }));
    s.back().in_gui = false;
    s.push_back(B::text(
        "checkpoint_dir", "checkpoint-dir", "DIR",
        "where runs' checkpoints go, a folder per run (default: the database's own, FILE.files)",
        ParamGroup::storage, [](P & p) -> auto& { return p.checkpoint_dir; }));
    s.back().in_gui = false;
    s.push_back(B::integer(
        "experiment", "experiment", "ID",
        "add the runs to this stored experiment (its parameters must match) "
        "instead of a new one (0: new)",
        ParamGroup::storage, [](P & p) -> auto& { return p.experiment; },
        B::non_negative_integer(
            [](P & p) -> auto& { return p.experiment; }, "experiment", "a new one")));
    s.back().in_gui = false;
}

void mark_bookkeeping(std::vector<ParamSpec>& s) {
    for (ParamSpec& spec : s)
        for (const char* key :
             {"name", "models", "threads", "ablation_untrained_context_block", "skip_evaluation",
              "phase1_only", "context_block_from", "context_block_run", "phase2.resume_from",
              "phase2.readback_every", "db", "checkpoint_dir", "experiment", "seeds",
              "dist_timeout", "sweep_cell"})
            if (spec.key == key) spec.bookkeeping = true;
}

// The form's labels and layout.
void lay_out_form(std::vector<ParamSpec>& s) {
    const auto gui = [&](const char* key, const char* label, bool basic = false) {
        for (ParamSpec& spec : s)
            if (spec.key == key) {
                spec.label = label;
                spec.basic = basic;
                return &spec;
            }
        throw Error(std::string("internal error: no parameter '") + key + "'");
    };
    gui("samples", "Samples", true);
    gui("seq_length", "Sequence length", true);
    gui("epochs", "Epochs (at most)", true);
    gui("size", "Model size", true)->choice_labels = {"tiny (fast, for checks)",
                                                      "70M (Pythia-70M widths)"};
    gui("name", "Name", true)->placeholder = "default: size, samples × length, seed";
    gui("seed", "Seed", true);
    gui("seeds", "Repeat with N seeds", true)->placeholder = "1 (one run per design)";
    gui("kv_heads", "K/V heads (pythia-gqa)")->placeholder = "the preset's (70M: 4, tiny: 2)";
    gui("kv_latent", "Latent width (pythia-mla)")->placeholder = "the preset's (70M: 496, tiny: 60)";
    gui("context_interval", "Context interval (context-kv)")->placeholder = "the preset's (32)";
    gui("max_contexts", "Contexts read (context-kv)")->placeholder = "the preset's (32)";
    gui("context_dim", "Context width")->placeholder = "the preset's (70M: 256, tiny: 32)";
    gui("corpora", "Corpus")->choice_labels = {"Brown", "nlp-corpus", "Brown + nlp-corpus"};
    gui("device", "Device")->choice_labels = {"auto (GPU when present)", "CPU", "CUDA GPU"};
    gui("precision", "Precision")->choice_labels = {"float32",
                                                    "bf16 autocast (Phase 2; weights float32)"};
    gui("threads", "CPU threads")->placeholder = "all cores but one (the GUI keeps one)";
    gui("phase1.centroid_weight", "OACD centroid weight");
    gui("phase1.noise_std", "Context noise std");
    gui("phase1.learning_rate", "Learning rate (Phase 1)");
    gui("phase1.clip_grad_norm", "Gradient clip (Phase 1)");
    gui("phase1.convergence_threshold", "Convergence threshold");
    gui("phase1.convergence_target", "Convergence target");
    gui("phase1.max_iterations", "Phase 1 iterations (max)");
    gui("phase1.batch_size", "OACD batch (tokens)");
    gui("phase1.rank_sample", "Rank sample (contexts)");
    gui("phase1.cosine_sample", "Cosine sample (contexts)");
    gui("phase1.init_scale", "Initial context scale");
    gui("phase2.learning_rate", "Learning rate (Phase 2)")->placeholder =
        "from the size preset (tiny 3e-3, 70M 1e-4)";
    gui("phase2.weight_decay", "Weight decay");
    gui("phase2.batch_size", "Batch size");
    gui("phase2.patience", "Early-stop patience")->placeholder = "0 (off)";
    gui("phase2.validation_fraction", "Validation share");
    gui("phase2.clip_grad_norm", "Gradient clip (Phase 2)");
    gui("phase2.readback_every", "Loss read-back every")->placeholder = "auto (1 CPU, 25 CUDA)";
    gui("eval.max_test_chunks", "Test chunks evaluated");
    gui("eval.max_last_word_passages", "Last-word passages");
    gui("eval.stride", "Sliding-window stride")->placeholder = "0 (off)";
    gui("eval.lambada_file", "LAMBADA file")->placeholder = "none: the held-out corpus's passages";
    gui("init_from", "Start from checkpoint")->placeholder =
        "none: every design from its own initialisation";
    gui("eval.kv_lengths", "KV lengths (tokens)");
    for (ParamSpec& spec : s)
        if (spec.in_gui && spec.label.empty())
            throw Error("internal error: parameter '" + spec.key + "' has no form label");
}

std::vector<ParamSpec> make_schema() {
    std::vector<ParamSpec> s;
    add_required_and_run(s);
    add_step_choices(s);
    add_phase1(s);
    add_phase2(s);
    add_evaluation(s);
    add_storage(s);
    mark_bookkeeping(s);
    lay_out_form(s);
    return s;
}

}  // namespace

json ParamInfo::parse_text(const std::string& raw) const {
    const std::string option = "--" + cli;
    const auto whole = [&](const std::string& t) {
        const auto v = parse_whole_number(t);
        if (!v) throw Error(option + " must be a whole number (got '" + t + "')");
        return *v;
    };
    switch (type) {
        case ParamType::required_integer:
        case ParamType::integer:
        case ParamType::seed: {
            const std::int64_t v = whole(raw);
            if (v == 0 && !zero_when_typed.empty())
                throw Error(option + " must be positive (got 0): " + zero_when_typed);
            return v;
        }
        case ParamType::real: {
            const auto v = parse_number(raw);
            if (!v) throw Error(option + " must be a number (got '" + raw + "')");
            return *v;
        }
        case ParamType::flag:
            return true;
        case ParamType::choice:
            for (const auto& c : choices)
                if (c == raw) return raw;
            throw Error(option + " must be " + or_list(choices) + " (got '" + raw + "')");
        case ParamType::text:
            return raw;
        case ParamType::text_list:
        case ParamType::design_list:
            return json(split_skipping_empty(raw, ','));
        case ParamType::integer_list: {
            json a = json::array();
            for (const std::string& item : split_skipping_empty(raw, ',')) a.push_back(whole(item));
            return a;
        }
    }
    return raw;
}

std::string ParamInfo::text_of(const json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_float()) return number_text(v.get<double>());
    if (v.is_array()) {
        std::string t;
        for (const json& x : v)
            t += (t.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
        return t;
    }
    return v.dump();
}

const std::vector<ParamSpec>& param_schema() {
    static const std::vector<ParamSpec> schema = make_schema();
    return schema;
}

std::string shell_quote(const std::string& text) {
    const bool plain = !text.empty() && text.find_first_not_of(
                                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_.,/:=+@%") == std::string::npos;
    if (plain) return text;
    std::string quoted = "'";
    for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

std::vector<std::string> reproducing_arguments(const ExperimentParams& p) {
    const ExperimentParams defaults;
    std::vector<std::string> args;
    for (const ParamSpec& spec : param_schema()) {
        const json value = spec.get(p);
        if (value.is_null()) continue;  // left unset (to the preset)
        if (spec.type != ParamType::required_integer && value == spec.get(defaults)) continue;
        if (spec.type == ParamType::flag) {
            if (value.get<bool>()) args.push_back("--" + spec.cli);
            continue;
        }
        args.push_back("--" + spec.cli);
        args.push_back(spec.to_text(p));
    }
    return args;
}

std::string reproducing_command(const ExperimentParams& p) {
    std::string command = "context-pythia run";
    const std::vector<std::string> args = reproducing_arguments(p);
    for (std::size_t i = 0; i < args.size(); ++i) {
        command += " " + args[i];
        const ParamSpec* spec = param_by_cli(args[i].substr(2));
        if (spec && spec->type != ParamType::flag && i + 1 < args.size())
            command += " " + shell_quote(args[++i]);  // its value, whatever it starts with
    }
    return command;
}

std::vector<std::string> experiment_differences(const ExperimentParams& a_given,
                                                const ExperimentParams& b_given) {
    // A value left to the size preset trains exactly as that value given by hand.
    const ExperimentParams a = a_given.with_presets(), b = b_given.with_presets();
    std::vector<std::string> out;
    for (const ParamSpec& spec : param_schema()) {
        if (spec.bookkeeping) continue;
        const json va = spec.get(a), vb = spec.get(b);
        if (va != vb) out.push_back(spec.key + ": " + va.dump() + " vs " + vb.dump());
    }
    return out;
}

const ParamSpec& param(const std::string& key) {
    for (const ParamSpec& s : param_schema())
        if (s.key == key) return s;
    throw Error("internal error: no experiment parameter '" + key + "'");
}

const ParamSpec* param_by_cli(const std::string& cli) {
    for (const ParamSpec& s : param_schema())
        if (s.cli == cli) return &s;
    return nullptr;
}

}  // namespace cp::train
