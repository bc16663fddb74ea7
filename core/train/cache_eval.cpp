#include "train/cache_eval.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/stats.h"
#include "model/cache_layers.h"
#include "common/sha256.h"
#include "model/kv_calibration.h"
#include "model/checkpoint.h"
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
    void add(const torch::Tensor& logits, const torch::Tensor& targets) {  // (B, T, V), (B, T)
        const torch::Tensor l = logits.to(torch::kFloat32);
        loss += F::cross_entropy(l.reshape({-1, l.size(2)}), targets.reshape({-1}),
                                 F::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
        correct += (l.argmax(-1) == targets).sum().item<std::int64_t>();
        tokens += targets.numel();
    }
};

struct Perplexity {
    Scored all, continuation;
};

// Each held-out chunk: its first `prefill` inputs fed at once (the prompt; a compressing policy
// compresses it), then one token at a time with the policy's cache (evicting policies evict as
// they go). Every position is scored, so `full` equals the normal evaluation; the continuation
// (the positions after the prompt) is scored apart too.
Perplexity decode_chunks(model::CausalLm& net, const model::CachePolicy& policy,
                         const model::KvBases* bases, const torch::Tensor& chunks,
                         std::int64_t prefill, std::int64_t batch, RunLogger& log,
                         const std::atomic<bool>& stop) {
    const torch::Device device = net.parameters().front().device();
    Perplexity p;
    const std::int64_t seq = chunks.size(1) - 1, n = chunks.size(0);
    for (std::int64_t start = 0; start < n && !stop.load(); start += batch) {
        const torch::Tensor b = chunks.narrow(0, start, std::min(batch, n - start)).to(device);
        const torch::Tensor inputs = b.narrow(1, 0, seq), targets = b.narrow(1, 1, seq);
        model::KvCache cache = net.make_cache(policy, bases);
        std::int64_t t = 0;
        if (prefill > 1) {
            p.all.add(net.forward(inputs.narrow(1, 0, prefill), &cache),
                      targets.narrow(1, 0, prefill));
            t = prefill;
        }
        for (; t < seq && !stop.load(); ++t) {
            const torch::Tensor logits = net.forward(inputs.narrow(1, t, 1), &cache);
            p.all.add(logits, targets.narrow(1, t, 1));
            if (t >= prefill) p.continuation.add(logits, targets.narrow(1, t, 1));
        }
        log.progress(std::min(start + batch, n), n, p.all.tokens ? p.all.loss / p.all.tokens : 0);
    }
    return p;
}

struct LastWords {
    std::int64_t correct = 0, passages = 0, target_tokens = 0;
    double target_nll = 0;
};

// Passage -> compress -> predict: the context in one step (the policy compresses it), then
// each target token predicted greedily and fed in turn.
LastWords last_words(model::CausalLm& net, const model::CachePolicy& policy,
                     const model::KvBases* bases, const std::vector<LastWordItem>& items,
                     const std::atomic<bool>& stop) {
    const torch::Device device = net.parameters().front().device();
    LastWords r;
    for (const LastWordItem& item : items) {
        if (stop.load()) break;
        model::KvCache cache = net.make_cache(policy, bases);
        torch::Tensor logits = net.forward(
            torch::tensor(item.context, torch::kInt64).view({1, -1}).to(device), &cache);
        bool all = true;
        for (std::size_t k = 0; k < item.target.size(); ++k) {
            const torch::Tensor row =
                torch::log_softmax(logits[0][logits.size(1) - 1].to(torch::kFloat32), -1);
            all = all && row.argmax().item<std::int64_t>() == item.target[k];
            r.target_nll -= row[item.target[k]].item<double>();
            ++r.target_tokens;
            if (k + 1 < item.target.size())
                logits = net.forward(
                    torch::tensor({item.target[k]}, torch::kInt64).view({1, 1}).to(device), &cache);
        }
        r.correct += all ? 1 : 0;
        ++r.passages;
    }
    return r;
}

std::int64_t resolved_prefill(std::int64_t prefill, std::int64_t seq) {
    return prefill < 0 ? seq / 2 : std::min(prefill, seq);
}

// Copies what a policy leaves as it was (the model's size, the tokens it trained on, the
// baselines of its text) from the trained run, so its column is complete.
void copy_costs(store::RunStore& store, std::int64_t trained, RunLogger& log) {
    for (const auto& [name, value] : store.results(trained))
        for (const char* keep : {names::parameters_total, names::parameters_trainable,
                                 names::tokens_trained, names::epochs_run, names::unigram_test_ppl,
                                 names::uniform_ppl})
            if (name == keep) log.result(name, value);
}

