#include "model/model_registry.h"

#include "common/error.h"

namespace cp::model {

const char* size_key(ModelSize s) {
    return s == ModelSize::m70 ? "70m" : "tiny";
}

std::optional<ModelSize> size_from_key(std::string_view key) {
    if (key == "tiny") return ModelSize::tiny;
    if (key == "70m") return ModelSize::m70;
    return std::nullopt;
}

const TrainingPreset& training_preset(ModelSize size) {
    static const TrainingPreset m70{1e-4, "the reference's"};
    static const TrainingPreset tiny{3e-3, "measured to learn within minutes on a CPU"};
    return size == ModelSize::m70 ? m70 : tiny;
}

namespace {

// MODEL_SPEC.md §1: the ModelConfig defaults are Pythia-70M's.
ModelConfig pythia_preset(ModelSize size) {
    ModelConfig c;
    c.architecture = Design::pythia;
    if (size == ModelSize::tiny) {
        c.embed_dim = 64;
        c.layers = 2;
        c.heads = 4;
        c.intermediate = 256;
    }
    return c;
}

// MODEL_SPEC.md §2: Pythia's layers at context_dim, MLP 4 x context_dim.
ModelConfig context_pythia_preset(ModelSize size) {
    ModelConfig c;
    c.architecture = Design::context_pythia;
    c.intermediate = 1024;
    if (size == ModelSize::tiny) {
        c.embed_dim = 64;
        c.context_dim = 32;
        c.layers = 2;
        c.heads = 4;
        c.intermediate = 128;
    }
    return c;
}

// KV_METHODS.md part A: every width 256 with GPT-NeoX names, 8 heads of 32, MLP 1024, rotary 8
// dims (0.25 of 32); tiny: half of pythia-tiny's width.
ModelConfig pythia_256_preset(ModelSize size) {
    ModelConfig c = pythia_preset(size);
    c.architecture = Design::pythia_256;
    c.embed_dim = size == ModelSize::tiny ? 32 : 256;
    c.intermediate = 4 * c.embed_dim;
    return c;
}

// Grouped-query attention at Pythia's widths: 8 query heads, 4 K/V heads of 64 (tiny: 4 and 2).
ModelConfig pythia_gqa_preset(ModelSize size) {
    ModelConfig c = pythia_preset(size);
    c.architecture = Design::pythia_gqa;
    c.kv_heads = c.heads / 2;
    return c;
}

// Multi-head latent attention at Pythia's widths: a latent and one shared rotary key cached per
// token and layer, half of Pythia's 2 x hidden: kv_latent = hidden - rotary dims (496 at 70m).
ModelConfig pythia_mla_preset(ModelSize size) {
    ModelConfig c = pythia_preset(size);
    c.architecture = Design::pythia_mla;
    c.kv_latent = c.embed_dim - c.rotary_dims();
    return c;
}

// The seed's earlier design: Pythia whose layer 0 attends to ContextBlock contexts (every
// context_interval-th position back, at most max_contexts; reference 32 and 32) instead of its
// own keys and values. The block is Context-Pythia's (its Phase 1), so the widths match its.
ModelConfig context_kv_preset(ModelSize size) {
    ModelConfig c = pythia_preset(size);
    c.architecture = Design::context_kv;
    c.context_dim = context_pythia_preset(size).context_dim;
    c.context_interval = 32;
    c.max_contexts = 32;
    return c;
}

// Pythia exactly, its cache holding each layer's normalised input (hidden wide) instead of K and
// V (2 x hidden): the same weights and outputs at half the cache, paid for by recomputing K and V.
ModelConfig pythia_input_cache_preset(ModelSize size) {
    ModelConfig c = pythia_preset(size);
    c.architecture = Design::pythia_input_cache;
    return c;
}

// Context-Pythia with the recurrence removed: embed_in -> embed_norm -> Linear(embed -> context)
// per token, then the same layers at context_dim.
ModelConfig projection_256_preset(ModelSize size) {
    ModelConfig c = context_pythia_preset(size);
    c.architecture = Design::projection_256;
    return c;
}

}  // namespace

const std::vector<DesignEntry>& design_registry() {
    static const std::vector<DesignEntry> registry = {
        {Design::context_pythia,
         "Pythia's layers on a 256-wide context stream from a frozen recurrent ContextBlock",
         /*needs_context_block=*/true,
         "K and V of width context_dim per layer, plus one context_dim recurrent state",
         &context_pythia_preset,
         {0.5, "MODEL_SPEC.md §2: exactly 50% of the baseline"}},
        {Design::pythia, "the Pythia-70M baseline (GPT-NeoX), faithful to the released model",
         /*needs_context_block=*/false, "K and V of width hidden per layer", &pythia_preset},
        {Design::pythia_256,
         "Pythia at width 256 throughout: the cheapest model with Context-Pythia's cache",
         /*needs_context_block=*/false, "K and V of width 256 per layer", &pythia_256_preset},
        {Design::projection_256,
         "Context-Pythia without the recurrence: a per-token Linear(512 -> 256) in place of the "
         "ContextBlock",
         /*needs_context_block=*/false, "K and V of width context_dim per layer (no state)",
         &projection_256_preset},
        {Design::pythia_gqa,
         "Pythia with grouped-query attention: kv_heads K/V heads shared by the 8 query heads",
         /*needs_context_block=*/false, "K and V of kv_heads x head_dim per layer",
         &pythia_gqa_preset},
        {Design::pythia_mla,
         "Pythia with DeepSeek-V2's multi-head latent attention: a latent of kv_latent and a "
         "shared rotary key cached, K and V rebuilt from the latent",
         /*needs_context_block=*/false, "the latent (kv_latent) and one rotary key per layer",
         &pythia_mla_preset},
        {Design::context_kv,
         "the seed's earlier design: layer 0 attends to ContextBlock contexts (every "
         "context_interval-th position, at most max_contexts) instead of its own K and V",
         /*needs_context_block=*/true,
         "layers 1+: K and V of width hidden; layer 0: the contexts of the last "
         "context_interval x max_contexts positions",
         &context_kv_preset,
         {0.5, "the seed documents"}},
        {Design::pythia_input_cache,
         "the exact reference at half the cache: Pythia caching each layer's normalised input "
         "and recomputing K and V from it at every step (Pythia's outputs, Pythia's weights)",
         /*needs_context_block=*/false, "the layer's normalised input (width hidden) per layer",
         &pythia_input_cache_preset,
         {0.5, "KV_METHODS.md §D: exactly Pythia's outputs at half its cache"}},
        {Design::context_pythia_untrained,
         "ablation: Context-Pythia on its ContextBlock as initialised, without Phase 1",
         /*needs_context_block=*/false,
         "K and V of width context_dim per layer, plus one context_dim recurrent state",
         &context_pythia_preset,
         {},
         /*untrained_block=*/true},
    };
    return registry;
}

const DesignEntry& design_entry(Design d) {
    for (const DesignEntry& e : design_registry())
        if (e.design == d) return e;
    throw Error(std::string("internal error: design '") + design_key(d) +
                "' has a name but no registry entry");
}

ModelConfig design_preset(Design d, ModelSize size) {
    return design_entry(d).preset(size);
}

const std::vector<Design>& default_designs() {
    static const std::vector<Design> designs = {Design::pythia, Design::context_pythia,
                                                Design::pythia_256, Design::projection_256,
                                                Design::pythia_gqa};
    return designs;
}

std::vector<Design> every_design() {
    std::vector<Design> designs;
    for (const DesignName& n : kDesignNames)
        if (!design_entry(n.design).untrained_block) designs.push_back(n.design);
    return designs;
}

std::string designs_text(const std::vector<Design>& designs) {
    std::string s;
    for (Design d : designs) s += (s.empty() ? "" : ",") + std::string(design_key(d));
    return s;
}

}  // namespace cp::model
