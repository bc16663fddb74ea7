// The identity of every model design the workbench trains: the enum that code compares, and the
// one mapping to the text stored in the database and typed on the command line. Header-only and
// free of torch, so the store, the reports and the GUI name designs without linking a model.
// Everything else about a design (presets, whether it needs a ContextBlock, its KV layout, how
// it is built) is its entry in model/model_registry.h.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace cp::model {

enum class Design {
    pythia,
    context_pythia,
    pythia_256,
    projection_256,
    pythia_gqa,
    pythia_mla,
    context_kv,
    context_pythia_untrained,
    pythia_input_cache,
    // Below half (KV_METHODS.md §D): the comparators at a quarter and an eighth of Pythia's
    // cache, each a member of its family (model_registry.h's `family`).
    pythia_128,
    context_pythia_128,
    context_pythia_64,
    projection_128,
    projection_64,
    pythia_gqa_2,
    pythia_gqa_1,
    pythia_mla_240,
    pythia_mla_112,
};

struct DesignName {
    Design design;
    const char* key;      // stored and typed: "context-pythia"
    const char* display;  // shown: "Context-Pythia"
};

// One line per design; the baseline first.
inline constexpr DesignName kDesignNames[] = {
    {Design::pythia, "pythia", "Pythia"},
    {Design::context_pythia, "context-pythia", "Context-Pythia"},
    // Equal-memory comparators (KV_METHODS.md part A): Context-Pythia's cache by other means.
    {Design::pythia_256, "pythia-256", "Pythia-256"},
    {Design::projection_256, "projection-256", "Projection-256"},
    {Design::pythia_gqa, "pythia-gqa", "Pythia-GQA"},
    {Design::pythia_mla, "pythia-mla", "Pythia-MLA"},
    {Design::context_kv, "context-kv", "Context-KV"},
    // The exact reference at half the cache (KV_METHODS.md §D): Pythia itself, caching each
    // layer's normalised input and recomputing K and V from it.
    {Design::pythia_input_cache, "pythia-input-cache", "Pythia, input cache"},
    // Below half: named, like pythia-256, by their widths at 70M.
    {Design::pythia_128, "pythia-128", "Pythia-128 (¼)"},
    {Design::context_pythia_128, "context-pythia-128", "Context-Pythia-128 (¼)"},
    {Design::context_pythia_64, "context-pythia-64", "Context-Pythia-64 (⅛)"},
    {Design::projection_128, "projection-128", "Projection-128 (¼)"},
    {Design::projection_64, "projection-64", "Projection-64 (⅛)"},
    {Design::pythia_gqa_2, "pythia-gqa-2", "Pythia-GQA, 2 K/V heads (¼)"},
    {Design::pythia_gqa_1, "pythia-gqa-1", "Pythia-MQA, 1 K/V head (⅛)"},
    {Design::pythia_mla_240, "pythia-mla-240", "Pythia-MLA, latent 240 (¼)"},
    {Design::pythia_mla_112, "pythia-mla-112", "Pythia-MLA, latent 112 (⅛)"},
    // The ablation: Context-Pythia on an untrained ContextBlock (no Phase 1), trained beside the
    // others as a column of its own. Not a design of its own, so 'all' leaves it out.
    {Design::context_pythia_untrained, "context-pythia-untrained", "Context-Pythia, untrained block"},
};

inline const char* design_key(Design d) {
    for (const DesignName& n : kDesignNames)
        if (n.design == d) return n.key;
    return "?";
}

inline const char* design_display_name(Design d) {
    for (const DesignName& n : kDesignNames)
        if (n.design == d) return n.display;
    return "?";
}

inline std::optional<Design> design_from_key(std::string_view key) {
    for (const DesignName& n : kDesignNames)
        if (key == n.key) return n.design;
    return std::nullopt;
}

// "context-pythia, pythia": for messages that list what is valid.
inline std::string design_keys_text() {
    std::string s;
    for (const DesignName& n : kDesignNames) s += (s.empty() ? "" : ", ") + std::string(n.key);
    return s;
}

// Prints the key (messages, logs, test failures).
inline std::ostream& operator<<(std::ostream& out, Design d) {
    return out << design_key(d);
}

}  // namespace cp::model
