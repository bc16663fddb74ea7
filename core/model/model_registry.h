// The registry of model designs: one entry per design with what every front end and the
// experiment plan need to know about it — its presets at each size, whether it trains on a
// ContextBlock from Phase 1, how its KV cache is laid out — without torch. How a design is built
// (its torch module) is the matching case of make_model() in model/models.cpp.
//
// Adding a design: its module file(s), a name line in model/design.h, an entry in
// model_registry.cpp, a case in make_model(), and its tests. Nothing in the CLI, the GUI, the
// plan or the comparison changes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/design.h"
#include "model/model_config.h"

namespace cp::model {

// The preset widths every design has: Pythia-70M's, and a tiny one for tests and quick CPU runs.
enum class ModelSize { tiny, m70 };
const char* size_key(ModelSize s);  // "tiny", "70m"
std::optional<ModelSize> size_from_key(std::string_view key);

// The training values that suit a size, shared by every design: the 70M presets train as the
// reference did; the tiny presets at a learning rate that visibly learns in minutes on a CPU
// (measured: docs/design/DEVIATIONS.md "Tiny presets").
struct TrainingPreset {
    double phase2_learning_rate = 1e-4;
    const char* source = "";  // where the value comes from, for the run's record
};
const TrainingPreset& training_preset(ModelSize size);

// What a design's proponents claim its KV cache costs against Pythia's, shown beside the
// measurement (KV_METHODS.md: "the workbench measures it and shows the claim beside").
struct KvClaim {
    double ratio = 0;         // claimed bytes per token against Pythia's; 0: no claim
    const char* source = "";  // who claims it
};

struct DesignEntry {
    Design design;
    const char* summary;       // one line for --help, the GUI and reports
    bool needs_context_block;  // its Phase 2 trains on a ContextBlock from Phase 1
    const char* kv_layout;     // what its cache stores per token and layer (docs, `info`)
    ModelConfig (*preset)(ModelSize size);
    KvClaim claim = {};
    // The untrained-ContextBlock ablation of a ContextBlock design: a column of its own, trained
    // on the block as initialised (no Phase 1); left out of 'all'.
    bool untrained_block = false;
    // A smaller member of another design's family (the same module at a smaller cache; its
    // config's architecture is the family's): drawn with it as one curve on the Pareto plane;
    // left out of 'all'. The family itself has none.
    std::optional<Design> family = std::nullopt;
};

// The family a design belongs to: its `family`, or itself.
Design design_family(Design d);
// The design whose Phase 1 trains the ContextBlock a ContextBlock design reads: a block is
// trained at one context width, so Context-Pythia's narrower members have Phase 1s of their own;
// Context-KV reads Context-Pythia's (its widths are Context-Pythia's).
Design block_design(Design d);
// The designs below half of Pythia's cache, for 'below-half'.
std::vector<Design> below_half_designs();

const std::vector<DesignEntry>& design_registry();
const DesignEntry& design_entry(Design d);
ModelConfig design_preset(Design d, ModelSize size);

// What one experiment trains unless told otherwise (KV_METHODS.md part C): Pythia, Context-Pythia
// and the three comparators that need no other parameter, and (#26) the untrained-block ablation,
// so the recurrence's and Phase 1's effects are both measured.
const std::vector<Design>& default_designs();
// Every design, for 'all': the registry's designs (not the below-half members), the
// untrained-block ablation right after Context-Pythia.
std::vector<Design> every_design();
// "pythia,context-pythia,...": for help texts.
std::string designs_text(const std::vector<Design>& designs);

}  // namespace cp::model
