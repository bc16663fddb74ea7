// Measures of context vectors: the OACD loss (Phase 1's objective), the convergence rate of
// the fixed-point iteration, effective rank, dispersion and mean pairwise cosine similarity.
#pragma once

#include <torch/torch.h>

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

}  // namespace cp::train
