#include "train/experiment_params.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <filesystem>

#include "common/error.h"

namespace cp::train {
using nlohmann::json;

const char* to_string(ModelChoice m) {
    switch (m) {
        case ModelChoice::both:
            return "both";
        case ModelChoice::context_pythia:
            return "context-pythia";
        case ModelChoice::pythia:
            return "pythia";
    }
    return "?";
}

std::vector<ExperimentParams::Problem> ExperimentParams::problems() const {
    std::vector<Problem> p;
    const auto required = [&](const char* field, const std::optional<std::int64_t>& v) {
        if (!v)
            p.push_back(
                {field, std::string(field) +
                            " is required (it has no default: choose it for this experiment)"});
        else if (*v <= 0)
            p.push_back(
                {field, std::string(field) + " must be positive (got " + std::to_string(*v) + ")"});
    };
    required("samples", samples);
    required("seq_length", seq_length);
    required("epochs", epochs);
    if (samples && *samples > 0 && *samples < 10)
        p.push_back(
            {"samples", "samples must be at least 10, so that the last 10% can validate (got " +
                            std::to_string(*samples) + ")"});
    if (seq_length && *seq_length > 0 && size == "70m" && *seq_length > 2048)
        p.push_back({"seq_length", "seq_length " + std::to_string(*seq_length) +
                                       " exceeds the 2048 positions of the 70m presets"});
    if (size != "tiny" && size != "70m")
        p.push_back({"size", "size must be 'tiny' or '70m' (got '" + size + "')"});
    if (corpora.empty()) p.push_back({"corpus", "at least one corpus is needed"});
    if (device != "auto" && device != "cpu" && device != "cuda")
        p.push_back({"device", "device must be auto, cpu or cuda (got '" + device + "')"});
    if (threads < 0) p.push_back({"threads", "threads must be 0 (torch's choice) or positive"});
    if (precision != "fp32" && precision != "bf16")
        p.push_back({"precision", "precision must be fp32 or bf16 (got '" + precision + "')"});
    if (phase2.readback_every < 0)
        p.push_back({"phase2.readback_every", "readback_every must be 0 (automatic) or positive"});
    const auto positive = [&](const char* field, double v) {
        if (!(v > 0))
            p.push_back(
                {field, std::string(field) + " must be positive (got " + std::to_string(v) + ")"});
    };
    const auto non_negative = [&](const char* field, double v) {
        if (!(v >= 0))
            p.push_back({field, std::string(field) + " must be zero or positive (got " +
                                    std::to_string(v) + ")"});
    };
    // The optimizers hold their hyper-parameters as float32.
    const auto float_range = [&](const char* field, double v) {
        if (std::isfinite(v) && std::abs(v) > std::numeric_limits<float>::max())
            p.push_back({field, std::string(field) + " " + (std::ostringstream() << v).str() +
                                    " is beyond float32's range (3.4e38)"});
    };
    const auto fraction = [&](const char* field, double v) {
        if (!(v > 0 && v < 1))
            p.push_back({field, std::string(field) + " must be between 0 and 1 (got " +
                                    std::to_string(v) + ")"});
    };
    non_negative("phase1.centroid_weight", phase1.centroid_weight);
    non_negative("phase1.noise_std", phase1.noise_std);
    positive("phase1.learning_rate", phase1.learning_rate);
    float_range("phase1.learning_rate", phase1.learning_rate);
    non_negative("phase1.clip_grad_norm", phase1.clip_grad_norm);
    positive("phase1.convergence_threshold", phase1.convergence_threshold);
    if (!(phase1.convergence_target > 0 && phase1.convergence_target <= 1))
        p.push_back({"phase1.convergence_target", "phase1.convergence_target must be in (0, 1]"});
    positive("phase1.max_iterations", static_cast<double>(phase1.max_iterations));
    positive("phase1.batch_size", static_cast<double>(phase1.batch_size));
    positive("phase1.rank_sample", static_cast<double>(phase1.rank_sample));
    if (phase1.cosine_sample < 2)
        p.push_back({"phase1.cosine_sample", "phase1.cosine_sample must be at least 2"});
    positive("phase1.init_scale", phase1.init_scale);
    positive("phase2.learning_rate", phase2.learning_rate);
    float_range("phase2.learning_rate", phase2.learning_rate);
    non_negative("phase2.weight_decay", phase2.weight_decay);
    positive("phase2.batch_size", static_cast<double>(phase2.batch_size));
    non_negative("phase2.patience", static_cast<double>(phase2.patience));
    fraction("phase2.validation_fraction", phase2.validation_fraction);
    non_negative("phase2.clip_grad_norm", phase2.clip_grad_norm);
    positive("eval.max_test_chunks", static_cast<double>(eval.max_test_chunks));
    non_negative("eval.max_lambada_passages", static_cast<double>(eval.max_lambada_passages));
    for (std::size_t i = 0; i < eval.kv_lengths.size(); ++i)
        if (eval.kv_lengths[i] <= 0 || (i > 0 && eval.kv_lengths[i] <= eval.kv_lengths[i - 1]))
            p.push_back({"eval.kv_lengths", "eval.kv_lengths must be positive and ascending"});
    if (!phase2.resume_from.empty() && models == ModelChoice::both)
        p.push_back(
            {"phase2.resume_from",
             "resuming continues one model's Phase 2: choose --models pythia or context-pythia"});
    if (!phase2.resume_from.empty() && !std::filesystem::exists(phase2.resume_from))
        p.push_back({"phase2.resume_from",
                     "checkpoint to resume from not found: '" + phase2.resume_from + "'"});
    if (!context_block_from.empty() && !std::filesystem::exists(context_block_from))
        p.push_back({"context_block_from", "Phase 1 checkpoint not found: '" + context_block_from +
                                               "' (run Phase 1 first, or choose another run)"});
    if (!context_block_from.empty() &&
        (models == ModelChoice::pythia || phase1_only || ablation_untrained_context_block))
        p.push_back(
            {"context_block_from", "a Phase 1 checkpoint is for Context-Pythia's Phase 2 alone"});
    if (phase1_only && (models == ModelChoice::pythia || ablation_untrained_context_block))
        p.push_back({"phase1_only",
                     "Phase 1 alone needs Context-Pythia and no untrained-ContextBlock ablation"});
    if (ablation_untrained_context_block && models == ModelChoice::pythia)
        p.push_back({"ablation",
                     "the untrained-ContextBlock ablation needs Context-Pythia among the models"});
    return p;
}

void ExperimentParams::validate() const {
    const auto p = problems();
    if (p.empty()) return;
    std::string message = "invalid experiment parameters:";
    for (const auto& problem : p) message += "\n  - " + problem.message;
    throw Error(message);
}

json ExperimentParams::to_json() const {
    const auto opt = [](const std::optional<std::int64_t>& v) {
        return v ? json(*v) : json(nullptr);
    };
    return {{"samples", opt(samples)},
            {"seq_length", opt(seq_length)},
            {"epochs", opt(epochs)},
            {"name", name},
            {"size", size},
            {"corpora", corpora},
            {"tokenizer", tokenizer},
            {"seed", seed},
            {"device", device},
            {"threads", threads},
            {"precision", precision},
            {"models", to_string(models)},
            {"ablation_untrained_context_block", ablation_untrained_context_block},
            {"skip_evaluation", skip_evaluation},
            {"phase1_only", phase1_only},
            {"checkpoint_dir", checkpoint_dir},
            {"context_block_from", context_block_from},
            {"phase1",
             {{"centroid_weight", phase1.centroid_weight},
              {"noise_std", phase1.noise_std},
              {"learning_rate", phase1.learning_rate},
              {"clip_grad_norm", phase1.clip_grad_norm},
              {"convergence_threshold", phase1.convergence_threshold},
              {"convergence_target", phase1.convergence_target},
              {"max_iterations", phase1.max_iterations},
              {"batch_size", phase1.batch_size},
              {"rank_sample", phase1.rank_sample},
              {"cosine_sample", phase1.cosine_sample},
              {"init_scale", phase1.init_scale}}},
            {"phase2",
             {{"learning_rate", phase2.learning_rate},
              {"weight_decay", phase2.weight_decay},
              {"batch_size", phase2.batch_size},
              {"patience", phase2.patience},
              {"validation_fraction", phase2.validation_fraction},
              {"clip_grad_norm", phase2.clip_grad_norm},
              {"resume_from", phase2.resume_from},
              {"readback_every", phase2.readback_every}}},
            {"eval",
             {{"max_test_chunks", eval.max_test_chunks},
              {"max_lambada_passages", eval.max_lambada_passages},
              {"kv_lengths", eval.kv_lengths}}}};
}

namespace {

// A whole number from JSON, refused by name when it is not one or does not fit 64 bits (a
// float like 3e75 would otherwise be converted with undefined behaviour: found by fuzz_params).
std::int64_t whole_number(const json& v, const char* key) {
    if (v.is_number_unsigned() &&
        v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw Error(std::string("experiment parameters: ") + key + " is too large");
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::trunc(d) == d && std::abs(d) < 9.2e18) return static_cast<std::int64_t>(d);
    }
    throw Error(std::string("experiment parameters: ") + key + " must be a whole number (got " +
                v.dump() + ")");
}

std::int64_t whole(const json& object, const char* key, std::int64_t fallback) {
    return object.contains(key) ? whole_number(object.at(key), key) : fallback;
}

}  // namespace

