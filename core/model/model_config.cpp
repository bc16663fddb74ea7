#include "model/model_config.h"

#include "common/error.h"
#include "model/model_registry.h"

namespace cp::model {

// The cache-shaping options: GQA's K/V heads, MLA's latent and rotary key, each for its design.
std::vector<std::string> ModelConfig::cache_problems() const {
    std::vector<std::string> p;
    if (architecture == Architecture::pythia_gqa &&
        (kv_heads < 1 || heads < 1 || heads % kv_heads != 0))
        p.push_back("kv_heads " + std::to_string(kv_heads) + " must divide heads " +
                    std::to_string(heads) + " (1 is multi-query attention)");
    if (architecture == Architecture::pythia_mla && kv_latent < 1)
        p.push_back("kv_latent must be positive for pythia-mla (got " + std::to_string(kv_latent) +
                    ")");
    if (architecture == Architecture::pythia_mla && heads > 0 && layer_width() % heads == 0 &&
        (rotary_dims() < 2 || rotary_dims() >= head_dim()))
        p.push_back("pythia-mla needs rotary dims within a head (got " +
                    std::to_string(rotary_dims()) + " of head_dim " + std::to_string(head_dim()) +
                    ")");
    // The latent replaces the heads' non-rotary keys and their values: wider than those it
    // caches more than it compresses (and a conversion's SVD has nothing to fill it with).
    if (architecture == Architecture::pythia_mla && heads > 0 && layer_width() % heads == 0 &&
        kv_latent > 2 * layer_width() - heads * rotary_dims())
        p.push_back("kv_latent " + std::to_string(kv_latent) +
                    " is wider than the keys and values it compresses (2 x " +
                    std::to_string(layer_width()) + " - " + std::to_string(heads) + " heads x " +
                    std::to_string(rotary_dims()) + " rotary dims = " +
                    std::to_string(2 * layer_width() - heads * rotary_dims()) +
                    "): give at most that");
    if (architecture != Architecture::pythia_mla && kv_latent != 0)
        p.push_back("kv_latent is for pythia-mla alone (got " + std::to_string(kv_latent) + ")");
    if (architecture != Architecture::pythia_gqa && kv_heads != 0)
        p.push_back("kv_heads is for pythia-gqa alone (got " + std::to_string(kv_heads) + " for " +
                    design_key(architecture) + ")");
    return p;
}

std::vector<std::string> ModelConfig::problems() const {
    std::vector<std::string> p;
    const auto positive = [&](const char* field, std::int64_t v) {
        if (v <= 0)
            p.push_back(std::string(field) + " must be positive (got " + std::to_string(v) + ")");
    };
    positive("vocab_rows", vocab_rows);
    positive("embed_dim", embed_dim);
    positive("layers", layers);
    positive("heads", heads);
    positive("intermediate", intermediate);
    positive("max_positions", max_positions);
    if (!layers_at_embed_width() || has_context_block()) positive("context_dim", context_dim);
    if (architecture == Architecture::context_kv) {
        positive("context_interval", context_interval);
        positive("max_contexts", max_contexts);
        if (layers < 2)
            p.push_back("context-kv needs at least 2 layers: layer 0 reads contexts, the rest "
                        "are Pythia's (got " + std::to_string(layers) + ")");
    } else if (context_interval != 0 || max_contexts != 0) {
        p.push_back("context_interval and max_contexts are for context-kv alone (got " +
                    std::to_string(context_interval) + " and " + std::to_string(max_contexts) +
                    " for " + design_key(architecture) + ")");
    }
    for (std::string& x : cache_problems()) p.push_back(std::move(x));
    if (heads > 0 && layer_width() > 0 && layer_width() % heads != 0)
        p.push_back((layers_at_embed_width() ? "embed_dim " : "context_dim ") +
                    std::to_string(layer_width()) + " is not divisible by heads " +
                    std::to_string(heads) + ": choose a width that is a multiple of heads");
    if (!(rotary_pct >= 0.0 && rotary_pct <= 1.0))
        p.push_back("rotary_pct must be within [0, 1] (got " + std::to_string(rotary_pct) + ")");
    else if (heads > 0 && layer_width() % heads == 0 && rotary_dims() % 2 != 0)
        p.push_back("rotary_pct " + std::to_string(rotary_pct) +
                    " gives an odd number of rotary dims (" + std::to_string(rotary_dims()) +
                    " of head_dim " + std::to_string(head_dim()) + "): rotary dims must be even");
    if (!(rotary_base > 0.0)) p.push_back("rotary_base must be positive");
    if (!(layer_norm_eps > 0.0)) p.push_back("layer_norm_eps must be positive");
    if (end_of_text_id < 0 || end_of_text_id >= vocab_rows)
        p.push_back("end_of_text_id " + std::to_string(end_of_text_id) +
                    " is outside the vocabulary (" + std::to_string(vocab_rows) + " rows)");
    return p;
}

void ModelConfig::validate() const {
    const auto p = problems();
    if (p.empty()) return;
    std::string message = "invalid model configuration:";
    for (const auto& s : p) message += "\n  - " + s;
    throw Error(message);
}

nlohmann::json ModelConfig::to_json() const {
    return {{"architecture", to_string(architecture)},
            {"vocab_rows", vocab_rows},
            {"embed_dim", embed_dim},
            {"context_dim", context_dim},
            {"layers", layers},
            {"heads", heads},
            {"intermediate", intermediate},
            {"kv_heads", kv_heads},
            {"kv_latent", kv_latent},
            {"context_interval", context_interval},
            {"max_contexts", max_contexts},
            {"rotary_pct", rotary_pct},
            {"rotary_base", rotary_base},
            {"max_positions", max_positions},
            {"layer_norm_eps", layer_norm_eps},
            {"init_std", init_std},
            {"context_init_std", context_init_std},
            {"context_bias_init_std", context_bias_init_std},
            {"end_of_text_id", end_of_text_id}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
    ModelConfig c;
    try {
        const std::string arch = j.at("architecture").get<std::string>();
        const auto design = design_from_key(arch);
        if (!design)
            throw Error("unknown architecture '" + arch + "' (" + design_keys_text() + ")");
        c.architecture = *design;
        c.vocab_rows = j.at("vocab_rows").get<std::int64_t>();
        c.embed_dim = j.at("embed_dim").get<std::int64_t>();
        c.context_dim = j.value("context_dim", c.context_dim);
        c.layers = j.at("layers").get<std::int64_t>();
        c.heads = j.at("heads").get<std::int64_t>();
        c.intermediate = j.at("intermediate").get<std::int64_t>();
        c.kv_heads = j.value("kv_heads", c.kv_heads);
        c.kv_latent = j.value("kv_latent", c.kv_latent);
        c.context_interval = j.value("context_interval", c.context_interval);
        c.max_contexts = j.value("max_contexts", c.max_contexts);
        c.rotary_pct = j.value("rotary_pct", c.rotary_pct);
        c.rotary_base = j.value("rotary_base", c.rotary_base);
        c.max_positions = j.value("max_positions", c.max_positions);
        c.layer_norm_eps = j.value("layer_norm_eps", c.layer_norm_eps);
        c.init_std = j.value("init_std", c.init_std);
        c.context_init_std = j.value("context_init_std", c.context_init_std);
        c.context_bias_init_std = j.value("context_bias_init_std", c.context_bias_init_std);
        c.end_of_text_id = j.value("end_of_text_id", c.end_of_text_id);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("model configuration is incomplete or mistyped: ") + e.what());
    }
    c.validate();
    return c;
}

ModelConfig preset(const std::string& name) {
    for (const DesignEntry& e : design_registry())
        for (ModelSize size : {ModelSize::m70, ModelSize::tiny})
            if (name == std::string(design_key(e.design)) + "-" + size_key(size))
                return e.preset(size);
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown preset '" + name + "' (known: " + known + ")");
}

std::vector<std::string> preset_names() {
    std::vector<std::string> names;
    for (ModelSize size : {ModelSize::m70, ModelSize::tiny})
        for (const DesignName& n : kDesignNames)
            names.push_back(std::string(n.key) + "-" + size_key(size));
    return names;
}

}  // namespace cp::model
