// Computes a ContextDiversity (context_diversity.h) from a Context-Pythia model: its ContextBlock
// run over real held-out text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/models.h"
#include "experiment/context_diversity.h"

namespace cp::train {

// `tokens` and `frequencies` go with `ids` one to one: each token's text (the hover) and its
// share of the training tokens (a colouring).
ContextDiversity context_diversity(model::ContextBlockModel& model,
                                   const std::vector<std::int64_t>& ids,
                                   const std::vector<std::string>& tokens,
                                   const std::vector<double>& frequencies, const std::string& stage,
                                   int histogram_bins = 40);

}  // namespace cp::train
