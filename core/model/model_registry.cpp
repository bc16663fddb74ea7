#include "model/model_registry.h"

#include <algorithm>

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

// ---- below half (KV_METHODS.md §D) ----------------------------------------------------------
// Each keeps its family's module and changes only what sets the cache; at the tiny size, where
// a head of 4 dims would leave fewer than 2 rotary dims, the head count drops to keep heads of 8.

// Pythia at a quarter of its width: 128 at 70M (8 heads of 16), 16 at tiny (2 heads of 8).
ModelConfig pythia_128_preset(ModelSize size) {
    ModelConfig c = pythia_preset(size);
    c.architecture = Design::pythia_256;  // the narrow-Pythia family's module
    c.embed_dim = size == ModelSize::tiny ? 16 : 128;
    if (size == ModelSize::tiny) c.heads = 2;
    c.intermediate = 4 * c.embed_dim;
    return c;
}

// Context-Pythia's layers at context widths of a quarter and an eighth of Pythia's hidden width
// (128 and 64 at 70M, 16 and 8 at tiny), behind the ContextBlock (Context-Pythia's family) or the
// per-token projection (projection-256's): the same module at the narrower width.
ModelConfig context_width_at(ModelSize size, std::int64_t share, Design module) {
    ModelConfig c = context_pythia_preset(size);
    c.architecture = module;
    c.context_dim = c.embed_dim / share;
    if (size == ModelSize::tiny) c.heads = c.context_dim / 8;
    c.intermediate = 4 * c.context_dim;
    return c;
}
ModelConfig context_pythia_128_preset(ModelSize size) {
    return context_width_at(size, 4, Design::context_pythia);
}
ModelConfig context_pythia_64_preset(ModelSize size) {
    return context_width_at(size, 8, Design::context_pythia);
}
ModelConfig projection_at(ModelSize size, std::int64_t share) {
    return context_width_at(size, share, Design::projection_256);
}
ModelConfig projection_128_preset(ModelSize size) { return projection_at(size, 4); }
ModelConfig projection_64_preset(ModelSize size) { return projection_at(size, 8); }

// Grouped-query attention with heads / 4 and heads / 8 K/V heads (70M: 2 and 1 of 8); the tiny
// eighth runs 8 query heads of 8 dims so that one K/V head is an eighth.
ModelConfig pythia_gqa_2_preset(ModelSize size) {
    ModelConfig c = pythia_gqa_preset(size);
    c.kv_heads = c.heads / 4;
    return c;
}
ModelConfig pythia_gqa_1_preset(ModelSize size) {
    ModelConfig c = pythia_gqa_preset(size);
    if (size == ModelSize::tiny) c.heads = 8;
    c.kv_heads = c.heads / 8;
    return c;
}

// Latent attention whose latent plus rotary key is a quarter and an eighth of 2 x hidden.
ModelConfig pythia_mla_at(ModelSize size, std::int64_t share) {
    ModelConfig c = pythia_mla_preset(size);
    c.kv_latent = 2 * c.embed_dim / share - c.rotary_dims();
    return c;
}
ModelConfig pythia_mla_240_preset(ModelSize size) { return pythia_mla_at(size, 4); }
ModelConfig pythia_mla_112_preset(ModelSize size) { return pythia_mla_at(size, 8); }

// Context-Pythia with the recurrence removed: embed_in -> embed_norm -> Linear(embed -> context)
// per token, then the same layers at context_dim.
ModelConfig projection_256_preset(ModelSize size) {
    ModelConfig c = context_pythia_preset(size);
    c.architecture = Design::projection_256;
    return c;
}

