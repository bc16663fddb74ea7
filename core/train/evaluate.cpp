#include "train/evaluate.h"

#include <cmath>

#include "common/stats.h"
#include "data/test_chunks.h"
#include "train/phase2.h"

#include "store/metric_names.h"

namespace cp::train {
namespace F = torch::nn::functional;

void PositionLosses::add_chunks(const torch::Tensor& losses, const torch::Tensor& right) {
    add(losses, 0);
    const auto append_means = [](const torch::Tensor& t, std::vector<double>& to) {
        const torch::Tensor means = t.to(torch::kFloat64).mean(1).cpu().contiguous();
        const double* m = means.data_ptr<double>();
        to.insert(to.end(), m, m + means.size(0));
    };
    append_means(losses, chunk_loss);
    append_means(right, chunk_accuracy);
}

void record_chunk_outcomes(const std::vector<double>& chunk_loss,
                           const std::vector<double>& chunk_accuracy,
                           const std::vector<std::size_t>& chunk_document, RunLogger& log) {
    for (std::size_t i = 0; i < chunk_loss.size(); ++i) {
        const auto step = static_cast<std::int64_t>(i);
        log.metric(names::test_chunk_loss, step, -1, chunk_loss[i]);
        if (i < chunk_accuracy.size())
            log.metric(names::test_chunk_accuracy, step, -1, chunk_accuracy[i]);
        if (i < chunk_document.size())
            log.metric(names::test_chunk_document, step, -1,
                       static_cast<double>(chunk_document[i]));
    }
}

void PassageOutcomes::add(bool passage_right, const std::vector<double>& token_nll) {
    right.push_back(passage_right);
    double sum = 0;
    for (double x : token_nll) sum += x;
    nll.push_back(sum);
}

void record_passage_outcomes(const PassageOutcomes& o, RunLogger& log) {
    for (std::size_t i = 0; i < o.right.size(); ++i) {
        const auto step = static_cast<std::int64_t>(i);
        log.metric(names::last_word_passage_correct, step, -1, o.right[i] ? 1.0 : 0.0);
        if (i < o.nll.size()) log.metric(names::last_word_passage_nll, step, -1, o.nll[i]);
    }
}

void PositionLosses::add(const torch::Tensor& losses, std::int64_t first) {
    const torch::Tensor per_position = losses.to(torch::kFloat64).sum(0).cpu().contiguous();
    const std::int64_t n = per_position.size(0), rows = losses.size(0);
    if (static_cast<std::int64_t>(sum.size()) < first + n) {
        sum.resize(static_cast<std::size_t>(first + n), 0.0);
        count.resize(static_cast<std::size_t>(first + n), 0);
    }
    const double* v = per_position.data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) {
        sum[static_cast<std::size_t>(first + i)] += v[i];
        count[static_cast<std::size_t>(first + i)] += rows;
    }
}

void record_loss_by_position(const PositionLosses& p, RunLogger& log) {
    const std::int64_t length = static_cast<std::int64_t>(p.sum.size());
    const std::int64_t width = length <= 64 ? 1 : std::max<std::int64_t>(1, (length - 64 + 63) / 64);
    for (std::int64_t first = 0; first < length;) {
        const std::int64_t span = first < 64 ? 1 : width;
        double total = 0;
        std::int64_t n = 0;
        for (std::int64_t i = first; i < std::min(length, first + span); ++i) {
            total += p.sum[static_cast<std::size_t>(i)];
            n += p.count[static_cast<std::size_t>(i)];
        }
        if (n > 0) log.metric(names::loss_by_position, first + 1, -1, total / static_cast<double>(n));
        first += span;
    }
}

ScoredBytes scored_kv_bytes(model::CausalLm& net, const torch::Tensor& inputs,
                            const model::CachePolicy& policy, const model::KvBases* bases,
                            std::int64_t uncompressed, std::int64_t step) {
    torch::NoGradGuard no_grad;
    ScoredBytes b;
    b.length = inputs.size(1);
    model::KvCache cache = net.make_cache(policy, bases);
    double weighted = 0;
    for (std::int64_t t = 0; t < b.length;) {
        const std::int64_t n =
            std::min(b.length - t, t == 0 && uncompressed > 0 ? uncompressed : std::max<std::int64_t>(1, step));
        net.forward(inputs.narrow(1, t, n), &cache);
        t += n;
        const double per_token = static_cast<double>(cache.kv_bytes()) / static_cast<double>(t);
        weighted += per_token * static_cast<double>(n);
        b.last_per_token = per_token;
    }
    b.mean_per_token = b.length > 0 ? weighted / static_cast<double>(b.length) : 0;
    return b;
}

