#include "train/diversity.h"

#include <torch/torch.h>

#include <cmath>

#include "train/context_metrics.h"

namespace cp::train {

ContextDiversity context_diversity(model::ContextBlockModel& model,
                                   const std::vector<std::int64_t>& ids,
                                   const std::vector<std::string>& tokens,
                                   const std::vector<double>& frequencies, const std::string& stage,
                                   int histogram_bins) {
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