// Pythia, Context-Pythia and the comparators at half its cache, the seed's context-kv, the exact
// input cache and the ablation.
std::vector<DesignEntry> designs_at_half() {
    return {
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
}

// The comparators at a quarter and an eighth (KV_METHODS.md §D), each of its family.
std::vector<DesignEntry> designs_below_half() {
    return {
        {Design::pythia_128, "Pythia at a quarter of its width (128): its cache at a quarter",
         false, "K and V of width 128 per layer", &pythia_128_preset,
         {0.25, "KV_METHODS.md §D: a quarter by construction"}, false, Design::pythia_256},
        {Design::context_pythia_128,
         "Context-Pythia at context width 128: a quarter of Pythia's cache, its own Phase 1",
         true, "K and V of width 128 per layer, plus one 128-wide recurrent state",
         &context_pythia_128_preset, {0.25, "MODEL_SPEC.md §2 at context_dim = hidden / 4"},
         false, Design::context_pythia},
        {Design::context_pythia_64,
         "Context-Pythia at context width 64: an eighth of Pythia's cache, its own Phase 1", true,
         "K and V of width 64 per layer, plus one 64-wide recurrent state",
         &context_pythia_64_preset, {0.125, "MODEL_SPEC.md §2 at context_dim = hidden / 8"},
         false, Design::context_pythia},
        {Design::projection_128,
         "the projection comparator at context width 128: a quarter of Pythia's cache", false,
         "K and V of width 128 per layer", &projection_128_preset,
         {0.25, "KV_METHODS.md §D: a quarter by construction"}, false, Design::projection_256},
        {Design::projection_64,
         "the projection comparator at context width 64: an eighth of Pythia's cache", false,
         "K and V of width 64 per layer", &projection_64_preset,
         {0.125, "KV_METHODS.md §D: an eighth by construction"}, false, Design::projection_256},
        {Design::pythia_gqa_2, "grouped-query attention with a quarter of the K/V heads", false,
         "K and V of heads / 4 heads per layer", &pythia_gqa_2_preset,
         {0.25, "KV_METHODS.md §D: a quarter by construction"}, false, Design::pythia_gqa},
        {Design::pythia_gqa_1,
         "multi-query attention: one K/V head for 8 query heads (an eighth of the cache)", false,
         "K and V of one head per layer", &pythia_gqa_1_preset,
         {0.125, "KV_METHODS.md §D: an eighth by construction"}, false, Design::pythia_gqa},
        {Design::pythia_mla_240,
         "latent attention whose latent and rotary key are a quarter of Pythia's K and V", false,
         "the latent (hidden / 2 - rotary dims) and one rotary key per layer",
         &pythia_mla_240_preset, {0.25, "KV_METHODS.md §D: a quarter by construction"}, false,
         Design::pythia_mla},
        {Design::pythia_mla_112,
         "latent attention whose latent and rotary key are an eighth of Pythia's K and V", false,
         "the latent (hidden / 4 - rotary dims) and one rotary key per layer",
         &pythia_mla_112_preset, {0.125, "KV_METHODS.md §D: an eighth by construction"}, false,
         Design::pythia_mla},
    };
}

}  // namespace

const std::vector<DesignEntry>& design_registry() {
    static const std::vector<DesignEntry> registry = [] {
        std::vector<DesignEntry> all = designs_at_half();
        for (DesignEntry& e : designs_below_half()) all.push_back(std::move(e));
        return all;
    }();
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
    // #26: with Context-Pythia, the two designs that separate its ingredients join by default:
    // projection-256 (the recurrence) and the untrained-block ablation (Phase 1).
    static const std::vector<Design> designs = {
        Design::pythia,         Design::context_pythia, Design::context_pythia_untrained,
        Design::pythia_256,     Design::projection_256, Design::pythia_gqa};
    return designs;
}

std::vector<Design> every_design() {
    std::vector<Design> designs;
    for (const DesignName& n : kDesignNames) {
        const DesignEntry& e = design_entry(n.design);
        if (!e.untrained_block && !e.family) designs.push_back(n.design);
    }
    // #26: the untrained-block ablation beside Context-Pythia, so the comparison separates
    // Phase 1's effect from the recurrence's (projection-256 is a design of its own).
    const auto cp = std::find(designs.begin(), designs.end(), Design::context_pythia);
    if (cp != designs.end()) designs.insert(cp + 1, Design::context_pythia_untrained);
    return designs;
}

Design design_family(Design d) {
    return design_entry(d).family.value_or(d);
}

Design block_design(Design d) {
    return design_family(d) == Design::context_pythia ? d : Design::context_pythia;
}

std::vector<Design> below_half_designs() {
    std::vector<Design> designs;
    for (const DesignName& n : kDesignNames)
        if (design_entry(n.design).family) designs.push_back(n.design);
    return designs;
}

std::string designs_text(const std::vector<Design>& designs) {
    std::string s;
    for (Design d : designs) s += (s.empty() ? "" : ",") + std::string(design_key(d));
    return s;
}

}  // namespace cp::model