ExperimentParams ExperimentParams::from_json(const json& j) {
    ExperimentParams p;
    try {
        const auto opt = [&](const char* k) -> std::optional<std::int64_t> {
            if (!j.contains(k) || j[k].is_null()) return std::nullopt;
            return whole_number(j[k], k);
        };
        p.samples = opt("samples");
        p.seq_length = opt("seq_length");
        p.epochs = opt("epochs");
        p.name = j.value("name", p.name);
        p.size = j.value("size", p.size);
        p.corpora = j.value("corpora", p.corpora);
        p.tokenizer = j.value("tokenizer", p.tokenizer);
        if (j.contains("seed")) {
            const std::int64_t seed = whole_number(j["seed"], "seed");
            if (seed < 0) throw Error("experiment parameters: seed must be zero or positive");
            p.seed = static_cast<std::uint64_t>(seed);
        }
        p.device = j.value("device", p.device);
        p.threads = whole(j, "threads", p.threads);
        p.precision = j.value("precision", p.precision);
        const std::string models = j.value("models", "both");
        p.models = models == "pythia"           ? ModelChoice::pythia
                   : models == "context-pythia" ? ModelChoice::context_pythia
                                                : ModelChoice::both;
        p.ablation_untrained_context_block = j.value("ablation_untrained_context_block", false);
        p.skip_evaluation = j.value("skip_evaluation", false);
        p.phase1_only = j.value("phase1_only", false);
        p.checkpoint_dir = j.value("checkpoint_dir", p.checkpoint_dir);
        p.context_block_from = j.value("context_block_from", p.context_block_from);
        if (j.contains("phase1")) {
            const json& a = j["phase1"];
            auto& q = p.phase1;
            q.centroid_weight = a.value("centroid_weight", q.centroid_weight);
            q.noise_std = a.value("noise_std", q.noise_std);
            q.learning_rate = a.value("learning_rate", q.learning_rate);
            q.clip_grad_norm = a.value("clip_grad_norm", q.clip_grad_norm);
            q.convergence_threshold = a.value("convergence_threshold", q.convergence_threshold);
            q.convergence_target = a.value("convergence_target", q.convergence_target);
            q.max_iterations = whole(a, "max_iterations", q.max_iterations);
            q.batch_size = whole(a, "batch_size", q.batch_size);
            q.rank_sample = whole(a, "rank_sample", q.rank_sample);
            q.cosine_sample = whole(a, "cosine_sample", q.cosine_sample);
            q.init_scale = a.value("init_scale", q.init_scale);
        }
        if (j.contains("phase2")) {
            const json& a = j["phase2"];
            auto& q = p.phase2;
            q.learning_rate = a.value("learning_rate", q.learning_rate);
            q.weight_decay = a.value("weight_decay", q.weight_decay);
            q.batch_size = whole(a, "batch_size", q.batch_size);
            q.patience = whole(a, "patience", q.patience);
            q.validation_fraction = a.value("validation_fraction", q.validation_fraction);
            q.clip_grad_norm = a.value("clip_grad_norm", q.clip_grad_norm);
            q.resume_from = a.value("resume_from", q.resume_from);
            q.readback_every = whole(a, "readback_every", q.readback_every);
        }
        if (j.contains("eval")) {
            const json& a = j["eval"];
            p.eval.max_test_chunks = whole(a, "max_test_chunks", p.eval.max_test_chunks);
            p.eval.max_lambada_passages =
                whole(a, "max_lambada_passages", p.eval.max_lambada_passages);
            if (a.contains("kv_lengths")) {
                p.eval.kv_lengths.clear();
                for (const json& length : a.at("kv_lengths"))
                    p.eval.kv_lengths.push_back(whole_number(length, "kv_lengths"));
            }
        }
    } catch (const json::exception& e) {
        throw Error(std::string("experiment parameters are mistyped: ") + e.what());
    }
    return p;
}

std::string default_database_path() {
    if (const char* env = std::getenv("CP_DB"); env && *env) return env;
    std::string base;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        base = xdg;
    else if (const char* home = std::getenv("HOME"); home && *home)
        base = std::string(home) + "/.local/share";
    else
        base = ".";
    return base + "/context-pythia/workbench.db";
}

}  // namespace cp::train
