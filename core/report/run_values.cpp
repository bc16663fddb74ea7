#include "report/run_values.h"

#include <ctime>
#include <iomanip>
#include <sstream>

#include "common/numbers.h"
#include "report/tables.h"
#include "store/metric_names.h"

namespace cp::report {
namespace {

std::optional<double> seconds_between(const std::string& from, const std::string& to) {
    std::tm a{}, b{};
    if (from.empty() || to.empty()) return std::nullopt;
    std::istringstream fa(from), fb(to);
    fa >> std::get_time(&a, "%Y-%m-%dT%H:%M:%SZ");
    fb >> std::get_time(&b, "%Y-%m-%dT%H:%M:%SZ");
    if (fa.fail() || fb.fail()) return std::nullopt;
    return std::difftime(timegm(&b), timegm(&a));
}

// Costs, then the quality of the trained model on held-out text.
std::vector<Measure> cost_and_quality_measures() {
    return {
        {"parameters_total", "Parameters, total (count)", names::parameters_total, false},
        {"parameters_trainable", "Parameters, trainable (count)", names::parameters_trainable,
         false},
        {"tokens_trained", "Tokens trained on, Phase 2 (count)", names::tokens_trained, false},
        {"tokens_to_best", "  of them up to the best epoch, the evaluated weights' (count)",
         names::tokens_to_best, false},
        {"scored_kv_bytes_per_token",
         "KV cache while the quality below was scored (bytes/token, measured: mean of B(t)/t)",
         names::scored_kv_bytes_per_token, false},
        {"scored_length", "  scored length (tokens per chunk)", names::scored_length, false},
        {"best_val_ppl", "Best validation perplexity", names::best_val_ppl, false},
        {"best_epoch", "Epoch of the best validation perplexity (epoch)", names::best_epoch, false},
        {"test_ppl", "Test perplexity", names::test_ppl, false},
        {"test_ppl_strided", "Test perplexity, sliding window (eval.stride)", names::test_ppl_strided,
         false},
        {"test_tokens_strided", "  tokens it scored (n)", names::test_tokens_strided, false},
        {"test_documents", "  test chunks drawn from held-out documents (n)", names::test_documents,
         false},
        {"test_genres", "  ... of genres (n)", names::test_genres, false},
        {"unigram_test_ppl", "  baseline: unigram of the training tokens, test perplexity",
         names::unigram_test_ppl, false},
        {"uniform_ppl", "  baseline: uniform over the vocabulary, test perplexity",
         names::uniform_ppl, false},
        {"bigram_test_ppl", "  baseline: bigram of the training tokens, test perplexity",
         names::bigram_test_ppl, false},
        {"learned", "  learned: test perplexity below the unigram baseline (1 = yes)", "", false},
        {"beyond_bigram", "  beyond the previous token: below the bigram baseline (1 = yes)", "",
         false},
        {"test_accuracy", "Token accuracy, test (fraction)", names::test_accuracy, false},
    };
}

// Against the full cache, the last words, speed, Phase 1, time.
std::vector<Measure> agreement_speed_and_phase1_measures() {
    return {
        {"kl_to_full", "KL to the full cache, per scored token (nats)", names::kl_to_full, false},
        {"kl_to_full_low", "  its 95% t-interval over chunks, low (nats)", names::kl_to_full_low,
         false},
        {"kl_to_full_high", "  its 95% t-interval over chunks, high (nats)",
         names::kl_to_full_high, false},
        {"top1_agreement_to_full", "Top-1 agreement with the full cache (fraction)",
         names::top1_agreement_to_full, false},
        {"last_word_accuracy", "LAMBADA-style last-word accuracy (fraction)",
         names::last_word_accuracy, false},
        {"last_word_accuracy_low", "  its 95% Wilson interval, low (fraction)",
         names::last_word_accuracy_low, false},
        {"last_word_accuracy_high", "  its 95% Wilson interval, high (fraction)",
         names::last_word_accuracy_high, false},
        {"last_word_passages", "  passages scored (n)", names::last_word_passages, false},
        {"lambada_file_lines", "  lines of the LAMBADA file they came from (n)",
         names::lambada_file_lines, false},
        {"last_word_ppl_per_passage",
         "  target perplexity per passage, as lm-eval-harness's lambada reports it",
         names::last_word_ppl_per_passage, false},
        {"last_word_flips_lost", "  right with the full cache, wrong with this one (passages)",
         names::last_word_flips_lost, false},
        {"last_word_flips_gained", "  wrong with the full cache, right with this one (passages)",
         names::last_word_flips_gained, false},
        {"last_word_mcnemar_p", "  McNemar's exact p of those flips", names::last_word_mcnemar_p,
         false},
        {"train_tokens_per_second", "Training throughput (tokens/s)",
         names::train_tokens_per_second, false},
        {"seconds_per_epoch", "Time per epoch (s)", names::seconds_per_epoch, false},
        {"generation_tokens_per_second", "Generation, KV-cached (tokens/s)",
         names::generation_tokens_per_second, false},
        {"phase1_iterations", "Phase 1 iterations (count)", names::iterations, true},
        {"phase1_convergence_rate", "Phase 1 final convergence rate (fraction)",
         names::final_convergence_rate, true},
        {"phase1_converged", "Phase 1 reached its convergence target (1 = yes)", names::converged,
         true},
        {"phase1_context_rank_initial_pct",
         "Context rank before Phase 1, untrained block (% of context width)",
         names::context_rank_initial_pct, true},
        {"phase1_context_rank_pct", "Context rank after Phase 1 (% of context width)",
         names::context_rank_pct, true},
        {"wall_seconds", "Wall time of the run (s)", "", false},
    };
}

}  // namespace

const std::vector<Measure>& measures() {
    static const std::vector<Measure> m = [] {
        std::vector<Measure> all = cost_and_quality_measures();
        for (const Measure& x : agreement_speed_and_phase1_measures()) all.push_back(x);
        return all;
    }();
    return m;
}

RunValues load_run_values(store::RunStore& store, std::int64_t run_id) {
    RunValues v;
    v.run = store.run(run_id);
    for (const auto& [k, value] : store.results(run_id)) v.results[k] = value;
    v.wall_seconds = lookup(v.results, names::wall_seconds);
    if (!v.wall_seconds) v.wall_seconds = seconds_between(v.run.started_at, v.run.finished_at);
    // The Phase 1 run of a Phase 2 is its recorded provenance (schema 3), never a guess.
    v.phase1_run_id = v.run.phase == store::Phase::phase1 ? std::optional<std::int64_t>(v.run.id)
                                                          : v.run.context_block_run_id;
    if (v.phase1_run_id) {
        v.phase1_status = store.run(*v.phase1_run_id).status;
        for (const auto& [k, value] : store.results(*v.phase1_run_id)) v.phase1_results[k] = value;
    }
    v.params = flatten_params(store.experiment(v.run.experiment_id).params_json);
    return v;
}

std::optional<double> measure_value(const RunValues& v, const Measure& m) {
    const std::string key = m.key;
    if (key == "wall_seconds") return v.wall_seconds;
    if (key == "learned") return learned(v.results);
    if (key == "beyond_bigram") return beyond_bigram(v.results);
    return lookup(m.from_phase1 ? v.phase1_results : v.results, m.result);
}

std::set<std::int64_t> measured_kv_lengths(const std::vector<const RunValues*>& runs) {
    std::set<std::int64_t> lengths;
    const std::string prefix = names::kv_bytes_per_token_at_prefix;
    for (const RunValues* r : runs)
        for (const auto& [name, value] : r->results)
            if (name.compare(0, prefix.size(), prefix) == 0) {
                try {
                    lengths.insert(std::stoll(name.substr(prefix.size())));
                } catch (const std::exception&) {
                }
            }
    return lengths;
}

std::string kv_row_key(std::int64_t length) {
    return "kv_" + std::to_string(length);
}

std::string kv_row_label(std::int64_t length) {
    return "KV cache at " + std::to_string(length) + " tokens (bytes/token, measured)";
}

std::optional<double> lookup(const Results& r, const std::string& name) {
    const auto it = r.find(name);
    if (it == r.end()) return std::nullopt;
    return it->second;
}

std::optional<double> learned(const Results& r) {
    const auto ppl = lookup(r, names::test_ppl), unigram = lookup(r, names::unigram_test_ppl);
    if (!ppl || !unigram) return std::nullopt;
    return *ppl < *unigram ? 1.0 : 0.0;
}

std::optional<double> beyond_bigram(const Results& r) {
    const auto ppl = lookup(r, names::test_ppl), bigram = lookup(r, names::bigram_test_ppl);
    if (!ppl || !bigram) return std::nullopt;
    return *ppl < *bigram ? 1.0 : 0.0;
}

namespace {
// "context-pythia under window:64 (run 7)"
std::string who_ran(const RunValues& v) {
    return std::string(model::design_key(v.run.model)) +
           (v.run.cache_policy.empty() ? "" : " under " + v.run.cache_policy) + " (run " +
           std::to_string(v.run.id) + ")";
}
}  // namespace

std::string barely_learned_reason(const RunValues& v) {
    const auto is_learned = learned(v.results);
    const auto beyond = beyond_bigram(v.results);
    if (!is_learned || *is_learned != 1.0 || !beyond || *beyond == 1.0) return "";
    return who_ran(v) + ": test perplexity " + fixed_text(v.results.at(names::test_ppl), 1) +
           " is below the unigram baseline (" +
           fixed_text(v.results.at(names::unigram_test_ppl), 1) +
           ") but not below the bigram baseline of its training tokens (" +
           fixed_text(v.results.at(names::bigram_test_ppl), 1) + ")";
}

std::string not_learned_reason(const RunValues& v) {
    const auto is_learned = learned(v.results);
    if (!is_learned || *is_learned == 1.0) return "";
    const double ppl = v.results.at(names::test_ppl);
    const double unigram = v.results.at(names::unigram_test_ppl);
    std::string s = who_ran(v) + ": test perplexity " + fixed_text(ppl, 1) +
                    " is not below the unigram baseline of its training tokens (" +
                    fixed_text(unigram, 1) + ")";
    if (const auto uniform = lookup(v.results, names::uniform_ppl))
        s += std::string(ppl < *uniform ? ", though below" : " nor below") +
             " the uniform distribution's " + fixed_text(*uniform, 1);
    return s;
}

}  // namespace cp::report