void record_scored_bytes(const ScoredBytes& b, RunLogger& log) {
    log.result(names::scored_kv_bytes_per_token, b.mean_per_token);
    log.result(names::scored_kv_bytes_per_token_last, b.last_per_token);
    log.result(names::scored_length, static_cast<double>(b.length));
}

namespace {

// The per-position losses of every chunk, in batches (one uncached forward each).
PositionLosses position_losses(model::CausalLm& model, const torch::Tensor& chunks,
                               std::int64_t batch) {
    torch::NoGradGuard no_grad;
    const torch::Device device = model.parameters().front().device();
    PositionLosses p;
    const std::int64_t seq = chunks.size(1) - 1;
    for (std::int64_t start = 0; start < chunks.size(0); start += batch) {
        const torch::Tensor b =
            chunks.narrow(0, start, std::min(batch, chunks.size(0) - start)).to(device);
        const torch::Tensor logits = model.forward(b.narrow(1, 0, seq)).to(torch::kFloat32);
        const torch::Tensor targets = b.narrow(1, 1, seq);
        const torch::Tensor losses =
            F::cross_entropy(logits.reshape({-1, logits.size(2)}), targets.reshape({-1}),
                             F::CrossEntropyFuncOptions().reduction(torch::kNone))
                .view({b.size(0), seq});
        p.add_chunks(losses, logits.argmax(-1) == targets);
    }
    return p;
}

}  // namespace

StridedPerplexity strided_perplexity(model::CausalLm& model,
                                     const std::vector<std::vector<std::int64_t>>& spans,
                                     std::int64_t length, std::int64_t stride) {
    torch::NoGradGuard no_grad;
    model.eval();
    const torch::Device device = model.parameters().front().device();
    double nll = 0;
    StridedPerplexity r;
    for (const std::vector<std::int64_t>& span : spans)
        for (const data::StridedWindow& w :
             data::strided_windows(span.size(), static_cast<std::size_t>(length),
                                   static_cast<std::size_t>(stride))) {
            const std::int64_t count = static_cast<std::int64_t>(w.end - w.first_scored);
            if (count <= 0) continue;
            const std::vector<std::int64_t> ids(span.begin() + static_cast<std::ptrdiff_t>(w.begin),
                                                span.begin() + static_cast<std::ptrdiff_t>(w.end));
            const torch::Tensor input = torch::tensor(ids, torch::kInt64).view({1, -1}).to(device);
            // Row j of the logits predicts token j + 1 of the window.
            const std::int64_t first = static_cast<std::int64_t>(w.first_scored - w.begin) - 1;
            const torch::Tensor logits = model.forward(input)[0].to(torch::kFloat32);
            nll += F::cross_entropy(logits.narrow(0, first, count), input[0].narrow(0, first + 1, count),
                                    F::CrossEntropyFuncOptions().reduction(torch::kSum))
                       .item<double>();
            r.tokens += count;
        }
    r.ppl = r.tokens > 0 ? std::exp(nll / static_cast<double>(r.tokens)) : 0;
    return r;
}

