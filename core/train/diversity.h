// Computes a ContextDiversity (context_diversity.h) from a Context-Pythia model: its ContextBlock
// run over real held-out text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/models.h"
#include "train/context_diversity.h"

namespace cp::train {

// `token_texts` and `token_frequency` are indexed by token id (the hover text and the colour).
ContextDiversity context_diversity(model::ContextPythiaModel& model,
                                   const std::vector<std::int64_t>& ids,
                                   const std::vector<std::string>& token_texts,
                                   const std::vector<double>& token_frequency,
                                   const std::string& stage, int histogram_bins = 40);

}  // namespace cp::train
