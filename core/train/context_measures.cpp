#include "train/context_metrics.h"

namespace cp::train {

OacdLoss oacd_loss(const torch::Tensor& x, double centroid_weight) {
    const double n = static_cast<double>(x.size(0));
    const torch::Tensor mean = x.mean(0);                                   // (d)
    // The norm of every element: Frobenius (at::frobenius_norm changed signature in libtorch 2.x).
    const torch::Tensor dispersion = -(x - mean).norm() / n;  // scalar
    const torch::Tensor centroid = mean.pow(2).sum();                       // scalar
    return {dispersion + centroid_weight * centroid, dispersion, centroid};
}

double convergence_rate(const torch::Tensor& current, const torch::Tensor& previous,
                        double threshold) {
    const torch::Tensor change = (current - previous).pow(2).mean(1);  // (n)
    return (change < threshold).to(torch::kFloat64).mean().item<double>();
}

double effective_rank(const torch::Tensor& x) {
    const torch::Tensor s = torch::linalg_svdvals(x.to(torch::kFloat64), c10::nullopt);
    const torch::Tensor p = s / s.sum();
    const torch::Tensor nz = p.masked_select(p > 0);
    return std::exp(-(nz * nz.log()).sum().item<double>());
}

double dispersion(const torch::Tensor& x) {
    return (x - x.mean(0)).norm(2, 1).mean().item<double>();
}

double mean_pairwise_cosine(const torch::Tensor& x) {
    const std::int64_t n = x.size(0);
    const torch::Tensor unit =
        x.to(torch::kFloat64) / x.to(torch::kFloat64).norm(2, 1, true).clamp_min(1e-12);
    const torch::Tensor gram = unit.matmul(unit.t());  // (n, n)
    return ((gram.sum() - gram.diagonal().sum()) / static_cast<double>(n * (n - 1))).item<double>();
}

torch::Tensor sample_rows(const torch::Tensor& x, std::int64_t count) {
    if (x.size(0) <= count) return x;
    const torch::Tensor idx = torch::linspace(0, static_cast<double>(x.size(0) - 1), count,
                                              torch::TensorOptions().dtype(torch::kFloat64))
                                  .to(torch::kInt64)
                                  .to(x.device());
    return x.index_select(0, idx);
}

}  // namespace cp::train
