// Measures of context vectors: the OACD loss (Phase 1's objective), the convergence rate of
// the fixed-point iteration, effective rank, dispersion and mean pairwise cosine similarity; and
// a Context-Pythia model's context diversity (experiment/context_diversity.h) measured with them.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/context_diversity.h"
#include "model/models.h"

namespace cp::train {

struct OacdLoss {
    torch::Tensor loss, dispersion, centroid;  // scalars; loss = dispersion + w x centroid
};
// X (n, d): dispersion = -||X - mean(X)||_F / n, centroid = ||mean(X)||^2.
OacdLoss oacd_loss(const torch::Tensor& contexts, double centroid_weight);

// Share of rows whose mean squared change mean((C - P)^2) is below `threshold`.
double convergence_rate(const torch::Tensor& current, const torch::Tensor& previous,
                        double threshold);

// exp(Shannon entropy of the normalised singular values) of the uncentred matrix (n, d).
double effective_rank(const torch::Tensor& contexts);

// Mean L2 distance of rows from their centroid.
double dispersion(const torch::Tensor& contexts);

// Mean cosine similarity over distinct pairs of rows.
double mean_pairwise_cosine(const torch::Tensor& contexts);

// At most `count` rows, evenly spaced (deterministic).
torch::Tensor sample_rows(const torch::Tensor& x, std::int64_t count);

// The ContextBlock of `model` run over real held-out text `ids`: the PCA points, the cosine
// histogram and the effective rank. `tokens` and `frequencies` go with `ids` one to one: each
// token's text (the hover) and its share of the training tokens (a colouring).
ContextDiversity measure_context_diversity(model::ContextBlockModel& model,
                                           const std::vector<std::int64_t>& ids,
                                           const std::vector<std::string>& tokens,
                                           const std::vector<double>& frequencies,
                                           const std::string& stage, int histogram_bins = 40);

}  // namespace cp::train