namespace {

// Last-word accuracy (greedy prediction reproduces every token of " " + word), its Wilson
// interval, the target perplexity and each passage's outcome.
void evaluate_last_words(model::CausalLm& model, const std::vector<LastWordItem>& last_words,
                         const torch::Device& device, RunLogger& log,
                         const std::atomic<bool>& stop, EvalResult& r) {
    std::int64_t correct = 0, target_tokens = 0;
    double target_nll = 0;
    PassageOutcomes outcomes;
    for (std::size_t i = 0; i < last_words.size() && !stop.load(); ++i) {
        const LastWordItem& item = last_words[i];
        std::vector<std::int64_t> ids = item.context;
        ids.insert(ids.end(), item.target.begin(), item.target.end());
        const torch::Tensor input = torch::tensor(ids, torch::kInt64).view({1, -1}).to(device);
        // Only the rows that predict the target's tokens: context.size() - 1 onwards.
        const std::int64_t first = static_cast<std::int64_t>(item.context.size()) - 1;
        const std::int64_t count = static_cast<std::int64_t>(item.target.size());
        const torch::Tensor logp = torch::log_softmax(
            model.forward(input)[0].narrow(0, first, count).to(torch::kFloat32), -1);  // (count, V)
        bool all = true;
        std::vector<double> nll;
        for (std::int64_t k = 0; k < count; ++k) {
            const torch::Tensor row = logp[k];  // predicts target[k]
            all = all &&
                  row.argmax().item<std::int64_t>() == item.target[static_cast<std::size_t>(k)];
            nll.push_back(-row[item.target[static_cast<std::size_t>(k)]].item<double>());
            target_nll += nll.back();
            ++target_tokens;
        }
        correct += all ? 1 : 0;
        outcomes.add(all, nll);
        if (i % 20 == 0)
            log.progress(static_cast<std::int64_t>(i), static_cast<std::int64_t>(last_words.size()),
                         0);
    }
    r.last_word_passages = static_cast<std::int64_t>(last_words.size());
    if (!last_words.empty()) {
        r.last_word_accuracy =
            static_cast<double>(correct) / static_cast<double>(last_words.size());
        r.last_word_ppl = std::exp(target_nll / static_cast<double>(target_tokens));
    }
    const Interval ci = wilson_interval(correct, r.last_word_passages);
    r.last_word_correct = correct;
    r.last_word_accuracy_low = ci.low;
    r.last_word_accuracy_high = ci.high;
    log.result(names::last_word_accuracy, r.last_word_accuracy);
    log.result(names::last_word_correct, static_cast<double>(correct));
    log.result(names::last_word_accuracy_low, ci.low);
    log.result(names::last_word_accuracy_high, ci.high);
    log.result(names::last_word_ppl, r.last_word_ppl);
    if (!last_words.empty())
        log.result(names::last_word_ppl_per_passage,
                   std::exp(target_nll / static_cast<double>(last_words.size())));
    log.result(names::last_word_passages, static_cast<double>(r.last_word_passages));
    record_passage_outcomes(outcomes, log);

}

// The KV cache's bytes from its tensors at each length, beside the config's formula, and the
// cached generation speed.
void record_kv_trace(model::CausalLm& model, const std::vector<std::int64_t>& prompt,
                     const EvalParams& params, RunLogger& log, const std::atomic<bool>& stop,
                     EvalResult& r) {
    const model::KvTrace trace = model::measure_kv_cache(model, prompt, params.kv_lengths, &stop);
    for (const model::KvMeasurement& m : trace.measurements) {
        log.result(names::kv_bytes_per_token_at(m.tokens), m.kv_bytes_per_token());
        log.result(names::kv_bytes_at(m.tokens), static_cast<double>(m.kv_bytes));
        log.result(names::kv_state_bytes_at(m.tokens), static_cast<double>(m.state_bytes));
        log.metric(names::kv_bytes, m.tokens, -1, static_cast<double>(m.kv_bytes));
        log.result(names::kv_formula_values_per_token_at(m.tokens),
                   static_cast<double>(model.config().kv_values_formula(m.tokens)) /
                       static_cast<double>(m.tokens));
    }
    r.kv = trace.measurements;
    if (trace.decode_seconds > 0)
        r.generation_tokens_per_second =
            static_cast<double>(trace.decoded_tokens) / trace.decode_seconds;
    log.result(names::generation_tokens_per_second, r.generation_tokens_per_second);
}

}  // namespace

EvalResult evaluate_model(model::CausalLm& model, const torch::Tensor& test_chunks,
                          const std::vector<LastWordItem>& last_words,
                          const std::vector<std::int64_t>& prompt, const EvalParams& params,
                          std::int64_t batch_size, RunLogger& log, const std::atomic<bool>& stop) {
    EvalResult r;
    const torch::Device device = model.parameters().front().device();
    // 1. Held-out documents: perplexity exp(mean CE) and token accuracy.
    const LossAndAccuracy test = evaluate_chunks(model, test_chunks, batch_size);
    r.test_loss = test.loss;
    r.test_ppl = std::exp(test.loss);
    r.test_accuracy = test.accuracy;
    r.test_tokens = test.tokens;
    log.result(names::test_loss, r.test_loss);
    log.result(names::test_ppl, r.test_ppl);
    log.result(names::test_accuracy, r.test_accuracy);
    log.result(names::test_tokens, static_cast<double>(r.test_tokens));

    torch::NoGradGuard no_grad;
    model.eval();
    // The loss at each position, and the bytes a full cache holds over the same chunks.
    const PositionLosses positions = position_losses(model, test_chunks, batch_size);
    record_loss_by_position(positions, log);
    r.chunk_loss = positions.chunk_loss;
    r.chunk_accuracy = positions.chunk_accuracy;
    if (test_chunks.size(0) > 0)
        record_scored_bytes(
            scored_kv_bytes(model, test_chunks.narrow(0, 0, 1).narrow(1, 0, test_chunks.size(1) - 1).to(device),
                            model::CachePolicy{}, nullptr, 0, 1),
            log);
    // 2. Last word: correct iff greedy prediction reproduces every token of " " + word.
    evaluate_last_words(model, last_words, device, log, stop, r);
    // 3. KV cache bytes from the cache tensors, and cached generation speed.
    record_kv_trace(model, prompt, params, log, stop, r);
    model.train();
    return r;
}

}  // namespace cp::train
