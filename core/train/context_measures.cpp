#include "train/context_measures.h"

#include <cmath>

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

ContextDiversity measure_context_diversity(model::ContextBlockModel& model,
                                           const std::vector<std::int64_t>& ids,
                                           const std::vector<std::string>& tokens,
                                           const std::vector<double>& frequencies,
                                           const std::string& stage, int histogram_bins) {
    torch::NoGradGuard no_grad;
    // The block and embeddings have no dropout: training or eval mode gives the same contexts.
    const auto device = model.block()->parameters().front().device();
    const torch::Tensor x = torch::tensor(ids, torch::kInt64).view({1, -1}).to(device);
    // (T, context_dim) contexts of the recurrence from a zero state, in float64 for the SVD.
    const torch::Tensor c =
        model.block()->forward(model.embed(x), torch::Tensor(), nullptr)[0].to(
            torch::kCPU, torch::kFloat64);

    ContextDiversity d;
    d.stage = stage;
    d.context_dim = c.size(1);
    // PCA: the centred contexts' top two right singular vectors.
    const torch::Tensor centred = c - c.mean(0, true);
    const auto svd = torch::linalg_svd(centred, false, c10::nullopt);
    const torch::Tensor s = std::get<1>(svd), vh = std::get<2>(svd);
    const torch::Tensor projected = centred.matmul(vh.narrow(0, 0, 2).t()).contiguous();
    const torch::Tensor variance = s.pow(2);
    const double total = variance.sum().item<double>();
    for (int k = 0; k < 2; ++k)
        d.explained_variance[k] = total > 0 ? variance[k].item<double>() / total : 0.0;
    const auto pa = projected.accessor<double, 2>();
    for (std::int64_t i = 0; i < c.size(0); ++i) {
        d.pc1.push_back(pa[i][0]);
        d.pc2.push_back(pa[i][1]);
        d.positions.push_back(i);
    }
    d.tokens = tokens;
    d.frequencies = frequencies;
    // Cosine similarity of every distinct pair.
    const torch::Tensor unit = c / c.norm(2, 1, true).clamp_min(1e-12);
    const torch::Tensor sim = unit.matmul(unit.t());
    const torch::Tensor mask = torch::ones_like(sim, torch::kBool).triu(1);
    const torch::Tensor pairs = sim.masked_select(mask);
    d.mean_cosine = pairs.mean().item<double>();
    const torch::Tensor hist = torch::histc(pairs, histogram_bins, -1.0, 1.0);
    for (std::int64_t b = 0; b < histogram_bins; ++b)
        d.cosine_histogram.push_back(
            static_cast<std::int64_t>(std::llround(hist[b].item<double>())));
    d.effective_rank = effective_rank(c);
    d.effective_rank_pct = 100.0 * d.effective_rank / static_cast<double>(d.context_dim);
    return d;
}

}  // namespace cp::train
