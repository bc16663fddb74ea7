#include "report/comparison.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "report/csv.h"
#include "report/tables.h"
#include "store/metric_names.h"

namespace cp::report {
namespace {

using Results = std::map<std::string, double>;

struct Measure {
    const char* key;
    const char* label;
    const char* result;  // the run result it reads; "" for derived ones
    bool from_phase1;    // read from the side's Phase 1 run
};

// The table's rows, in the order researchers read them: cost first, then quality, then speed.
// The KV-cache rows (one per measured length) are inserted after the parameter counts.
const std::vector<Measure>& measures() {
    static const std::vector<Measure> m = {
        {"parameters_total", "Parameters, total (count)", names::parameters_total, false},
        {"parameters_trainable", "Parameters, trainable (count)", names::parameters_trainable,
         false},
        {"best_val_ppl", "Best validation perplexity", names::best_val_ppl, false},
        {"best_epoch", "Epoch of the best validation perplexity (epoch)", names::best_epoch, false},
        {"test_ppl", "Test perplexity", names::test_ppl, false},
        {"unigram_test_ppl", "  baseline: unigram of the training tokens, test perplexity",
         names::unigram_test_ppl, false},
        {"uniform_ppl", "  baseline: uniform over the vocabulary, test perplexity",
         names::uniform_ppl, false},
        {"learned", "  learned: test perplexity below the unigram baseline (1 = yes)", "", false},
        {"test_accuracy", "Token accuracy, test (fraction)", names::test_accuracy, false},
        {"last_word_accuracy", "LAMBADA-style last-word accuracy (fraction)",
         names::last_word_accuracy, false},
        {"last_word_accuracy_low", "  its 95% Wilson interval, low (fraction)",
         names::last_word_accuracy_low, false},
        {"last_word_accuracy_high", "  its 95% Wilson interval, high (fraction)",
         names::last_word_accuracy_high, false},
        {"last_word_passages", "  passages scored (n)", names::last_word_passages, false},
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
    return m;
}

// The cache lengths either side measured, ascending (results kv_bytes_per_token_at_<length>).
std::set<std::int64_t> measured_kv_lengths(const Results& a, const Results& b) {
    std::set<std::int64_t> lengths;
    const std::string prefix = names::kv_bytes_per_token_at_prefix;
    for (const Results* r : {&a, &b})
        for (const auto& [name, value] : *r)
            if (name.compare(0, prefix.size(), prefix) == 0) {
                try {
                    lengths.insert(std::stoll(name.substr(prefix.size())));
                } catch (const std::exception&) {
                }
            }
    return lengths;
}

std::optional<double> lookup(const Results& r, const std::string& name) {
    const auto it = r.find(name);
    if (it == r.end()) return std::nullopt;
    return it->second;
}

std::optional<double> seconds_between(const std::string& from, const std::string& to) {
    std::tm a{}, b{};
    if (from.empty() || to.empty()) return std::nullopt;
    std::istringstream fa(from), fb(to);
    fa >> std::get_time(&a, "%Y-%m-%dT%H:%M:%SZ");
    fb >> std::get_time(&b, "%Y-%m-%dT%H:%M:%SZ");
    if (fa.fail() || fb.fail()) return std::nullopt;
    return std::difftime(timegm(&b), timegm(&a));
}

struct SideData {
    ComparisonSide side;
    Results results, phase1_results;
    std::optional<double> wall_seconds;
    std::map<std::string, nlohmann::json> params;
};

SideData load_side(store::RunStore& store, std::int64_t run_id) {
    const store::RunRow run = store.run(run_id);
    SideData d;
    d.side.run_id = run.id;
    d.side.experiment_id = run.experiment_id;
    d.side.model = run.model;
    d.side.phase = run.phase;
    d.side.status = run.status;
    d.side.name = run.name;
    for (const auto& [k, v] : store.results(run_id)) d.results[k] = v;
    d.wall_seconds = lookup(d.results, names::wall_seconds);
    if (!d.wall_seconds) d.wall_seconds = seconds_between(run.started_at, run.finished_at);
    // The Phase 1 run of a Phase 2 is its recorded provenance (schema 3), never a guess.
    d.side.phase1_run_id = run.phase == store::Phase::phase1 ? std::optional<std::int64_t>(run.id)
                                                             : run.context_block_run_id;
    if (d.side.phase1_run_id) {
        d.side.phase1_status = store.run(*d.side.phase1_run_id).status;
        for (const auto& [k, v] : store.results(*d.side.phase1_run_id)) d.phase1_results[k] = v;
    }
    d.params = flatten_params(store.experiment(run.experiment_id).params_json);
    return d;
}

std::vector<std::string> parameter_differences(const std::map<std::string, nlohmann::json>& fa,
                                               const std::map<std::string, nlohmann::json>& fb) {
    // Bookkeeping that does not change what was trained.
    static const std::set<std::string> ignored = {"name", "db", "checkpoint_dir", "threads"};
    std::set<std::string> keys;
    for (const auto& [k, v] : fa) keys.insert(k);
    for (const auto& [k, v] : fb) keys.insert(k);
    std::vector<std::string> out;
    for (const std::string& k : keys) {
        if (ignored.count(k)) continue;
        const auto ia = fa.find(k), ib = fb.find(k);
        const std::string va = ia == fa.end() ? "(absent)" : ia->second.dump();
        const std::string vb = ib == fb.end() ? "(absent)" : ib->second.dump();
        if (va != vb) out.push_back(k + ": " + va + " vs " + vb);
    }
    return out;
}

// 1 when the run's test perplexity is below the unigram baseline of its training tokens, 0 when
// not; absent when either was not measured (no evaluation, or a run from before the baseline).
std::optional<double> learned(const Results& r) {
    const auto ppl = lookup(r, names::test_ppl), unigram = lookup(r, names::unigram_test_ppl);
    if (!ppl || !unigram) return std::nullopt;
    return *ppl < *unigram ? 1.0 : 0.0;
}

std::string not_learned(const SideData& d) {
    const auto is_learned = learned(d.results);
    if (!is_learned || *is_learned == 1.0) return "";
    const double ppl = d.results.at(names::test_ppl);
    const double unigram = d.results.at(names::unigram_test_ppl);
    std::ostringstream s;
    s.imbue(std::locale::classic());
    s << std::fixed << std::setprecision(1) << model::design_key(d.side.model) << " (run "
      << d.side.run_id << "): test perplexity " << ppl
      << " is not below the unigram baseline of its training tokens (" << unigram << ")";
    if (const auto uniform = lookup(d.results, names::uniform_ppl))
        s << (ppl < *uniform ? ", though below" : " nor below") << " the uniform distribution's "
          << *uniform;
    return s.str();
}

Comparison build(const SideData& a, const SideData& b) {
    Comparison c;
    c.a = a.side;
    c.b = b.side;
    const auto kv_rows = [&] {
        for (std::int64_t length : measured_kv_lengths(a.results, b.results)) {
            ComparisonRow row;
            row.key = "kv_" + std::to_string(length);
            row.measure =
                "KV cache at " + std::to_string(length) + " tokens (bytes/token, measured)";
            row.a = lookup(a.results, names::kv_bytes_per_token_at(length));
            row.b = lookup(b.results, names::kv_bytes_per_token_at(length));
            c.rows.push_back(row);
        }
    };
    for (const Measure& m : measures()) {
        if (std::string(m.key) == "best_val_ppl") kv_rows();
        ComparisonRow row;
        row.key = m.key;
        row.measure = m.label;
        if (row.key == "wall_seconds") {
            row.a = a.wall_seconds;
            row.b = b.wall_seconds;
        } else if (row.key == "learned") {
            row.a = learned(a.results);
            row.b = learned(b.results);
        } else {
            row.a = lookup(m.from_phase1 ? a.phase1_results : a.results, m.result);
            row.b = lookup(m.from_phase1 ? b.phase1_results : b.results, m.result);
        }
        c.rows.push_back(row);
    }
    if (a.side.experiment_id != b.side.experiment_id)
        c.parameter_differences = parameter_differences(a.params, b.params);
    for (const SideData* d : {&a, &b})
        if (const std::string why = not_learned(*d); !why.empty()) c.not_learned.push_back(why);
    return c;
}

std::string cell(std::optional<double> v) {
    if (!v) return "-";
    std::ostringstream s;
    s.imbue(std::locale::classic());
    const double x = *v;
    if (x != 0 && (std::fabs(x) >= 1e7 || std::fabs(x) < 1e-3))
        s << std::setprecision(4) << std::scientific << x;
    else if (std::fabs(x - std::round(x)) < 1e-9)
        s << std::fixed << std::setprecision(0) << x;
    else
        s << std::fixed << std::setprecision(4) << x;
    return s.str();
}

}  // namespace

std::string ComparisonSide::label() const {
    std::string s = "run " + std::to_string(run_id) + ": " + model::design_key(model) + " " +
                    store::phase_key(phase) + " (" + store::status_display_name(status) + ")";
    if (phase1_run_id && phase != store::Phase::phase1)
        s += ", ContextBlock of run " + std::to_string(*phase1_run_id) +
             (phase1_status && *phase1_status != store::RunStatus::finished
                  ? std::string(" (") + store::status_display_name(*phase1_status) + ")"
                  : std::string());
    return s;
}

std::optional<double> ComparisonRow::difference() const {
    if (!a || !b) return std::nullopt;
    return *a - *b;
}

std::optional<double> ComparisonRow::ratio() const {
    if (!a || !b || *b == 0) return std::nullopt;
    return *a / *b;
}

const ComparisonRow& Comparison::row(const std::string& key) const {
    for (const ComparisonRow& r : rows)
        if (r.key == key) return r;
    throw Error("internal error: the comparison has no row '" + key + "'");
}

const std::vector<std::string>& comparison_keys() {
    static const std::vector<std::string> keys = [] {
        std::vector<std::string> k;
        for (const Measure& m : measures()) k.push_back(m.key);
        return k;
    }();
    return keys;
}

Comparison compare_runs(store::RunStore& store, std::int64_t run_a, std::int64_t run_b) {
    return build(load_side(store, run_a), load_side(store, run_b));
}

Comparison compare_experiment(store::RunStore& store, std::int64_t experiment_id) {
    const store::ExperimentRow e = store.experiment(experiment_id);
    std::optional<std::int64_t> context, pythia;
    for (const store::RunRow& r : store.runs(experiment_id)) {
        if (r.phase != store::Phase::phase2) continue;
        // The latest run of each model: a resumed or repeated run supersedes an earlier one.
        if (r.model == model::Design::context_pythia) context = r.id;
        if (r.model == model::Design::pythia) pythia = r.id;
    }
    if (!context || !pythia)
        throw Error("experiment " + std::to_string(experiment_id) + " ('" + e.name +
                    "') has no Phase 2 run of " +
                    (!context && !pythia ? std::string("either model")
                     : !context          ? std::string("Context-Pythia")
                                         : std::string("Pythia")) +
                    " to compare (compare two runs with 'context-pythia runs compare A B')");
    return compare_runs(store, *context, *pythia);
}

std::string verdict_text(const std::vector<std::string>& not_learned) {
    if (not_learned.empty()) return "";
    std::string s = std::string(kNotLearned) + ":";
    for (const std::string& why : not_learned) s += "\n  " + why;
    return s + "\n  Train longer (more samples or epochs) or with the size preset's learning rate.";
}

void write_comparison_csv(const Comparison& c, std::ostream& out) {
    CsvWriter csv(out);
    csv.text("measure")
        .text("A: " + c.a.label())
        .text("B: " + c.b.label())
        .text("A - B")
        .text("A / B")
        .end_row();
    for (const ComparisonRow& r : c.rows)
        csv.text(r.measure)
            .number(r.a)
            .number(r.b)
            .number(r.difference())
            .number(r.ratio())
            .end_row();
    for (const std::string& d : c.parameter_differences)
        csv.text("Parameter differs: " + d).empty().empty().empty().empty().end_row();
    for (const std::string& why : c.not_learned)
        csv.text(std::string(kNotLearned) + ": " + why).empty().empty().empty().empty().end_row();
}

std::string comparison_text(const Comparison& c) {
    std::vector<std::vector<std::string>> table = {{"measure", "A", "B", "A - B", "A / B"}};
    for (const ComparisonRow& r : c.rows)
        table.push_back({r.measure, cell(r.a), cell(r.b), cell(r.difference()), cell(r.ratio())});
    std::ostringstream s;
    if (!c.not_learned.empty()) s << verdict_text(c.not_learned) << "\n\n";
    s << "A = " << c.a.label() << (c.a.name.empty() ? "" : " '" + c.a.name + "'") << "\n";
    s << "B = " << c.b.label() << (c.b.name.empty() ? "" : " '" + c.b.name + "'") << "\n\n";
    s << text_table(table, {false, true, true, true, true});
    if (c.parameter_differences.empty()) {
        s << "\nThe two runs were trained with the same parameters.\n";
    } else {
        s << "\nParameters that differ (A vs B):\n";
        for (const std::string& d : c.parameter_differences) s << "  " << d << "\n";
    }
    return s.str();
}

}  // namespace cp::report
