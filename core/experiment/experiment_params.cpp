#include "experiment/experiment_params.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "model/model_registry.h"
#include "experiment/param_schema.h"

namespace cp::train {
using nlohmann::json;

bool ExperimentParams::needs_context_block() const {
    for (model::Design d : models)
        if (model::design_entry(d).needs_context_block) return true;
    return false;
}

namespace {

// The models as this experiment builds them (its model parameters applied): K/V heads and
// context widths the heads cannot split, then each design's own config problems (an odd number
// of rotary dims, ...); the latter only when nothing else is wrong, so each is named once.
void add_model_problems(const ExperimentParams& e, std::vector<ExperimentParams::Problem>& p) {
    if (e.kv_heads > 0) {
        const std::int64_t heads = e.model_config(model::Design::pythia).heads;
        if (heads % e.kv_heads != 0)
            p.push_back({"kv_heads", "kv_heads " + std::to_string(e.kv_heads) + " must divide the " +
                                         std::to_string(heads) + " query heads of the " + model::size_key(e.size) +
                                         " presets (1 is multi-query attention)"});
    }
    if (e.context_dim > 0) {
        const std::int64_t heads = e.model_config(model::Design::context_pythia).heads;
        if (e.context_dim % heads != 0)
            p.push_back({"context_dim", "context_dim " + std::to_string(e.context_dim) +
                                            " must be a multiple of the " + std::to_string(heads) +
                                            " heads of the " + model::size_key(e.size) + " presets"});
    }
    if (p.empty())
        for (model::Design d : e.models)
            for (const std::string& problem : e.model_config(d).problems())
                p.push_back({"models", std::string(model::design_key(d)) + " as configured here: " +
                                           problem});
}

}  // namespace

std::vector<ExperimentParams::Problem> ExperimentParams::problems() const {
    std::vector<Problem> p;
    for (const ParamSpec& spec : param_schema())
        if (spec.check)
            if (std::string m = spec.check(*this); !m.empty()) p.push_back({spec.key, m});
    // Rules across fields.
    if (samples && *samples > 0 && *samples < 10)
        p.push_back(
            {"samples", "samples must be at least 10, so that the last 10% can validate (got " +
                            std::to_string(*samples) + ")"});
    if (seq_length && *seq_length > 0 && size == model::ModelSize::m70 && *seq_length > 2048)
        p.push_back({"seq_length", "seq_length " + std::to_string(*seq_length) +
                                       " exceeds the 2048 positions of the 70m presets"});
    const bool one_model = models.size() == 1;
    if (!phase2.resume_from.empty() && !one_model)
        p.push_back(
            {"phase2.resume_from",
             "resuming continues one model's Phase 2: choose one design with --models"});
    if (!phase2.resume_from.empty() && !std::filesystem::exists(phase2.resume_from))
        p.push_back({"phase2.resume_from",
                     "checkpoint to resume from not found: '" + phase2.resume_from + "'"});
    if (!context_block_from.empty() && !std::filesystem::exists(context_block_from))
        p.push_back({"context_block_from", "Phase 1 checkpoint not found: '" + context_block_from +
                                               "' (run Phase 1 first, or choose another run)"});
    const bool block_source = !context_block_from.empty() || context_block_run > 0;
    if (!context_block_from.empty() && context_block_run > 0)
        p.push_back(
            {"context_block_from",
             "choose one ContextBlock source: --context-block-from or --context-block-run"});
    if (block_source && (!needs_context_block() || phase1_only || ablation_untrained_context_block))
        p.push_back({block_source && !context_block_from.empty() ? "context_block_from"
                                                                 : "context_block_run",
                     "a Phase 1 checkpoint is for Context-Pythia's Phase 2 alone"});
    if (phase1_only && (!needs_context_block() || ablation_untrained_context_block))
        p.push_back({"phase1_only",
                     "Phase 1 alone needs Context-Pythia and no untrained-ContextBlock ablation"});
    add_model_problems(*this, p);
    if (seeds > 1 && experiment > 0)
        p.push_back({"seeds", "--seeds " + std::to_string(seeds) +
                                  " makes a new seed group; --experiment adds to one stored "
                                  "experiment: use one or the other"});
    if (seeds > 1 && !phase2.resume_from.empty())
        p.push_back({"seeds", "resuming continues one run: --seeds must be 1 with --resume-from"});
    if (ablation_untrained_context_block && !needs_context_block())
        p.push_back({"ablation",
                     "the untrained-ContextBlock ablation needs Context-Pythia among the models"});
    return p;
}

model::ModelConfig ExperimentParams::model_config(model::Design design) const {
    model::ModelConfig c =
        model::design_preset(design, size);
    if (design == model::Design::pythia_gqa && kv_heads > 0) c.kv_heads = kv_heads;
    if (design == model::Design::pythia_mla && kv_latent > 0) c.kv_latent = kv_latent;
    // The tiny preset spaces context-kv's contexts by the trained length: eight of them at its
    // end (interval seq_length / 8), instead of the 70M reference's fixed 32 that leaves a 32-token
    // chunk one (#26). Given --context-interval wins.
    if (design == model::Design::context_kv && size == model::ModelSize::tiny && seq_length &&
        *seq_length > 0)
        c.context_interval = std::max<std::int64_t>(1, *seq_length / 8);
    if (design == model::Design::context_kv && context_interval > 0)
        c.context_interval = context_interval;
    if (design == model::Design::context_kv && max_contexts > 0) c.max_contexts = max_contexts;
    // The designs below half keep their own widths: --context-dim sets the family's.
    const bool has_context = (c.has_context_block() || design == model::Design::projection_256 ||
                              design == model::Design::context_pythia_untrained) &&
                             !model::design_entry(design).family;
    if (has_context && context_dim > 0) {
        c.context_dim = context_dim;
        // The context-width layers' MLP stays 4 x their width (MODEL_SPEC §2).
        if (!c.layers_at_embed_width()) c.intermediate = 4 * context_dim;
    }
    return c;
}

ExperimentParams ExperimentParams::with_presets(std::vector<std::string>* filled) const {
    ExperimentParams p = *this;
    const model::TrainingPreset& preset =
        model::training_preset(p.size);
    if (!p.phase2.learning_rate) {
        p.phase2.learning_rate = preset.phase2_learning_rate;
        if (filled)
            filled->push_back("phase2.learning_rate: " + param("phase2.learning_rate").to_text(p) +
                              " (from the " + std::string(model::size_key(p.size)) + " preset: " + preset.source + ")");
    }
    return p;
}

void ExperimentParams::validate() const {
    const auto p = problems();
    if (p.empty()) return;
    std::string message = "invalid experiment parameters:";
    for (const auto& problem : p) message += "\n  - " + problem.message;
    throw Error(message);
}

namespace {
json::json_pointer pointer(const std::string& dotted) {
    std::string path;
    for (char c : dotted) path += c == '.' ? '/' : c;
    return json::json_pointer("/" + path);
}
}  // namespace

json ExperimentParams::to_json() const {
    json j = json::object();
    for (const ParamSpec& spec : param_schema()) j[pointer(spec.key)] = spec.get(*this);
    return j;
}

ExperimentParams ExperimentParams::from_json(const json& j) {
    ExperimentParams p;
    if (!j.is_object()) throw Error("experiment parameters must be a JSON object");
    try {
        for (const ParamSpec& spec : param_schema()) {
            const auto at = pointer(spec.key);
            if (j.contains(at))
                spec.set(p, j.at(at));
            else if (!spec.legacy_key.empty() && j.contains(pointer(spec.legacy_key)))
                spec.set(p, j.at(pointer(spec.legacy_key)));
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
