#include "train/cache_eval.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/numbers.h"
#include "common/peak_memory.h"
#include "common/stats.h"
#include "model/cache_layers.h"
#include "common/sha256.h"
#include "model/kv_calibration.h"
#include "model/checkpoint.h"
#include "data/bpe_tokenizer.h"
#include "data/data_paths.h"
#include "data/experiment_text.h"
#include "data/splits.h"
#include "model/checkpoint_tokenizer.h"
#include "model/models.h"
#include "model/safetensors.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "train/evaluate.h"
#include "train/experiment.h"
#include "train/recorder.h"

namespace cp::train {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using nlohmann::json;

std::string spectrum_metric(char kv, std::int64_t layer) {
    return std::string(1, kv) + "_spectrum_layer_" + std::to_string(layer);
}

std::string spread_result(char kv, std::int64_t layer) {
    return std::string(1, kv) + "_spread_layer_" + std::to_string(layer);
}

// One model to evaluate: a stored run or a checkpoint file, with the text it is evaluated on.
struct CacheEval::Target {
    std::string what;
    // The policies evaluated on it: as asked, a budget solved into the knob that fits (with the
    // fraction asked and the fraction reached, by the solved policy's text).
    std::vector<model::CachePolicy> policies;
    std::map<std::string, std::pair<double, double>> budgets;
    std::optional<store::RunRow> trained;
    std::string checkpoint;
    model::ModelConfig config;
    HeldOutData data;
    EvalParams eval;
    std::int64_t seq_length = 0;
    json record;  // a checkpoint's experiment parameters
};

namespace {

// ---- decoding with a policy's cache ---------------------------------------------------------

struct Scored {
    double loss = 0;
    std::int64_t correct = 0, tokens = 0;
    // Each token's loss and whether its argmax was the target, (B, T) both.
    void add(const torch::Tensor& losses, const torch::Tensor& right) {
        loss += losses.sum().item<double>();
        correct += right.sum().item<std::int64_t>();
        tokens += losses.numel();
    }
};

// How the chunks are fed (CacheEvalParams::prefill_chunk and ::prefill, resolved).
struct Feeding {
    std::int64_t uncompressed = 0;  // tokens at once first (the labelled papers' mode); 0: none
    std::int64_t step = 1;          // tokens per step after that
    std::int64_t size(std::int64_t t, std::int64_t length) const {
        return std::min(length - t, t == 0 && uncompressed > 0 ? uncompressed : step);
    }
};

// What the scored tokens say under a policy, and against the full cache on the same steps.
struct Scoring {
    Scored all, continuation;
    PositionLosses positions;
    std::vector<double> chunk_kl;    // each chunk's mean KL(full || policy) per token
    std::vector<double> chunk_loss;      // each chunk's mean loss under the policy
    std::vector<double> chunk_accuracy;  // each chunk's share of greedy-right tokens
    std::int64_t agree = 0, compared = 0;
    void add(const torch::Tensor& logits, const torch::Tensor& reference,
             const torch::Tensor& targets, std::int64_t first, std::int64_t continuation_from,
             torch::Tensor& row_kl, torch::Tensor& row_loss, torch::Tensor& row_correct) {
        // Each token's loss once, (B, n): the totals, the continuation and the positions read it.
        const std::int64_t n = targets.size(1);
        const torch::Tensor l = logits.to(torch::kFloat32);
        const torch::Tensor losses =
            F::cross_entropy(l.reshape({-1, l.size(2)}), targets.reshape({-1}),
                             F::CrossEntropyFuncOptions().reduction(torch::kNone))
                .view({targets.size(0), n});
        const torch::Tensor top = l.argmax(-1);
        const torch::Tensor right = top == targets;
        all.add(losses, right);
        if (first + n > continuation_from) {
            const std::int64_t skip = std::max<std::int64_t>(0, continuation_from - first);
            continuation.add(losses.narrow(1, skip, n - skip), right.narrow(1, skip, n - skip));
        }
        positions.add(losses, first);
        row_loss += losses.to(torch::kFloat64).sum(1).cpu();
        row_correct += right.to(torch::kFloat64).sum(1).cpu();
        compared += targets.numel();
        // The full cache against itself (the same tensor): KL exactly 0, every argmax agrees.
        if (reference.is_same(logits)) {
            agree += targets.numel();
            return;
        }
        // KL(p_full || p_policy) over the vocabulary in float64.
        const torch::Tensor lp = torch::log_softmax(logits.to(torch::kFloat64), -1);
        const torch::Tensor lr = torch::log_softmax(reference.to(torch::kFloat64), -1);
        row_kl += (lr.exp() * (lr - lp)).sum(-1).sum(1).cpu();
        agree += (top == reference.argmax(-1)).sum().item<std::int64_t>();
    }
};

// Each held-out chunk fed as `feeding` says, every position scored under the policy's cache; the
// full cache reads the same steps beside it (the reference of KL and agreement). `full` equals
// the normal evaluation. The continuation (after the uncompressed prompt, else the chunk's second
// half) is scored apart too.
Scoring decode_chunks(model::CausalLm& net, const model::CachePolicy& policy,
                      const model::KvBases* bases, const torch::Tensor& chunks,
                      const Feeding& feeding, std::int64_t batch, RunLogger& log,
                      const std::atomic<bool>& stop) {
    const torch::Device device = net.parameters().front().device();
    Scoring s;
    const std::int64_t seq = chunks.size(1) - 1, n = chunks.size(0);
    const std::int64_t continuation_from = feeding.uncompressed > 0 ? feeding.uncompressed : seq / 2;
    const bool is_full = policy.kind == model::PolicyKind::full;
    for (std::int64_t start = 0; start < n && !stop.load(); start += batch) {
        const torch::Tensor b = chunks.narrow(0, start, std::min(batch, n - start)).to(device);
        const torch::Tensor inputs = b.narrow(1, 0, seq), targets = b.narrow(1, 1, seq);
        model::KvCache cache = net.make_cache(policy, bases);
        std::optional<model::KvCache> full;
        if (!is_full) full.emplace(net.make_cache());
        torch::Tensor row_kl = torch::zeros({b.size(0)}, torch::kFloat64);
        torch::Tensor row_loss = torch::zeros({b.size(0)}, torch::kFloat64);
        torch::Tensor row_correct = torch::zeros({b.size(0)}, torch::kFloat64);
        for (std::int64_t t = 0; t < seq && !stop.load();) {
            const std::int64_t m = feeding.size(t, seq);
            const torch::Tensor logits = net.forward(inputs.narrow(1, t, m), &cache);
            const torch::Tensor reference =
                is_full ? logits : net.forward(inputs.narrow(1, t, m), &*full);
            s.add(logits, reference, targets.narrow(1, t, m), t, continuation_from, row_kl,
                  row_loss, row_correct);
            t += m;
        }
        const auto kl = row_kl.accessor<double, 1>();
        const auto loss = row_loss.accessor<double, 1>();
        const auto correct = row_correct.accessor<double, 1>();
        for (std::int64_t i = 0; i < b.size(0); ++i) {
            s.chunk_kl.push_back(kl[i] / static_cast<double>(seq));
            s.chunk_loss.push_back(loss[i] / static_cast<double>(seq));
            s.chunk_accuracy.push_back(correct[i] / static_cast<double>(seq));
        }
        log.progress(std::min(start + batch, n), n, s.all.tokens ? s.all.loss / s.all.tokens : 0);
    }
    return s;
}

struct LastWords {
    std::int64_t correct = 0, passages = 0, target_tokens = 0;
    double target_nll = 0;
    std::int64_t lost = 0, gained = 0;  // full right and policy wrong; the reverse
    PassageOutcomes outcomes;           // each passage's outcome and tokens under the policy
};

// Passage -> compress -> predict, fed as the chunks are (token by token by default, so the
// policy has compressed the passage before the first target token is predicted); then each
// target token predicted greedily and fed in turn. The full cache reads the same steps beside it,
// for the paired outcomes.
LastWords last_words(model::CausalLm& net, const model::CachePolicy& policy,
                     const model::KvBases* bases, const std::vector<LastWordItem>& items,
                     const Feeding& feeding, const std::atomic<bool>& stop) {
    const torch::Device device = net.parameters().front().device();
    const bool is_full = policy.kind == model::PolicyKind::full;
    LastWords r;
    for (const LastWordItem& item : items) {
        if (stop.load()) break;
        bool right[2] = {true, true};  // [policy, full]
        std::vector<double> nll;       // the policy's, per target token
        for (int which = 0; which < (is_full ? 1 : 2); ++which) {
            model::KvCache cache = which == 0 ? net.make_cache(policy, bases) : net.make_cache();
            const torch::Tensor context =
                torch::tensor(item.context, torch::kInt64).view({1, -1}).to(device);
            const std::int64_t length = context.size(1);
            torch::Tensor logits;
            for (std::int64_t t = 0; t < length;) {
                const std::int64_t m = feeding.size(t, length);
                logits = net.forward(context.narrow(1, t, m), &cache);
                t += m;
            }
            for (std::size_t k = 0; k < item.target.size(); ++k) {
                const torch::Tensor row =
                    torch::log_softmax(logits[0][logits.size(1) - 1].to(torch::kFloat32), -1);
                right[which] = right[which] && row.argmax().item<std::int64_t>() == item.target[k];
                if (which == 0) {
                    nll.push_back(-row[item.target[k]].item<double>());
                    r.target_nll += nll.back();
                    ++r.target_tokens;
                }
                if (k + 1 < item.target.size())
                    logits = net.forward(
                        torch::tensor({item.target[k]}, torch::kInt64).view({1, 1}).to(device), &cache);
            }
        }
        if (is_full) right[1] = right[0];
        r.correct += right[0] ? 1 : 0;
        r.outcomes.add(right[0], nll);
        r.lost += right[1] && !right[0] ? 1 : 0;
        r.gained += !right[1] && right[0] ? 1 : 0;
        ++r.passages;
    }
    return r;
}

Feeding feeding_of(const CacheEvalParams& params, std::int64_t seq) {
    Feeding f;
    f.uncompressed = params.prefill < 0 ? seq / 2 : std::min(params.prefill, seq);
    if (f.uncompressed == 1) f.uncompressed = 0;  // one token at once is token by token
    f.step = params.prefill > 0 || params.prefill < 0 ? 1 : params.prefill_chunk;
    return f;
}

// Copies what a policy leaves as it was (the model's size, the tokens it trained on, the
// baselines of its text) from the trained run, so its column is complete.
void copy_costs(store::RunStore& store, std::int64_t trained, RunLogger& log) {
    for (const auto& [name, value] : store.results(trained))
        for (const char* keep : {names::parameters_total, names::parameters_trainable,
                                 names::tokens_trained, names::tokens_to_best, names::epochs_run,
                                 names::unigram_test_ppl,
                                 names::unigram_alpha, names::bigram_test_ppl, names::bigram_lambda,
                                 names::uniform_ppl})
            if (name == keep) log.result(name, value);
}

void record_perplexity(const Scoring& p, PolicyOutcome& o, RunLogger& log) {
    if (p.all.tokens == 0) return;
    const double loss = p.all.loss / static_cast<double>(p.all.tokens);
    o.test_ppl = std::exp(loss);
    o.test_accuracy = static_cast<double>(p.all.correct) / static_cast<double>(p.all.tokens);
    log.result(names::test_loss, loss);
    log.result(names::test_ppl, o.test_ppl);
    log.result(names::test_accuracy, o.test_accuracy);
    log.result(names::test_tokens, static_cast<double>(p.all.tokens));
    if (p.continuation.tokens > 0) {
        o.continuation_ppl =
            std::exp(p.continuation.loss / static_cast<double>(p.continuation.tokens));
        log.result(names::test_ppl_continuation, o.continuation_ppl);
    }
    // Against the full cache: the mean over chunks of each chunk's mean KL (chunks are equally
    // long, so this is the mean per token), its t-interval over chunks, and top-1 agreement.
    const auto kl = estimate(p.chunk_kl);
    o.kl_to_full = kl ? kl->mean : 0;
    o.top1_agreement_to_full =
        static_cast<double>(p.agree) / static_cast<double>(std::max<std::int64_t>(1, p.compared));
    log.result(names::kl_to_full, o.kl_to_full);
    if (kl && kl->interval) {
        log.result(names::kl_to_full_low, kl->interval->low);
        log.result(names::kl_to_full_high, kl->interval->high);
    }
    log.result(names::top1_agreement_to_full, o.top1_agreement_to_full);
    record_loss_by_position(p.positions, log);
}

void record_last_words(const LastWords& w, PolicyOutcome& o, RunLogger& log) {
    o.last_word_passages = w.passages;
    if (w.passages == 0) return;
    o.last_word_accuracy = static_cast<double>(w.correct) / static_cast<double>(w.passages);
    const Interval ci = wilson_interval(w.correct, w.passages);
    log.result(names::last_word_accuracy, o.last_word_accuracy);
    log.result(names::last_word_correct, static_cast<double>(w.correct));
    log.result(names::last_word_accuracy_low, ci.low);
    log.result(names::last_word_accuracy_high, ci.high);
    log.result(names::last_word_ppl, std::exp(w.target_nll / static_cast<double>(w.target_tokens)));
    log.result(names::last_word_passages, static_cast<double>(w.passages));
    log.result(names::last_word_flips_lost, static_cast<double>(w.lost));
    log.result(names::last_word_flips_gained, static_cast<double>(w.gained));
    log.result(names::last_word_mcnemar_p, mcnemar_exact_p(w.lost, w.gained));
    record_passage_outcomes(w.outcomes, log);
}

PolicyOutcome evaluate_one(model::CausalLm& net, const model::CachePolicy& policy,
                           const model::KvBases* bases, const CacheEval::Target& t,
                           const CacheEvalParams& params, RunLogger& log,
                           const std::atomic<bool>& stop) {
    torch::NoGradGuard no_grad;
    net.eval();
    PolicyOutcome o;
    o.policy = policy.text();
    const Feeding feeding = feeding_of(params, t.seq_length);
    const torch::Device device = net.parameters().front().device();
    const torch::Tensor chunks =
        torch::tensor(t.data.test_tokens, torch::kInt64).view({t.data.test_chunks, t.data.chunk_width});
    const bool peak_known = device.is_cpu() && reset_peak_resident();
    const Scoring p = decode_chunks(net, policy, bases, chunks, feeding, params.batch, log, stop);
    if (peak_known) log.result(names::peak_rss_decoding, static_cast<double>(peak_resident_bytes()));
    record_perplexity(p, o, log);
    record_chunk_outcomes(p.chunk_loss, p.chunk_accuracy, t.data.test_chunk_documents, log);
    log.result(names::policy_prefill, static_cast<double>(feeding.uncompressed));
    log.result(names::policy_prefill_chunk, static_cast<double>(feeding.step));
    // The bytes the cache held over the scored tokens: the first chunk fed the same way.
    if (t.data.test_chunks > 0) {
        const ScoredBytes b = scored_kv_bytes(
            net, chunks.narrow(0, 0, 1).narrow(1, 0, t.seq_length).to(device), policy, bases,
            feeding.uncompressed, feeding.step);
        o.scored_kv_bytes_per_token = b.mean_per_token;
        record_scored_bytes(b, log);
    }
    record_last_words(last_words(net, policy, bases, t.data.last_words, feeding, stop), o, log);
    // The cache the policy keeps at longer lengths, measured from its tensors, and cached
    // generation speed.
    const model::KvTrace trace = model::measure_kv_cache(net, t.data.prompt, t.eval.kv_lengths,
                                                         &stop, {policy, bases, feeding.uncompressed});
    for (const model::KvMeasurement& m : trace.measurements) {
        log.result(names::kv_bytes_per_token_at(m.tokens), m.kv_bytes_per_token());
        log.result(names::kv_bytes_at(m.tokens), static_cast<double>(m.kv_bytes));
        log.result(names::kv_state_bytes_at(m.tokens), static_cast<double>(m.state_bytes));
        log.metric(names::kv_bytes, m.tokens, -1, static_cast<double>(m.kv_bytes));
        o.kv_bytes_per_token.emplace_back(m.tokens, m.kv_bytes_per_token());
    }
    if (trace.decode_seconds > 0)
        o.generation_tokens_per_second =
            static_cast<double>(trace.decoded_tokens) / trace.decode_seconds;
    log.result(names::generation_tokens_per_second, o.generation_tokens_per_second);
    return o;
}

// The K/V anatomy: each layer's spectrum of K and of V (heads together) and its spread.
AnatomyOutcome record_anatomy(const model::KvBases& b, RunLogger& log) {
    AnatomyOutcome a;
    a.run_id = log.run_id();
    for (std::size_t l = 0; l < b.k.size(); ++l)
        for (const auto& [kv, basis] : {std::pair{'k', &b.k[l]}, std::pair{'v', &b.v[l]}}) {
            if (!basis->layer_eigenvalues.defined()) continue;
            const torch::Tensor e = basis->layer_eigenvalues.to(torch::kFloat64).contiguous();
            const auto values = e.accessor<double, 1>();
            for (std::int64_t j = 0; j < e.size(0); ++j)
                log.metric(spectrum_metric(kv, static_cast<std::int64_t>(l)), j, -1, values[j]);
            const double median = e.median().item<double>();
            const double spread = median > 0 ? values[0] / median : 0.0;
            log.result(spread_result(kv, static_cast<std::int64_t>(l)), spread);
            (kv == 'k' ? a.k_spread : a.v_spread).push_back(spread);
        }
    log.result(names::calibration_tokens, static_cast<double>(b.tokens));
    return a;
}

// The corpora's text as an experiment with `p` reads it; the stop flag ends the reading.
data::ExperimentText read_text(const ExperimentParams& p, data::BpeTokenizer& tokenizer,
                               const std::atomic<bool>* stop) {
    return data::read_experiment_text(text_spec_of(p), tokenizer, [stop] {
        if (stop && stop->load()) throw StoppedBeforeStart();
    });
}

ExperimentParams data_params(const CacheEvalParams& c, ExperimentParams p) {
    // The text of the run's own evaluation: its corpora, lengths and samples; the block sources
    // and joins that trained it do not matter here.
    p.context_block_from.clear();
    p.context_block_run = 0;
    p.experiment = 0;
    p.phase2.resume_from.clear();
    p.ablation_untrained_context_block = false;
    p.phase1_only = false;
    p.seeds = 1;
    p.db = c.db;
    if (c.max_test_chunks > 0) p.eval.max_test_chunks = c.max_test_chunks;
    if (c.max_last_word_passages > 0) p.eval.max_last_word_passages = c.max_last_word_passages;
    if (!c.kv_lengths.empty()) p.eval.kv_lengths = c.kv_lengths;
    return p;
}

// The per-head bases lowrank and the anatomy need: stored with the trained run's files (checked
// before they are read), or calibrated on the target's training text now and stored for next
// time. A checkpoint from outside keeps its bases in this database's folder, under its SHA-256.
model::KvBases kv_bases_of(model::CausalLm& net, const CacheEval::Target& t,
                           const CacheEvalParams& params, ExperimentObserver* observer,
                           const std::atomic<bool>& stop, store::RunStore& store) {
    const std::string role = store::file_role::kv_bases(params.calibration_tokens);
    fs::path path;
    if (t.trained) {
        if (store.run_file(t.trained->id, role)) {
            path = store.verified_file(t.trained->id, role).path;
            if (auto stored = model::load_kv_bases(path, t.checkpoint, params.calibration_tokens))
                return *stored;
        }
        path = store.make_run_folder(t.trained->id) / (role + ".safetensors");
    } else {
        path = store.files_folder() / ("checkpoint-" + sha256_file(t.checkpoint).substr(0, 16)) /
               (role + ".safetensors");
        if (auto stored = model::load_kv_bases(path, t.checkpoint, params.calibration_tokens))
            return *stored;
        fs::create_directories(path.parent_path());
    }
    if (observer)
        observer->on_message("calibrating the K/V bases of " + t.what + " on " +
                             std::to_string(params.calibration_tokens) + " training tokens");
    model::KvBases bases = model::calibrate_kv_bases(net, t.data.training_tokens, t.data.chunk_width,
                                                     params.calibration_tokens, &stop);
    model::save_kv_bases(bases, path, t.checkpoint, params.calibration_tokens);
    if (t.trained) store.record_files(t.trained->id, {{role, path}});
    return bases;
}

// One policy as an evaluation run of its own: the trained run's costs copied beside what the
// policy measured; a failure is the policy's outcome, not the whole evaluation's.
// ---- budgets in bytes (KV_METHODS.md §D) ----------------------------------------------------

// Bases of the right shapes for measuring a lowrank policy's bytes (which depend on the shapes
// only): each layer's cached heads and width, read from a full cache that held the chunk.
model::KvBases shape_bases(model::CausalLm& net, const torch::Tensor& chunk) {
    torch::NoGradGuard no_grad;
    model::KvCache cache = net.make_cache();
    net.forward(chunk, &cache);
    model::KvBases b;
    for (const auto& layer : cache.layers) {
        const std::vector<torch::Tensor> kv = layer->stored();
        for (std::size_t i = 0; i < 2; ++i) {
            model::KvBasis basis;
            if (kv.size() == 2) {
                const std::int64_t h = kv[i].size(1), d = kv[i].size(3);
                basis.mean = torch::zeros({h, d});
                basis.directions = torch::eye(d).expand({h, d, d}).contiguous();
                basis.eigenvalues = torch::ones({h, d});
                basis.layer_eigenvalues = torch::ones({h * d});
            }
            (i == 0 ? b.k : b.v).push_back(basis);
        }
    }
    return b;
}

// The widest rank a lowrank policy of this target can take on these shapes.
std::int64_t widest_rank(const model::KvBases& b, model::LowRankTarget target) {
    std::int64_t widest = std::numeric_limits<std::int64_t>::max();
    for (std::size_t l = 0; l < b.k.size(); ++l) {
        if (!b.k[l].mean.defined()) continue;
        if (target != model::LowRankTarget::v) widest = std::min(widest, b.k[l].mean.size(1));
        if (target != model::LowRankTarget::k) widest = std::min(widest, b.v[l].mean.size(1));
    }
    return widest == std::numeric_limits<std::int64_t>::max() ? 0 : widest;
}

// The policy for a budget: the largest knob whose scored bytes on the chunk are at most the
// fraction of the full cache's (`full`, measured once for every budget); throws naming the
// smallest fraction the policy reaches.
model::CachePolicy solve_budget(model::CausalLm& net, const torch::Tensor& chunk,
                                const Feeding& feeding, const model::CachePolicy& asked,
                                const model::KvBases& shapes, double full,
                                std::pair<double, double>& budget) {
    const std::int64_t length = chunk.size(1);
    const double limit = asked.fraction * full;
    model::CachePolicy p = asked;
    p.fraction = 0;
    const auto with = [&](std::int64_t knob) {
        model::CachePolicy c = p;
        switch (c.kind) {
            case model::PolicyKind::streaming: c.window = knob; break;
            case model::PolicyKind::h2o:
                c.budget = knob;
                c.window = std::min(knob / 4, knob - c.sinks);
                break;
            case model::PolicyKind::snapkv:
                c.budget = knob;
                c.observation = std::max<std::int64_t>(1, std::min(asked.observation, knob / 2));
                break;
            case model::PolicyKind::lowrank: c.rank = knob; break;
            default: break;
        }
        return c;
    };
    const auto bytes = [&](const model::CachePolicy& c) {
        return scored_kv_bytes(net, chunk, c, &shapes, feeding.uncompressed, feeding.step)
            .mean_per_token;
    };
    std::int64_t low = 1, high = length;
    if (p.kind == model::PolicyKind::lowrank) high = widest_rank(shapes, p.target);
    if (p.kind == model::PolicyKind::h2o) low = std::max<std::int64_t>(1, p.sinks + 1);
    const bool fixed = p.kind == model::PolicyKind::int8 || p.kind == model::PolicyKind::int4 ||
                       p.kind == model::PolicyKind::full;
    const model::CachePolicy smallest = fixed ? p : with(low);
    const double least = bytes(smallest);
    if (least > limit * (1 + 1e-12))
        throw Error("policy '" + asked.text() + "' cannot reach a budget of " +
                    short_number(asked.fraction) + " of the full cache at the scored length " +
                    std::to_string(length) + ": the smallest it reaches is " +
                    short_number(least / full) + " (" + smallest.text() +
                    "); ask for at least that");
    model::CachePolicy best = smallest;
    double best_bytes = least;
    while (!fixed && low < high) {  // the largest knob that fits; bytes grow with it
        const std::int64_t mid = low + (high - low + 1) / 2;
        const model::CachePolicy c = with(mid);
        const double b = bytes(c);
        if (b <= limit * (1 + 1e-12)) {
            low = mid;
            best = c;
            best_bytes = b;
        } else {
            high = mid - 1;
        }
    }
    budget = {asked.fraction, best_bytes / full};
    return best;
}

// The policies of one target: each --budgets fraction applied to every policy but full, and
// every budget solved on the target's first scored chunk.
std::vector<model::CachePolicy> policies_for(CacheEval::Target& t, const CacheEvalParams& params) {
    std::vector<model::CachePolicy> asked;
    for (const model::CachePolicy& p : params.policies) {
        if (params.budgets.empty() || p.kind == model::PolicyKind::full || p.fraction > 0) {
            asked.push_back(p);
            continue;
        }
        for (double b : params.budgets) {
            model::CachePolicy q = p;
            q.fraction = b;
            asked.push_back(q);
        }
    }
    const bool any = std::any_of(asked.begin(), asked.end(),
                                 [](const model::CachePolicy& p) { return p.fraction > 0; });
    if (!any || t.data.test_chunks == 0) return asked;
    auto net = model::load_checkpoint(t.checkpoint);
    net->eval();
    const torch::Tensor chunk =
        torch::tensor(std::vector<std::int64_t>(t.data.test_tokens.begin(),
                                                t.data.test_tokens.begin() + t.seq_length),
                      torch::kInt64)
            .view({1, -1});
    const Feeding feeding = feeding_of(params, t.seq_length);
    const model::KvBases shapes = shape_bases(*net, chunk);
    const double full =
        scored_kv_bytes(*net, chunk, {}, nullptr, feeding.uncompressed, feeding.step).mean_per_token;
    std::vector<model::CachePolicy> out;
    std::vector<std::string> problems;
    for (const model::CachePolicy& p : asked) {
        if (p.fraction == 0) {
            out.push_back(p);
            continue;
        }
        try {
            std::pair<double, double> budget;
            const model::CachePolicy solved = solve_budget(*net, chunk, feeding, p, shapes, full, budget);
            t.budgets[solved.text()] = budget;
            out.push_back(solved);
        } catch (const Error& e) {
            problems.push_back(t.what + ": " + e.what());
        }
    }
    if (!problems.empty()) {
        std::string m = "cache-eval cannot start:";
        for (const std::string& x : problems) m += "\n  - " + x;
        throw Error(m);
    }
    return out;
}

PolicyOutcome record_policy(Recorder& recorder, store::RunStore& store, const store::NewRun& run,
                            model::CausalLm& net, const model::CachePolicy& policy,
                            const model::KvBases* bases, const CacheEval::Target& t,
                            const CacheEvalParams& params, const std::atomic<bool>& stop) {
    PolicyOutcome o;
    o.policy = policy.text();
    try {
        const auto recorded = recorder.record(run, [&](RunLogger& log) {
            store.set_text(log.run_id(), "checkpoint_path", t.checkpoint);
            if (t.trained) copy_costs(store, t.trained->id, log);
            log.result(names::test_documents, static_cast<double>(t.data.test_documents));
            log.result(names::test_genres, static_cast<double>(t.data.test_genres));
            o = evaluate_one(net, policy, bases, t, params, log, stop);
            if (const auto b = t.budgets.find(policy.text()); b != t.budgets.end()) {
                log.result(names::budget_fraction, b->second.first);
                log.result(names::budget_reached, b->second.second);
            }
            log.result(names::wall_seconds, log.elapsed_seconds());
            return stop.load() ? RunOutcome{store::RunStatus::stopped, "stopped by the user"}
                               : RunOutcome{};
        });
        o.run_id = recorded.run_id;
        o.status = recorded.outcome.status;
    } catch (const std::exception& e) {
        o.status = store::RunStatus::failed;
        o.message = e.what();
    }
    return o;
}

}  // namespace

CacheEval::CacheEval(CacheEvalParams params, const std::atomic<bool>* stop)
    : params_(std::move(params)) {
    if (const auto problems = params_.problems(); !problems.empty()) {
        std::string m = "cache-eval cannot start:";
        for (const std::string& p : problems) m += "\n  - " + p;
        throw Error(m);
    }
    choose_device(params_.device);
    const std::string db = params_.db.empty() ? default_database_path() : params_.db;
    std::vector<std::string> problems;
    if (!params_.runs.empty() && !fs::exists(db))
        throw Error("the database '" + db + "' does not exist, so it holds no run to evaluate "
                    "(choose it with --db)");
    std::optional<store::RunStore> store;
    if (!params_.runs.empty()) store.emplace(db);
    if (store) add_run_targets(*store, problems);
    if (!params_.checkpoint.empty()) {
        auto t = std::make_unique<Target>();
        t->what = "checkpoint " + params_.checkpoint;
        if (!fs::exists(params_.checkpoint))
            throw Error("checkpoint '" + params_.checkpoint + "' not found");
        t->checkpoint = params_.checkpoint;
        t->config = model::checkpoint_config(t->checkpoint);
        targets_.push_back(std::move(t));
    }
    for (const auto& t : targets_)
        if (t->config.layers > 0)
            for (const model::CachePolicy& policy : params_.policies)
                for (const std::string& p : policy.problems_for(t->config))
                    problems.push_back(t->what + ": " + p);
    if (!problems.empty()) {
        std::string m = "cache-eval cannot start:";
        for (const std::string& p : problems) m += "\n  - " + p;
        throw Error(m);
    }
    prepare_texts(store ? &*store : nullptr, stop);
    // Budgets solved on each target's scored chunk: an unreachable one refused before any work.
    for (auto& t : targets_) t->policies = policies_for(*t, params_);
}

// Each stored run to evaluate, checked: a finished Phase 2 run whose checkpoint is the file its
// run recorded (size and SHA-256).
void CacheEval::add_run_targets(store::RunStore& store, std::vector<std::string>& problems) {
    for (const std::int64_t id : params_.runs) {
        auto t = std::make_unique<Target>();
        t->trained = store.run(id);  // names an unknown id
        const store::RunRow& r = *t->trained;
        t->what = "run " + std::to_string(id) + " (" + model::design_key(r.model) + ")";
        if (!cache_eval_reads(r))
            problems.push_back(t->what + " is not a finished Phase 2 run (" +
                               store::phase_key(r.phase) + ", " + store::status_key(r.status) + ")");
        else
            try {
                const store::RunFile f = store.verified_file(id, store::file_role::checkpoint);
                if (f.origin == store::FileOrigin::unverified) warnings_.push_back(store::unverified_note(f));
                t->checkpoint = f.path.string();
                t->config = model::checkpoint_config(t->checkpoint);
            } catch (const Error& e) {
                problems.push_back(e.what());
            }
        targets_.push_back(std::move(t));
    }
}

// The text each model is evaluated on, prepared as its own evaluation prepared it; the runs of
// one experiment share it.
void CacheEval::prepare_texts(store::RunStore* store, const std::atomic<bool>* stop) {
    std::map<std::int64_t, HeldOutData> text_of;
    std::map<std::int64_t, EvalParams> eval_of;
    for (auto& t : targets_) {
        if (!t->trained) {
            prepare_checkpoint_text(*t, stop);
            continue;
        }
        const std::int64_t e = t->trained->experiment_id;
        if (!text_of.count(e)) {
            const ExperimentParams p = data_params(
                params_, ExperimentParams::from_json(json::parse(store->experiment(e).params_json)));
            data::BpeTokenizer tokenizer = data::BpeTokenizer::load(
                p.tokenizer.empty() ? data::default_tokenizer_path() : fs::path(p.tokenizer));
            const data::ChunkSplit split =
                data::chunk_split(*p.samples, *p.seq_length, p.phase2.validation_fraction);
            text_of[e] = data::held_out_data(read_text(p, tokenizer, stop), *p.seq_length,
                                             p.eval.max_test_chunks, split.train_chunks);
            eval_of[e] = p.eval;
        }
        t->data = text_of[e];
        t->eval = eval_of[e];
        t->seq_length = t->data.chunk_width - 1;
    }
}

// A checkpoint file's held-out text: the corpora's held-out documents in the checkpoint's own
// ids (#27), in chunks of the --seq-length given.
void CacheEval::prepare_checkpoint_text(Target& t, const std::atomic<bool>* stop) {
    ExperimentParams p;  // the evaluation's text settings only: the defaults and cache-eval's
    p.seq_length = params_.seq_length;
    p.corpora = params_.corpora;
    p = data_params(params_, p);
    const std::string tokenizer_path =
        model::checkpoint_tokenizer(params_.checkpoint, params_.tokenizer).string();
    data::BpeTokenizer tokenizer = data::BpeTokenizer::load(tokenizer_path);
    model::check_tokenizer_fits(params_.checkpoint, tokenizer.vocab_size(), tokenizer.description());
    const data::ExperimentText text = read_text(p, tokenizer, stop);
    const std::int64_t width = *p.seq_length + 1;
    if (static_cast<std::int64_t>(text.test_stream.size()) < width)
        throw Error("the held-out documents hold " + std::to_string(text.test_stream.size()) +
                    " tokens, fewer than one test chunk of " + std::to_string(width) +
                    " (choose a shorter --seq-length or another --corpus)");
    // Nothing of these corpora trained the checkpoint here: the calibration reads their training
    // documents, as many whole chunks as it asks for.
    t.data = data::held_out_data(text, *p.seq_length, p.eval.max_test_chunks,
                                 static_cast<std::int64_t>(text.train_stream.size()) / width);
    t.eval = p.eval;
    t.seq_length = *params_.seq_length;
    t.record = {{"cache_eval_of", params_.checkpoint},
                {"tokenizer", tokenizer_path},
                {"seq_length", t.seq_length},
                {"corpora", params_.corpora},
                {"eval", p.to_json()["eval"]}};
}

CacheEval::~CacheEval() = default;

CacheEvalSummary CacheEval::run(ExperimentObserver* observer, const std::atomic<bool>& stop) {
    const auto started = std::chrono::steady_clock::now();
    CacheEvalSummary summary;
    const std::string device_name = choose_device(params_.device);
    const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);
    if (params_.threads > 0) torch::set_num_threads(static_cast<int>(params_.threads));
    store::RunStore store(params_.db.empty() ? default_database_path() : params_.db);
    Recorder recorder(store, observer, "cache-eval batch " + std::to_string(params_.batch));
    if (observer)
        for (const std::string& w : warnings_) observer->on_message("Warning: " + w);
    bool needs_bases = params_.anatomy;
    for (const auto& t : targets_)
        for (const auto& p : t->policies) needs_bases = needs_bases || p.kind == model::PolicyKind::lowrank;
    for (const auto& t : targets_) {
        if (stop.load()) break;
        TrainedOutcome out;
        out.what = t->what;
        auto net = model::load_checkpoint(t->checkpoint);
        net->to(device);
        net->eval();
        const model::Design design = t->trained ? t->trained->model : net->config().architecture;
        out.trained_run_id = t->trained ? t->trained->id : 0;
        out.experiment_id = t->trained ? t->trained->experiment_id
                                       : store.create_experiment("cache-eval: " + fs::path(t->checkpoint).filename().string(),
                                                                 t->record.dump());
        const std::optional<model::KvBases> bases =
            needs_bases ? std::optional<model::KvBases>(kv_bases_of(*net, *t, params_, observer, stop, store))
                        : std::nullopt;
        const auto run_of = [&](const std::string& name, const std::string& policy) {
            return store::NewRun{out.experiment_id, design, store::Phase::evaluation, device_name, name,
                                 std::nullopt, t->trained ? std::optional<std::int64_t>(t->trained->id) : std::nullopt,
                                 policy};
        };
        if (params_.anatomy && bases) {
            recorder.record(run_of("K/V anatomy", ""), [&](RunLogger& log) {
                out.anatomy = record_anatomy(*bases, log);
                store.set_text(log.run_id(), "checkpoint_path", t->checkpoint);
                return RunOutcome{};
            });
        }
        for (const model::CachePolicy& policy : t->policies) {
            if (stop.load()) break;
            const PolicyOutcome o = record_policy(recorder, store, run_of(policy.label(), policy.text()),
                                                  *net, policy, bases ? &*bases : nullptr, *t, params_, stop);
            if (o.status != store::RunStatus::finished && summary.status == store::RunStatus::finished)
                summary.status = o.status;
            out.policies.push_back(o);
        }
        summary.trained.push_back(out);
    }
    store.flush();
    summary.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary;
}

}  // namespace cp::train
