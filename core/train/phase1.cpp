#include "train/phase1.h"

#include <chrono>

#include "train/context_metrics.h"

#include "store/metric_names.h"

namespace cp::train {

Phase1Result run_phase1(model::ContextPythiaModel& model, const torch::Tensor& stream,
                        const Phase1Params& params, std::uint64_t seed, RunLogger& log,
                        const std::atomic<bool>& stop) {
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    torch::manual_seed(seed);
    const torch::Device device = model.embed_in->weight.device();
    const std::int64_t d = model.config().context_dim;
    const std::int64_t n = stream.size(0);

    // Token embeddings E = embed_norm(embed_in(ids)) over the stream, once, without gradient.
    torch::Tensor embeds;
    {
        torch::NoGradGuard no_grad;
        embeds = model.embed(stream.to(device).view({1, n})).view({n, -1});  // (N, embed_dim)
    }
    auto block = model.context_block;
    for (auto& p : block->parameters()) p.set_requires_grad(true);
    torch::optim::Adam optimizer(block->parameters(),
                                 torch::optim::AdamOptions(params.learning_rate));

    // 1. Iteration 0: previous contexts P = N(0, 1) x init_scale.
    torch::Tensor previous = torch::randn({n, d}, embeds.options()) * params.init_scale;  // (N, d)
    const std::int64_t batches = (n + params.batch_size - 1) / params.batch_size;
    Phase1Result result;
    for (std::int64_t it = 0; it < params.max_iterations; ++it) {
        if (stop.load()) {
            result.stopped = true;
            break;
        }
        const auto iteration_start = clock::now();
        // 2. S = [0 ; P[:-1]] (the previous token's context) plus Gaussian noise.
        torch::Tensor shifted =
            torch::cat({torch::zeros({1, d}, previous.options()), previous.narrow(0, 0, n - 1)});
        shifted = shifted + torch::randn_like(shifted) * params.noise_std;
        optimizer.zero_grad();
        torch::Tensor current = torch::empty({n, d}, previous.options());
        double loss_sum = 0, dispersion_sum = 0, centroid_sum = 0;
        for (std::int64_t b = 0; b < batches; ++b) {
            const std::int64_t start = b * params.batch_size,
                               len = std::min(params.batch_size, n - start);
            const torch::Tensor c = block->step(shifted.narrow(0, start, len),
                                                embeds.narrow(0, start, len));  // (len, d)
            const OacdLoss l = oacd_loss(c, params.centroid_weight);
            // Gradients of all batches accumulate into one step: loss / num_batches each.
            (l.loss / static_cast<double>(batches)).backward();
            current.narrow(0, start, len).copy_(c.detach());
            loss_sum += l.loss.item<double>();
            dispersion_sum += l.dispersion.item<double>();
            centroid_sum += l.centroid.item<double>();
        }
        if (params.clip_grad_norm > 0)
            torch::nn::utils::clip_grad_norm_(block->parameters(), params.clip_grad_norm);
        optimizer.step();  // one Adam step per iteration

        // 3. Convergence: share of tokens whose context moved less than the threshold.
        const double rate = convergence_rate(current, previous, params.convergence_threshold);
        previous = current;  // P <- C (detached)

        const torch::Tensor ranked = sample_rows(current, params.rank_sample);
        const double er = effective_rank(ranked);
        const double seconds =
            std::chrono::duration<double>(clock::now() - iteration_start).count();
        const double loss = loss_sum / static_cast<double>(batches);
        log.metric(names::oacd_loss, it, -1, loss);
        log.metric(names::dispersion_term, it, -1, dispersion_sum / static_cast<double>(batches));
        log.metric(names::centroid_term, it, -1, centroid_sum / static_cast<double>(batches));
        log.metric(names::convergence_rate, it, -1, rate);
        log.metric(names::effective_rank, it, -1, er);
        log.metric(names::effective_rank_pct, it, -1, 100.0 * er / static_cast<double>(d));
        log.metric(names::mean_pairwise_cosine, it, -1,
                   mean_pairwise_cosine(sample_rows(current, params.cosine_sample)));
        log.metric(names::dispersion, it, -1, dispersion(ranked));
        log.metric(names::seconds, it, -1, seconds);
        log.progress(it + 1, params.max_iterations, loss);

        result.iterations = it + 1;
        result.convergence_rate = rate;
        result.effective_rank = er;
        result.oacd_loss = loss;
        // 4. Stop at the convergence target (or, by the loop, at max iterations).
        if (rate >= params.convergence_target) {
            result.converged = true;
            break;
        }
    }
    model.freeze_context_block();  // frozen from here on
    result.seconds = std::chrono::duration<double>(clock::now() - started).count();
    return result;
}

}  // namespace cp::train
