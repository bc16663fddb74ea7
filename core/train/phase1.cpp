#include "train/phase1.h"

#include <chrono>
#include <cmath>

#include "store/metric_names.h"
#include "train/context_measures.h"
#include "train/distributed.h"

namespace cp::train {

double recurrent_context_rank(model::ContextPythiaModel& model, const torch::Tensor& ids) {
    torch::NoGradGuard no_grad;
    const torch::Device device = model.embed_in->weight.device();
    const torch::Tensor e = model.embed(ids.to(device).view({1, -1}));  // (1, T, embed)
    return effective_rank(model.context_block->forward(e, torch::Tensor())[0]);
}

namespace {

struct IterationTotals {
    double loss = 0, dispersion = 0, centroid = 0;
    std::int64_t used = 0, skipped = 0;
};

// One iteration after 0: the shifted, noisy previous contexts through the block in batches,
// OACD per batch (a non-finite batch is skipped, as in the reference), the gradients of all
// batches accumulated as loss / num_batches; `current` receives the new contexts.
IterationTotals oacd_pass(model::ContextBlock& block, const torch::Tensor& previous,
                          const torch::Tensor& embeds, const Phase1Params& params,
                          torch::Tensor& current, ProcessGroup* group) {
    const std::int64_t n = previous.size(0), d = previous.size(1);
    const std::int64_t batches = (n + params.batch_size - 1) / params.batch_size;
    // S = [0 ; P[:-1]] (the previous token's context) plus Gaussian noise.
    torch::Tensor shifted =
        torch::cat({torch::zeros({1, d}, previous.options()), previous.narrow(0, 0, n - 1)});
    shifted = shifted + torch::randn_like(shifted) * params.noise_std;
    IterationTotals t;
    for (std::int64_t b = 0; b < batches; ++b) {
        // Data parallel: each rank takes every world_size-th batch (the noise above is the same
        // on every rank: the same seed draws it).
        if (group && b % group->world_size() != group->rank()) continue;
        const std::int64_t start = b * params.batch_size,
                           len = std::min(params.batch_size, n - start);
        const torch::Tensor c =
            block->step(shifted.narrow(0, start, len), embeds.narrow(0, start, len));  // (len, d)
        current.narrow(0, start, len).copy_(c.detach());
        const OacdLoss l = oacd_loss(c, params.centroid_weight);
        const double loss = l.loss.item<double>();
        if (!std::isfinite(loss)) {
            ++t.skipped;
            continue;
        }
        (l.loss / static_cast<double>(batches)).backward();
        t.loss += loss;
        t.dispersion += l.dispersion.item<double>();
        t.centroid += l.centroid.item<double>();
        ++t.used;
    }
    return t;
}

// The iteration's gradients, contexts and totals summed over the ranks (one set of collectives),
// so every rank steps alike and holds the whole iterate.
void sum_over_ranks(ProcessGroup& group, model::ContextBlock& block, torch::Tensor& current,
                    IterationTotals& t) {
    std::vector<torch::Tensor> summed;
    for (auto& p : block->parameters()) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        summed.push_back(p.grad());
    }
    summed.push_back(current);
    const torch::Tensor totals = torch::tensor(
        {t.loss, t.dispersion, t.centroid, static_cast<double>(t.used), static_cast<double>(t.skipped)},
        torch::kFloat64);
    summed.push_back(totals);
    group.allreduce_sum(summed);
    const auto v = totals.accessor<double, 1>();
    t.loss = v[0];
    t.dispersion = v[1];
    t.centroid = v[2];
    t.used = static_cast<std::int64_t>(std::llround(v[3]));
    t.skipped = static_cast<std::int64_t>(std::llround(v[4]));
}

}  // namespace