PolicyOutcome evaluate_one(model::CausalLm& net, const model::CachePolicy& policy,
                           const model::KvBases* bases, const CacheEval::Target& t,
                           const CacheEvalParams& params, RunLogger& log,
                           const std::atomic<bool>& stop) {
    torch::NoGradGuard no_grad;
    net.eval();
    PolicyOutcome o;
    o.policy = policy.text();
    const std::int64_t prefill = resolved_prefill(params.prefill, t.seq_length);
    const torch::Tensor chunks =
        torch::tensor(t.data.test_tokens, torch::kInt64).view({t.data.test_chunks, t.data.chunk_width});
    const Perplexity p = decode_chunks(net, policy, bases, chunks, prefill, params.batch, log, stop);
    if (p.all.tokens > 0) {
        const double loss = p.all.loss / static_cast<double>(p.all.tokens);
        o.test_ppl = std::exp(loss);
        o.test_accuracy = static_cast<double>(p.all.correct) / static_cast<double>(p.all.tokens);
        log.result(names::test_loss, loss);
        log.result(names::test_ppl, o.test_ppl);
        log.result(names::test_accuracy, o.test_accuracy);
        log.result(names::test_tokens, static_cast<double>(p.all.tokens));
    }
    if (p.continuation.tokens > 0) {
        o.continuation_ppl = std::exp(p.continuation.loss / static_cast<double>(p.continuation.tokens));
        log.result(names::test_ppl_continuation, o.continuation_ppl);
    }
    log.result(names::policy_prefill, static_cast<double>(prefill));
    const LastWords w = last_words(net, policy, bases, t.data.last_words, stop);
    o.last_word_passages = w.passages;
    if (w.passages > 0) {
        o.last_word_accuracy = static_cast<double>(w.correct) / static_cast<double>(w.passages);
        const Interval ci = wilson_interval(w.correct, w.passages);
        log.result(names::last_word_accuracy, o.last_word_accuracy);
        log.result(names::last_word_correct, static_cast<double>(w.correct));
        log.result(names::last_word_accuracy_low, ci.low);
        log.result(names::last_word_accuracy_high, ci.high);
        log.result(names::last_word_ppl, std::exp(w.target_nll / static_cast<double>(w.target_tokens)));
        log.result(names::last_word_passages, static_cast<double>(w.passages));
    }
    // The cache the policy keeps, measured from its tensors, and cached generation speed.
    const model::KvTrace trace = model::measure_kv_cache(net, t.data.prompt, t.eval.kv_lengths,
                                                         &stop, {policy, bases, prefill});
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
    if (c.max_last_word_passages > 0) p.eval.max_lambada_passages = c.max_last_word_passages;
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
            o = evaluate_one(net, policy, bases, t, params, log, stop);
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
    std::map<std::int64_t, HeldOutData> text_of;  // by experiment: runs of one share it
    std::map<std::int64_t, EvalParams> eval_of;
    if (!params_.runs.empty() && !fs::exists(db))
        throw Error("the database '" + db + "' does not exist, so it holds no run to evaluate "
                    "(choose it with --db)");
    std::optional<store::RunStore> store;
    if (!params_.runs.empty()) store.emplace(db);
    for (const std::int64_t id : params_.runs) {
        auto t = std::make_unique<Target>();
        t->trained = store->run(id);  // names an unknown id
        const store::RunRow& r = *t->trained;
        t->what = "run " + std::to_string(id) + " (" + model::design_key(r.model) + ")";
        if (r.phase != store::Phase::phase2 || r.status != store::RunStatus::finished)
            problems.push_back(t->what + " is not a finished Phase 2 run (" +
                               store::phase_key(r.phase) + ", " + store::status_key(r.status) + ")");
        else
            try {
                // Checked against the size and SHA-256 recorded when it was written.
                const store::RunFile f = store->verified_file(id, store::file_role::checkpoint);
                if (f.origin == store::FileOrigin::unverified) warnings_.push_back(store::unverified_note(f));
                t->checkpoint = f.path.string();
                t->config = model::checkpoint_config(t->checkpoint);
            } catch (const Error& e) {
                problems.push_back(e.what());
            }
        targets_.push_back(std::move(t));
    }
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
    // The text each model is evaluated on, prepared as its own evaluation prepared it.
    for (auto& t : targets_) {
        ExperimentParams p;
        if (t->trained) {
            const std::int64_t e = t->trained->experiment_id;
            if (!text_of.count(e)) {
                const Experiment source(
                    data_params(params_, ExperimentParams::from_json(
                                             json::parse(store->experiment(e).params_json))),
                    LaunchMode::full_comparison, stop);
                text_of[e] = source.held_out_data();
                eval_of[e] = source.params().eval;
                t->seq_length = *source.params().seq_length;
            }
            t->data = text_of[e];
            t->eval = eval_of[e];
            t->seq_length = t->data.chunk_width - 1;
            continue;
        }
        p.samples = 10;
        p.seq_length = params_.seq_length;
        p.epochs = 1;
        p.size = "70m";
        p.corpora = params_.corpora;
        p.models = {model::Design::pythia};
        const Experiment source(data_params(params_, p), LaunchMode::full_comparison, stop);
        t->data = source.held_out_data();
        t->eval = source.params().eval;
        t->seq_length = *params_.seq_length;
        t->record = {{"cache_eval_of", params_.checkpoint},
                     {"seq_length", t->seq_length},
                     {"corpora", params_.corpora},
                     {"eval", source.params().to_json()["eval"]}};
    }
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
    for (const auto& p : params_.policies) needs_bases = needs_bases || p.kind == model::PolicyKind::lowrank;
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
        for (const model::CachePolicy& policy : params_.policies) {
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