namespace {

// One iteration's contexts from the previous ones, batch by batch, and one Adam step. With
// ranks, each fills its batches' rows and the sum over the ranks fills them all.
IterationTotals oacd_iteration(model::ContextBlock& block, torch::optim::Adam& optimizer,
                               const torch::Tensor& previous, const torch::Tensor& embeds,
                               const Phase1Params& params, ProcessGroup* group,
                               torch::Tensor& current, Phase1Result& result) {
    const std::int64_t n = previous.size(0), d = previous.size(1);
    optimizer.zero_grad();
    current = group ? torch::zeros({n, d}, previous.options())
                    : torch::empty({n, d}, previous.options());
    IterationTotals t = oacd_pass(block, previous, embeds, params, current, group);
    if (group) sum_over_ranks(*group, block, current, t);
    if (params.clip_grad_norm > 0)
        torch::nn::utils::clip_grad_norm_(block->parameters(), params.clip_grad_norm);
    if (t.used > 0) {
        optimizer.step();  // one Adam step per iteration
        ++result.adam_steps;
    }
    result.skipped_batches += t.skipped;
    return t;
}

// The iteration's loss and its terms, convergence, the iterate's rank, dispersion and cosine;
// returns the iterate's effective rank.
double log_iteration(RunLogger& log, std::int64_t it, const IterationTotals& t, double rate,
                     const torch::Tensor& current, const Phase1Params& params, double width) {
    const torch::Tensor ranked = sample_rows(current, params.rank_sample);
    const double iterate = effective_rank(ranked);
    const double used = static_cast<double>(std::max<std::int64_t>(1, t.used));
    log.metric(names::oacd_loss, it, -1, t.loss / used);
    log.metric(names::dispersion_term, it, -1, t.dispersion / used);
    log.metric(names::centroid_term, it, -1, t.centroid / used);
    log.metric(names::convergence_rate, it, -1, rate);
    log.metric(names::iterate_rank, it, -1, iterate);
    log.metric(names::iterate_rank_pct, it, -1, 100.0 * iterate / width);
    log.metric(names::mean_pairwise_cosine, it, -1,
               mean_pairwise_cosine(sample_rows(current, params.cosine_sample)));
    log.metric(names::dispersion, it, -1, dispersion(ranked));
    if (t.skipped > 0) log.metric(names::skipped_batches, it, -1, static_cast<double>(t.skipped));
    return iterate;
}

// Token embeddings E = embed_norm(embed_in(ids)) over the stream, once, without gradient.
torch::Tensor stream_embeddings(model::ContextPythiaModel& model, const torch::Tensor& stream) {
    torch::NoGradGuard no_grad;
    const std::int64_t n = stream.size(0);
    return model.embed(stream.view({1, n})).view({n, -1});
}

}  // namespace

Phase1Result run_phase1(model::ContextPythiaModel& model, const torch::Tensor& stream,
                        const Phase1Params& params, std::uint64_t seed, RunLogger& log,
                        const std::atomic<bool>& stop, const torch::Tensor& held_out,
                        ProcessGroup* group) {
    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    torch::manual_seed(seed);
    const torch::Device device = model.embed_in->weight.device();
    const std::int64_t d = model.config().context_dim, n = stream.size(0);
    const double width = static_cast<double>(d);
    const torch::Tensor embeds = stream_embeddings(model, stream.to(device));  // (N, embed_dim)
    auto block = model.context_block;
    for (auto& p : block->parameters()) p.set_requires_grad(true);
    torch::optim::Adam optimizer(block->parameters(),
                                 torch::optim::AdamOptions(params.learning_rate));
    const auto log_context_rank = [&](std::int64_t it) {
        if (!held_out.defined() || held_out.numel() == 0) return 0.0;
        const double r = recurrent_context_rank(model, held_out);
        log.metric(names::context_rank, it, -1, r);
        log.metric(names::context_rank_pct, it, -1, 100.0 * r / width);
        return r;
    };
    Phase1Result result;
    // Iteration 0 only initialises (the reference `continue`s): P = N(0, 1) x init_scale; no
    // forward pass, no Adam step. The untrained block's context rank is measured here.
    torch::Tensor previous = torch::randn({n, d}, embeds.options()) * params.init_scale;
    result.context_rank_initial = result.context_rank = log_context_rank(0);
    result.iterations = 1;
    for (std::int64_t it = 1; it < params.max_iterations; ++it) {
        if ((result.stopped = stop.load())) break;
        const auto iteration_start = clock::now();
        torch::Tensor current;
        const IterationTotals t = oacd_iteration(block, optimizer, previous, embeds, params,
                                                 group, current, result);
        // Convergence: share of tokens whose context moved less than the threshold.
        const double rate = convergence_rate(current, previous, params.convergence_threshold);
        previous = current;  // P <- C (detached)
        const double iterate = log_iteration(log, it, t, rate, current, params, width);
        const double used = static_cast<double>(std::max<std::int64_t>(1, t.used));
        result.context_rank = log_context_rank(it);
        log.metric(names::seconds, it, -1,
                   std::chrono::duration<double>(clock::now() - iteration_start).count());
        log.progress(it + 1, params.max_iterations, t.loss / used);
        result.iterations = it + 1;
        result.convergence_rate = rate;
        result.iterate_rank = iterate;
        result.oacd_loss = t.loss / used;
        // Stop at the convergence target (or, by the loop, at max iterations).
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
