#include "report/design_comparison.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "common/numbers.h"
#include "common/error.h"
#include "model/cache_policy.h"
#include "model/model_registry.h"
#include "report/comparison.h"
#include "report/csv.h"
#include "report/run_values.h"
#include "report/tables.h"
#include "store/metric_names.h"

namespace cp::report {
namespace {

std::uint64_t seed_of(const store::ExperimentRow& e) {
    const auto params = flatten_params(e.params_json);
    const auto it = params.find("seed");
    return it != params.end() && it->second.is_number_unsigned() ? it->second.get<std::uint64_t>()
                                                                  : 0;
}

// One experiment's columns: the latest Phase 2 run of each design (a resumed or repeated run
// supersedes an earlier one) and the latest evaluation of each (design, cache policy), in the
// order they were first recorded.
struct MemberRuns {
    std::vector<DesignColumn> order;
    std::map<std::string, RunValues> runs;  // by column key
};

MemberRuns member_runs(store::RunStore& store, std::int64_t experiment_id) {
    MemberRuns m;
    for (const store::RunRow& r : store.runs(experiment_id)) {
        const bool trained = r.phase == store::Phase::phase2;
        const bool evaluation = r.phase == store::Phase::evaluation;
        if (!trained && !evaluation) continue;
        RunValues values = load_run_values(store, r.id);
        DesignColumn col;
        col.design = r.model;
        col.policy = r.cache_policy;
        col.pretrained_as_is = evaluation && r.cache_policy.empty() &&
                               lookup(values.results, names::pretrained_as_is).value_or(0) == 1;
        if (evaluation && r.cache_policy.empty() && !col.pretrained_as_is) continue;  // anatomy
        if (!m.runs.count(col.key())) m.order.push_back(col);
        m.runs[col.key()] = std::move(values);
    }
    return m;
}

std::optional<SeedEstimate> estimate_of(const std::vector<std::optional<double>>& values) {
    std::vector<double> present;
    for (const auto& v : values)
        if (v) present.push_back(*v);
    return estimate(present);
}

std::string number(double x) {
    const double ax = std::fabs(x);
    if (x != 0 && (ax >= 1e7 || ax < 1e-3)) return scientific_text(x, 3);
    if (ax >= 1000 || std::fabs(x - std::round(x)) < 1e-9) return fixed_text(x, 0);
    return fixed_text(x, ax >= 10 ? 2 : 4);
}

std::string ratio_text(double r) { return "×" + fixed_text(r, r >= 100 ? 0 : 3); }

// "1585", "1585 ± 61.60 [1432, 1738]"; a seed-independent measure (sd 0) shows "± 0" alone.
std::string estimate_text(const std::optional<SeedEstimate>& e) {
    if (!e) return "-";
    std::string s = number(e->mean);
    if (!e->sd) return s;
    s += " ± " + number(*e->sd);
    if (e->interval && *e->sd != 0)
        s += " [" + number(e->interval->low) + ", " + number(e->interval->high) + "]";
    return s;
}

// The rows a seed-independent difference makes no sense for (costs and the measure of Phase 1).
bool differs_meaningfully(const std::string& key) {
    return key != "parameters_total" && key != "parameters_trainable" && key != "tokens_trained" &&
           key != "tokens_to_best" &&
           key.rfind("kv_", 0) != 0 && key.rfind("phase1_", 0) != 0 && key != "uniform_ppl" &&
           key != "unigram_test_ppl" && key != "bigram_test_ppl" && key != "last_word_passages" &&
           key != "lambada_file_lines" && key != "test_tokens_strided" &&
           key != "test_documents" && key != "test_genres";
}

// Rows whose ratio to Pythia means nothing: counts of the evaluation, flags, interval bounds,
// baselines shared by every design, and Phase 1 (Pythia has none).
bool has_ratio(const std::string& key) {
    static const std::set<std::string> none = {
        "best_epoch",         "unigram_test_ppl",        "uniform_ppl",
        "bigram_test_ppl",    "beyond_bigram",           "test_documents",  "test_genres",
        "learned",            "last_word_accuracy_low",  "last_word_accuracy_high",
        "last_word_passages", "lambada_file_lines", "test_tokens_strided"};
    return !none.count(key) && key.rfind("phase1_", 0) != 0;
}

// The per-seed differences a - b (absent where either side is), summarised over the seeds.
std::optional<SeedEstimate> paired_difference(const DesignCell& a, const DesignCell& b) {
    std::vector<std::optional<double>> paired;
    for (std::size_t s = 0; s < a.values.size(); ++s)
        paired.push_back(a.values[s] && b.values[s]
                             ? std::optional<double>(*a.values[s] - *b.values[s])
                             : std::nullopt);
    return estimate_of(paired);
}

void fill_cells(DesignRow& row, const DesignComparison& c) {
    for (DesignCell& cell : row.cells) cell.estimate = estimate_of(cell.values);
    if (!c.reference || !has_ratio(row.key)) return;
    const DesignCell& base = row.cells[*c.reference];
    for (std::size_t k = 0; k < row.cells.size(); ++k) {
        DesignCell& cell = row.cells[k];
        if (cell.estimate && base.estimate && base.estimate->mean != 0)
            cell.ratio = cell.estimate->mean / base.estimate->mean;
        if (k == *c.reference) continue;
        cell.difference = paired_difference(cell, base);
    }
}

struct Used {
    std::uint64_t seed;
    MemberRuns runs;
};

// The measures judged against the variation of the text, and what each resamples: the series of
// per-chunk (or per-passage) values, the series naming each value's unit (empty: every value its
// own unit), and how a side's value follows from the units' mean.
struct TextMeasure {
    const char* key;
    const char* values;
    const char* units;
    BootstrapScale scale;
};
constexpr TextMeasure kTextMeasures[] = {
    {"test_ppl", names::test_chunk_loss, names::test_chunk_document, BootstrapScale::exp_of_mean},
    {"test_accuracy", names::test_chunk_accuracy, names::test_chunk_document, BootstrapScale::mean},
    {"last_word_accuracy", names::last_word_passage_correct, "", BootstrapScale::mean},
    {"last_word_ppl_per_passage", names::last_word_passage_nll, "", BootstrapScale::exp_of_mean},
};

std::vector<double> series(store::RunStore& store, std::int64_t run, const char* name) {
    std::vector<double> v;
    for (const store::MetricPoint& m : store.metrics(run, name)) v.push_back(m.value);
    return v;
}

// A column's values of one measure in every seed, when each seed recorded them on the same units.
std::optional<DesignComparison::TextUnits> text_units_of(store::RunStore& store,
                                                         const DesignColumn& col,
                                                         const TextMeasure& m) {
    DesignComparison::TextUnits t;
    for (std::size_t s = 0; s < col.runs.size(); ++s) {
        std::vector<double> values = series(store, col.runs[s], m.values);
        std::vector<std::int64_t> unit;
        if (*m.units)
            for (double u : series(store, col.runs[s], m.units))
                unit.push_back(static_cast<std::int64_t>(u));
        else
            for (std::size_t i = 0; i < values.size(); ++i)
                unit.push_back(static_cast<std::int64_t>(i));
        if (values.empty() || unit.size() != values.size()) return std::nullopt;
        if (s == 0)
            t.unit = unit;
        else if (unit != t.unit)
            return std::nullopt;
        t.per_seed.push_back(std::move(values));
    }
    if (t.per_seed.empty()) return std::nullopt;
    return t;
}

// Each measure's paired differences to the reference over resampled text.
void add_document_intervals(DesignComparison& c, store::RunStore& store) {
    for (const TextMeasure& m : kTextMeasures) {
        auto& columns = c.text_units[m.key];
        for (const DesignColumn& col : c.columns) columns.push_back(text_units_of(store, col, m));
    }
    if (!c.reference) return;
    if (const auto& r = c.text_units["test_ppl"][*c.reference])
        c.test_documents = std::set<std::int64_t>(r->unit.begin(), r->unit.end()).size();
    for (DesignRow& row : c.rows) {
        if (!c.text_units.count(row.key)) continue;
        for (std::size_t k = 0; k < c.columns.size(); ++k)
            if (k != *c.reference) row.cells[k].document_interval = c.text_interval(row.key, k, *c.reference);
    }
}

void build_rows(DesignComparison& c, const std::vector<Used>& used) {
    std::vector<const RunValues*> all;
    for (const Used& u : used)
        for (const auto& [d, v] : u.runs.runs) all.push_back(&v);
    const std::set<std::int64_t> lengths = measured_kv_lengths(all);
    c.kv_lengths.assign(lengths.begin(), lengths.end());
    const auto value_row = [&](const std::string& key, const std::string& label,
                               const auto& value_of) {
        DesignRow row;
        row.key = key;
        row.measure = label;
        for (const DesignColumn& col : c.columns) {
            DesignCell cell;
            for (const Used& u : used) {
                const auto it = u.runs.runs.find(col.key());
                cell.values.push_back(it == u.runs.runs.end() ? std::nullopt : value_of(it->second));
            }
            row.cells.push_back(cell);
        }
        fill_cells(row, c);
        c.rows.push_back(row);
    };
    for (const Measure& m : measures()) {
        value_row(m.key, m.label, [&](const RunValues& v) { return measure_value(v, m); });
        if (std::string(m.key) == kv_rows_follow)
            for (std::int64_t length : c.kv_lengths)
                value_row(kv_row_key(length), kv_row_label(length), [&](const RunValues& v) {
                    return lookup(v.results, names::kv_bytes_per_token_at(length));
                });
    }
}

void build_kv_checks(DesignComparison& c, const std::vector<Used>& used) {
    if (!c.baseline || used.empty()) return;
    const MemberRuns& first = used.front().runs;
    const auto base_it = first.runs.find(c.columns[*c.baseline].key());
    for (std::size_t k = 0; k < c.columns.size(); ++k) {
        // A policy column has no formula (its bytes are measured, KV_METHODS.md part B).
        if (k == *c.baseline || !c.columns[k].policy.empty() || c.columns[k].pretrained_as_is)
            continue;
        KvCheck check;
        check.design = c.columns[k].design;
        const model::KvClaim& claim = model::design_entry(check.design).claim;
        if (claim.ratio > 0) {
            check.claimed = claim.ratio;
            check.claim_source = claim.source;
        }
        const auto it = first.runs.find(c.columns[k].key());
        for (std::int64_t length : c.kv_lengths) {
            check.lengths.push_back(length);
            const auto ratio = [&](const std::string& name) -> std::optional<double> {
                if (it == first.runs.end() || base_it == first.runs.end()) return std::nullopt;
                const auto a = lookup(it->second.results, name);
                const auto b = lookup(base_it->second.results, name);
                if (!a || !b || *b == 0) return std::nullopt;
                return *a / *b;
            };
            check.formula.push_back(ratio(names::kv_formula_values_per_token_at(length)));
            check.measured.push_back(ratio(names::kv_bytes_per_token_at(length)));
        }
        c.kv_checks.push_back(check);
    }
}

std::string seeds_prefix(const DesignComparison& c, std::uint64_t seed) {
    return c.group_uid.empty() ? "" : "seed " + std::to_string(seed) + ": ";
}

// Why a member of a group cannot enter the statistics, or "".
std::string problem_of(const MemberRuns& m, const std::vector<DesignColumn>& columns) {
    for (const DesignColumn& col : columns) {
        if (!col.policy.empty()) continue;  // policies do not decide whether a seed counts
        const auto it = m.runs.find(col.key());
        if (it == m.runs.end())
            return std::string("no Phase 2 run of ") + model::design_key(col.design);
        if (!store::completed(it->second.run.status))
            return "run " + std::to_string(it->second.run.id) + " (" +
                   model::design_key(col.design) + ") " +
                   store::status_display_name(it->second.run.status);
    }
    return "";
}

}  // namespace

std::string DesignColumn::key() const {
    return std::string(model::design_key(design)) + (pretrained_as_is ? "@pretrained" : "") +
           (policy.empty() ? "" : "+" + policy);
}

std::string DesignColumn::heading() const {
    std::string s = model::design_display_name(design);
    if (pretrained_as_is) s += " pretrained, no training";
    if (!policy.empty()) {
        try {
            s += " + " + model::parse_policy(policy).label();
        } catch (const Error&) {
            s += " + " + policy;  // a policy this workbench no longer reads: its text
        }
    }
    if (status != store::RunStatus::finished)
        s += std::string(" (") + store::status_display_name(status) + ")";
    return s;
}

bool KvCheck::disagrees() const {
    for (std::size_t i = 0; i < lengths.size(); ++i)
        if (formula[i] && measured[i] && std::fabs(*measured[i] / *formula[i] - 1.0) > 0.01)
            return true;
    return false;
}

bool KvCheck::claim_differs() const {
    if (!claimed) return false;
    for (const auto& m : measured)
        if (m && std::fabs(*m - *claimed) > 0.01) return true;
    return false;
}

std::int64_t DesignComparison::n() const {
    std::int64_t used = 0;
    for (const GroupMember& m : members) used += m.used();
    return used;
}

std::string DesignComparison::seeds_text() const {
    std::string used, left_out;
    for (const GroupMember& m : members) {
        if (m.used())
            used += (used.empty() ? "" : ", ") + std::to_string(m.seed);
        else
            left_out += "; seed " + std::to_string(m.seed) + " (experiment " +
                        std::to_string(m.experiment_id) + ") left out: " + m.problem;
    }
    return "seed" + std::string(members.size() == 1 ? " " : "s ") +
           (used.empty() ? std::string("none") : used) + " (n = " + std::to_string(n()) + ")" +
           left_out;
}

std::optional<Interval> DesignComparison::text_interval(const std::string& key, std::size_t a,
                                                        std::size_t b) const {
    const auto it = text_units.find(key);
    if (it == text_units.end() || a >= it->second.size() || b >= it->second.size()) return std::nullopt;
    const auto& x = it->second[a];
    const auto& y = it->second[b];
    if (!x || !y || x->unit != y->unit || x->per_seed.size() != y->per_seed.size())
        return std::nullopt;
    BootstrapScale scale = BootstrapScale::mean;
    for (const TextMeasure& m : kTextMeasures)
        if (key == m.key) scale = m.scale;
    return document_bootstrap_interval(x->per_seed, y->per_seed, x->unit, 2000, 20261206, scale);
}

const DesignRow& DesignComparison::row(const std::string& key) const {
    for (const DesignRow& r : rows)
        if (r.key == key) return r;
    throw Error("internal error: the design comparison has no row '" + key + "'");
}

std::string DesignComparison::reference_heading() const {
    return reference ? columns[*reference].heading() : "";
}

std::string DesignComparison::reference_key() const {
    return reference ? columns[*reference].key() : "";
}

std::optional<std::size_t> DesignComparison::column_of(model::Design d,
                                                        const std::string& policy) const {
    for (std::size_t k = 0; k < columns.size(); ++k)
        if (columns[k].design == d && columns[k].policy == policy && !columns[k].pretrained_as_is)
            return k;
    return std::nullopt;
}

std::optional<std::string> seed_group_of(store::RunStore& store, std::int64_t experiment_id) {
    const std::string uid = store.experiment(experiment_id).group_uid;
    if (uid.empty() || store.group(uid).size() < 2) return std::nullopt;
    return uid;
}

namespace {
void settle_columns(DesignComparison& c, const std::vector<Used>& used);
void choose_reference(DesignComparison& c, const std::string& reference,
                      std::int64_t experiment_id);
void add_verdicts(DesignComparison& c, const std::vector<Used>& used);
}  // namespace

DesignComparison compare_designs(store::RunStore& store, std::int64_t experiment_id,
                                 bool this_seed_only, const std::string& reference) {
    DesignComparison c;
    std::vector<store::ExperimentRow> experiments;
    if (const auto group = this_seed_only ? std::nullopt : seed_group_of(store, experiment_id)) {
        c.group_uid = *group;
        experiments = store.group(*group);
    } else {
        experiments = {store.experiment(experiment_id)};  // names an unknown id
    }
    std::vector<std::pair<GroupMember, MemberRuns>> all;
    for (const store::ExperimentRow& e : experiments) {
        all.push_back({GroupMember{e.id, seed_of(e), ""}, member_runs(store, e.id)});
        for (const DesignColumn& col : all.back().second.order)
            if (std::none_of(c.columns.begin(), c.columns.end(),
                             [&](const DesignColumn& x) { return x.key() == col.key(); }))
                c.columns.push_back(col);
    }
    if (c.columns.empty())
        throw Error("experiment " + std::to_string(experiment_id) + " ('" +
                    store.experiment(experiment_id).name +
                    "') has no Phase 2 run to compare yet (compare two runs with 'context-pythia "
                    "runs compare A B')");
    std::vector<Used> used;
    for (auto& [member, runs] : all) {
        // One experiment shows whatever it has; a group's statistics need every design of a seed.
        if (!c.group_uid.empty()) member.problem = problem_of(runs, c.columns);
        if (member.used()) used.push_back({member.seed, runs});
        c.members.push_back(member);
    }
    if (used.empty())
        throw Error("no seed of group '" + c.group_uid +
                    "' finished every design, so there is nothing to compare: " + c.seeds_text());
    settle_columns(c, used);
    choose_reference(c, reference, experiment_id);
    build_rows(c, used);
    add_document_intervals(c, store);
    build_kv_checks(c, used);
    add_verdicts(c, used);
    return c;
}

namespace {

// A policy column of a group stands only where every used seed was evaluated under it; each
// column gets its run in every used seed, and the first seed's status and provenance.
void settle_columns(DesignComparison& c, const std::vector<Used>& used) {
    std::vector<DesignColumn> kept;
    for (const DesignColumn& col : c.columns) {
        const bool everywhere = std::all_of(used.begin(), used.end(), [&](const Used& u) {
            const auto it = u.runs.runs.find(col.key());
            return it != u.runs.runs.end() && store::completed(it->second.run.status);
        });
        if (col.policy.empty() || everywhere || c.group_uid.empty())
            kept.push_back(col);
        else
            c.notes.push_back(col.heading() + " left out: not every seed was evaluated under it");
    }
    c.columns = kept;
    for (DesignColumn& col : c.columns) {
        for (const Used& u : used)
            if (const auto it = u.runs.runs.find(col.key()); it != u.runs.runs.end())
                col.runs.push_back(it->second.run.id);
        if (const auto it = used.front().runs.runs.find(col.key());
            it != used.front().runs.runs.end()) {
            col.status = it->second.run.status;
            col.phase1_run = it->second.phase1_run_id;
            col.phase1_status = it->second.phase1_status;
        }
    }
}

void choose_reference(DesignComparison& c, const std::string& reference,
                      std::int64_t experiment_id) {
    // Pythia as trained; a checkpoint's evaluation has Pythia under the full cache instead.
    c.baseline = c.column_of(model::Design::pythia);
    if (!c.baseline) c.baseline = c.column_of(model::Design::pythia, "full");
    c.reference = c.baseline;
    if (!reference.empty()) {
        c.reference.reset();
        std::string keys;
        for (std::size_t k = 0; k < c.columns.size(); ++k) {
            if (c.columns[k].key() == reference) c.reference = k;
            keys += (keys.empty() ? "" : ", ") + c.columns[k].key();
        }
        if (!c.reference)
            throw Error("reference '" + reference + "' is not a column of experiment " +
                        std::to_string(experiment_id) + " (its columns: " + keys +
                        "): choose one of them, or leave --reference out for Pythia");
    }
}

// The verdict is the trained model's: a policy column shares its trained run's.
void add_verdicts(DesignComparison& c, const std::vector<Used>& used) {
    for (const Used& u : used)
        for (const DesignColumn& col : c.columns)
            if (const auto it = u.runs.runs.find(col.key());
                col.policy.empty() && it != u.runs.runs.end())
            {
                if (const std::string why = not_learned_reason(it->second); !why.empty())
                    c.not_learned.push_back(seeds_prefix(c, u.seed) + why);
                if (const std::string why = barely_learned_reason(it->second); !why.empty())
                    c.barely_learned.push_back(seeds_prefix(c, u.seed) + why);
            }
}

}  // namespace

std::vector<std::vector<std::string>> design_table_cells(const DesignComparison& c) {
    const bool group = c.n() > 1;
    std::vector<std::string> header = {"measure"};
    for (std::size_t k = 0; k < c.columns.size(); ++k)
        header.push_back(c.columns[k].heading() +
                         (group ? ": mean ± sd [95% CI]" : "") +
                         (c.reference && k != *c.reference ? ", ×" + c.reference_heading() : ""));
    std::vector<std::vector<std::string>> t = {header};
    for (const DesignRow& r : c.rows) {
        std::vector<std::string> line = {r.measure};
        for (std::size_t k = 0; k < r.cells.size(); ++k) {
            const DesignCell& cell = r.cells[k];
            std::string text = estimate_text(cell.estimate);
            if (cell.ratio && c.reference && k != *c.reference) text += "  " + ratio_text(*cell.ratio);
            line.push_back(text);
        }
        t.push_back(line);
    }
    return t;
}

std::vector<std::vector<std::string>> difference_table_cells(const DesignComparison& c) {
    bool documents = false;
    for (const DesignRow& r : c.rows)
        for (const DesignCell& cell : r.cells) documents = documents || cell.document_interval;
    if (!c.reference || (c.n() < 2 && !documents)) return {};
    std::vector<std::string> header = {"measure"};
    for (std::size_t k = 0; k < c.columns.size(); ++k)
        if (k != *c.reference)
            header.push_back(c.columns[k].heading() + " − " + c.reference_heading() +
                             ", paired: mean [95% CI over seeds]" +
                             (documents ? " · [95% over documents]" : ""));
    std::vector<std::vector<std::string>> t = {header};
    for (const DesignRow& r : c.rows) {
        if (!differs_meaningfully(r.key)) continue;
        std::vector<std::string> line = {r.measure};
        for (std::size_t k = 0; k < r.cells.size(); ++k) {
            if (k == *c.reference) continue;
            const auto& d = r.cells[k].difference;
            if (!d) {
                line.push_back("-");
                continue;
            }
            std::string text = (d->mean > 0 ? "+" : "") + number(d->mean);
            if (d->interval)
                text += " [" + number(d->interval->low) + ", " + number(d->interval->high) + "]" +
                        (d->excludes_zero() ? " excl. 0" : "");
            if (const auto& doc = r.cells[k].document_interval)
                text += " · [" + number(doc->low) + ", " + number(doc->high) + "]" +
                        (doc->excludes_zero() ? " excl. 0" : "");
            line.push_back(text);
        }
        t.push_back(line);
    }
    return t;
}

std::vector<std::vector<std::string>> kv_check_cells(const DesignComparison& c) {
    if (c.kv_checks.empty()) return {};
    std::vector<std::string> header = {"design", "claimed ×Pythia"};
    for (std::int64_t length : c.kv_lengths)
        header.push_back("at " + std::to_string(length) + ": measured (formula)");
    header.push_back("verdict");
    std::vector<std::vector<std::string>> t = {header};
    const auto fraction = [](const std::optional<double>& v) {
        return v ? fixed_text(*v, 3) : std::string("-");
    };
    for (const KvCheck& k : c.kv_checks) {
        std::vector<std::string> line = {model::design_display_name(k.design),
                                         k.claimed ? fraction(k.claimed) + " (" + k.claim_source + ")"
                                                   : "-"};
        for (std::size_t i = 0; i < k.lengths.size(); ++i)
            line.push_back(fraction(k.measured[i]) + " (" + fraction(k.formula[i]) + ")");
        std::string verdict = k.disagrees() ? "MEASURED ≠ FORMULA: a cache stores what its design "
                                              "says it does not"
                                            : "measured = formula";
        if (k.claim_differs()) verdict += "; the claim is not what was measured";
        line.push_back(verdict);
        t.push_back(line);
    }
    return t;
}

std::vector<Effect> context_pythia_effects(const DesignComparison& c) {
    std::vector<Effect> effects;
    const auto with = c.column_of(model::Design::context_pythia);
    if (!with) return effects;
    const DesignRow& ppl = c.row("test_ppl");
    const auto effect = [&](model::Design without, const std::string& key, const std::string& what) {
        const auto other = c.column_of(without);
        if (!other) return;
        effects.push_back({what + " (Context-Pythia − " + c.columns[*other].heading() + ")", key,
                           paired_difference(ppl.cells[*with], ppl.cells[*other]),
                           c.text_interval("test_ppl", *with, *other)});
    };
    effect(model::Design::projection_256, "recurrence", "the recurrence");
    effect(model::Design::context_pythia_untrained, "phase1", "Phase 1");
    return effects;
}

std::string effect_text(const Effect& e) {
    if (!e.difference) return e.name + ": -";
    const SeedEstimate& d = *e.difference;
    std::string s = e.name + ": " + (d.mean > 0 ? "+" : "") + number(d.mean) + " test perplexity";
    if (d.interval)
        s += ", 95% t-interval [" + number(d.interval->low) + ", " + number(d.interval->high) +
             "] over " + std::to_string(d.n) + " seeds" +
             (d.excludes_zero() ? " (excludes 0)" : " (includes 0: not significant)");
    else
        s += " (one seed: no interval)";
    if (const auto& doc = e.document_interval)
        s += "; over resampled documents [" + number(doc->low) + ", " + number(doc->high) + "]" +
             (doc->excludes_zero() ? " (excludes 0)" : " (includes 0)");
    return s;
}

std::string design_comparison_text(const DesignComparison& c) {
    std::ostringstream s;
    if (!c.not_learned.empty()) s << verdict_text(c.not_learned) << "\n\n";
    if (!c.barely_learned.empty()) s << barely_learned_text(c.barely_learned) << "\n\n";
    if (c.group_uid.empty())
        s << "Experiment " << c.members.front().experiment_id << ", "
          << c.seeds_text().substr(0, c.seeds_text().find(" (n =")) << "\n";
    else
        s << "Seed group " << c.group_uid << ": " << c.seeds_text() << "\n";
    s << "Designs:";
    for (const DesignColumn& col : c.columns) {
        s << "\n  " << col.heading() << ": run" << (col.runs.size() == 1 ? " " : "s ");
        for (std::size_t i = 0; i < col.runs.size(); ++i) s << (i ? ", " : "") << col.runs[i];
        if (col.phase1_run)
            s << " (ContextBlock of run " << *col.phase1_run
              << (col.phase1_status && *col.phase1_status != store::RunStatus::finished
                      ? std::string(", ") + store::status_display_name(*col.phase1_status)
                      : std::string())
              << ")";
    }
    s << "\n"
      << (c.reference ? "×" + c.reference_heading() + ": each design's value over " +
                            c.reference_heading() + "'s"
                      : std::string("No Pythia run in this experiment: no ratios"))
      << (c.n() > 1 ? "; mean ± sd over the seeds, 95% t-intervals" : "") << "\n\n";
    std::vector<bool> right(c.columns.size() + 1, true);
    right[0] = false;
    s << text_table(design_table_cells(c), right);
    for (const std::string& note : c.notes) s << "Note: " << note << "\n";
    if (const auto d = difference_table_cells(c); !d.empty()) {
        s << "\nDifference to " << c.reference_heading()
          << ", from the per-seed paired differences"
          << (c.test_documents > 0
                  ? "; test perplexity and token accuracy also over " +
                        std::to_string(c.test_documents) +
                        " held-out documents resampled, last-word accuracy and perplexity over "
                        "their passages (2,000 paired bootstrap draws)"
                  : std::string())
          << ":\n";
        std::vector<bool> r(d.front().size(), true);
        r[0] = false;
        s << text_table(d, r);
    }
    if (const auto effects = context_pythia_effects(c); !effects.empty()) {
        s << "\nContext-Pythia's ingredients, each on its own:\n";
        for (const Effect& e : effects) s << "  " << effect_text(e) << "\n";
    }
    if (const auto k = kv_check_cells(c); !k.empty()) {
        s << "\nKV cache against Pythia's: the claim, the measurement and the formula of the "
             "config:\n";
        std::vector<bool> r(k.front().size(), true);
        r[0] = false;
        r.back() = false;
        r[1] = false;
        s << text_table(k, r);
    }
    return s.str();
}

namespace {

// A KV check as one line of the CSV's notes, at full precision.
std::string kv_check_note(const KvCheck& k) {
    const auto full = [](const std::optional<double>& v) {
        return v ? significant_text(*v, 17) : std::string("-");
    };
    std::string s = "KV check " + std::string(model::design_key(k.design)) + ":";
    if (k.claimed) s += " claimed " + short_number(*k.claimed) + " (" + k.claim_source + ");";
    for (std::size_t i = 0; i < k.lengths.size(); ++i)
        s += " at " + std::to_string(k.lengths[i]) + " measured " + full(k.measured[i]) +
             " formula " + full(k.formula[i]) + ";";
    return s + (k.disagrees() ? " MEASURED DIFFERS FROM THE FORMULA" : " measured = formula");
}

}  // namespace

namespace {

// The header row; returns the number of columns. The reference is named in the headers:
// "/ pythia", "- projection-256, paired: mean".
std::size_t write_design_csv_header(const DesignComparison& c, CsvWriter& csv) {
    const std::string ref = c.reference ? c.reference_key() : "pythia";
    const std::vector<std::string> per_design = {
        "mean",           "sd",
        "95% low",        "95% high",
        "/ " + ref,       "- " + ref + ", paired: mean",
        "- " + ref + ", paired: 95% low", "- " + ref + ", paired: 95% high",
        "- " + ref + ", paired: excludes 0",
        "- " + ref + ", paired: documents 95% low", "- " + ref + ", paired: documents 95% high"};
    csv.text("measure").text("key").text("n");
    for (const DesignColumn& col : c.columns)
        for (const std::string& what : per_design)
            csv.text(col.key() + " " + what);
    csv.end_row();
    return 3 + c.columns.size() * per_design.size();
}

}  // namespace

void write_design_csv(const DesignComparison& c, std::ostream& out) {
    CsvWriter csv(out);
    const std::size_t width = write_design_csv_header(c, csv);
    for (const DesignRow& r : c.rows) {
        std::int64_t n = 0;
        for (const DesignCell& cell : r.cells)
            if (cell.estimate) n = std::max(n, cell.estimate->n);
        csv.text(r.measure).text(r.key).integer(n);
        for (const DesignCell& cell : r.cells) {
            const auto& e = cell.estimate;
            const auto& d = cell.difference;
            csv.number(e ? std::optional<double>(e->mean) : std::nullopt)
                .number(e ? e->sd : std::nullopt)
                .number(e && e->interval ? std::optional<double>(e->interval->low) : std::nullopt)
                .number(e && e->interval ? std::optional<double>(e->interval->high) : std::nullopt)
                .number(cell.ratio)
                .number(d ? std::optional<double>(d->mean) : std::nullopt)
                .number(d && d->interval ? std::optional<double>(d->interval->low) : std::nullopt)
                .number(d && d->interval ? std::optional<double>(d->interval->high)
                                         : std::nullopt)
                .text(d && d->interval ? (d->excludes_zero() ? "yes" : "no") : "")
                .number(cell.document_interval
                            ? std::optional<double>(cell.document_interval->low)
                            : std::nullopt)
                .number(cell.document_interval
                            ? std::optional<double>(cell.document_interval->high)
                            : std::nullopt);
        }
        csv.end_row();
    }
    const auto note = [&](const std::string& text) {
        csv.text(text);
        for (std::size_t i = 1; i < width; ++i) csv.empty();
        csv.end_row();
    };
    for (const KvCheck& k : c.kv_checks) note(kv_check_note(k));
    note("designs: " + [&] {
        std::string s;
        for (const DesignColumn& col : c.columns)
            s += (s.empty() ? "" : ", ") + col.key();
        return s;
    }() + "; " + c.seeds_text());
    for (const std::string& n : c.notes) note("Note: " + n);
    for (const Effect& e : context_pythia_effects(c)) note("Effect of " + effect_text(e));
    for (const std::string& why : c.not_learned) note(std::string(kNotLearned) + ": " + why);
    for (const std::string& why : c.barely_learned) note(std::string(kBarelyLearned) + ": " + why);
}

std::vector<std::size_t> ParetoView::front() const {
    std::vector<std::size_t> f;
    for (std::size_t i = 0; i < points.size(); ++i)
        if (points[i].on_front) f.push_back(i);
    std::sort(f.begin(), f.end(),
              [&](std::size_t a, std::size_t b) { return points[a].x < points[b].x; });
    return f;
}

const std::vector<ParetoMeasure>& pareto_measures() {
    static const std::vector<ParetoMeasure> m = {
        {"test_ppl", "Test perplexity (lower is better)", true},
        {"kl_to_full", "KL to the full cache, nats/token (lower is better)", true},
        {"top1_agreement_to_full", "Top-1 agreement with the full cache (higher is better)", false},
        {"last_word_accuracy", "Last-word accuracy (higher is better)", false},
    };
    return m;
}

ParetoView pareto_view(const DesignComparison& c, const std::string& measure_key,
                       std::int64_t length) {
    ParetoView v;
    const auto& choices = pareto_measures();
    const auto chosen = std::find_if(choices.begin(), choices.end(),
                                     [&](const ParetoMeasure& m) { return m.key == measure_key; });
    if (chosen == choices.end())
        throw Error("the Pareto view plots test_ppl, kl_to_full, top1_agreement_to_full or "
                    "last_word_accuracy, not '" + measure_key + "'");
    if (length != 0 &&
        std::find(c.kv_lengths.begin(), c.kv_lengths.end(), length) == c.kv_lengths.end())
        throw Error("no KV cache was measured at " + std::to_string(length) +
                    " tokens (measured: " + [&] {
                        std::string s;
                        for (auto l : c.kv_lengths) s += (s.empty() ? "" : ", ") + std::to_string(l);
                        return s.empty() ? std::string("none") : s;
                    }() + ")");
    v.length = length;
    v.measure_key = measure_key;
    v.lower_is_better = chosen->lower_is_better;
    const DesignRow& x_row = c.row(length == 0 ? "scored_kv_bytes_per_token" : kv_row_key(length));
    const DesignRow& y_row = c.row(measure_key);
    const DesignRow& scored = c.row("scored_length");
    v.x_label = length == 0 ? "KV cache while the quality was scored (bytes/token, measured)"
                            : kv_row_label(length);
    v.y_label = y_row.measure;
    for (std::size_t k = 0; k < c.columns.size(); ++k) {
        const auto& x = x_row.cells[k].estimate;
        const auto& y = y_row.cells[k].estimate;
        if (!x || !y) continue;
        ParetoPoint p;
        p.label = c.columns[k].heading();
        p.design = c.columns[k].design;
        p.policy = c.columns[k].policy;
        p.x = x->mean;
        p.y = y->mean;
        p.y_interval = y->interval;
        p.y_sd = y->sd;
        // Bytes at a length where the quality was not scored are not that quality's cost.
        const auto& at = scored.cells[k].estimate;
        if (length != 0 && (!at || static_cast<std::int64_t>(at->mean) != length))
            p.greyed = "its quality was scored " +
                       (at ? "on " + std::to_string(static_cast<std::int64_t>(at->mean)) +
                                 "-token chunks"
                           : std::string("at a length not recorded")) +
                       ", not at " + std::to_string(length) + " tokens";
        v.points.push_back(p);
    }
    const auto better = [&](double a, double b) { return v.lower_is_better ? a < b : a > b; };
    for (ParetoPoint& p : v.points) {
        if (!p.greyed.empty()) continue;
        p.on_front = std::none_of(v.points.begin(), v.points.end(), [&](const ParetoPoint& q) {
            const bool no_worse = q.x <= p.x && !better(p.y, q.y);
            const bool strictly = q.x < p.x || better(q.y, p.y);
            return &q != &p && q.greyed.empty() && no_worse && strictly;
        });
    }
    return v;
}

std::vector<std::vector<std::size_t>> ParetoView::curves() const {
    std::map<std::string, std::vector<std::size_t>> by_key;
    std::vector<std::string> order;  // first appearance, so curves come in column order
    for (std::size_t i = 0; i < points.size(); ++i) {
        const ParetoPoint& p = points[i];
        if (!p.greyed.empty()) continue;
        const std::string key =
            p.policy.empty()
                ? std::string("design ") + model::design_key(model::design_family(p.design))
                : std::string("policy ") + model::design_key(p.design) + " " +
                      p.policy.substr(0, p.policy.find(':'));
        if (!by_key.count(key)) order.push_back(key);
        by_key[key].push_back(i);
    }
    std::vector<std::vector<std::size_t>> out;
    for (const std::string& key : order) {
        std::vector<std::size_t> c = by_key[key];
        if (c.size() < 2) continue;
        std::stable_sort(c.begin(), c.end(),
                         [&](std::size_t a, std::size_t b) { return points[a].x < points[b].x; });
        out.push_back(c);
    }
    return out;
}

void write_pareto_csv(const ParetoView& v, std::ostream& out) {
    CsvWriter csv(out);
    csv.text("column")
        .text("label")
        .text(v.length == 0 ? std::string("scored_kv_bytes_per_token")
                            : "kv_bytes_per_token_at_" + std::to_string(v.length))
        .text(v.measure_key + " mean")
        .text(v.measure_key + " sd")
        .text(v.measure_key + " 95% low")
        .text(v.measure_key + " 95% high")
        .text("on the Pareto front")
        .text("not comparable at this length")
        .end_row();
    for (const ParetoPoint& p : v.points)
        csv.text(std::string(model::design_key(p.design)) + (p.policy.empty() ? "" : "+" + p.policy))
            .text(p.label)
            .number(p.x)
            .number(p.y)
            .number(p.y_sd)
            .number(p.y_interval ? std::optional<double>(p.y_interval->low) : std::nullopt)
            .number(p.y_interval ? std::optional<double>(p.y_interval->high) : std::nullopt)
            .text(p.on_front ? "yes" : "no")
            .text(p.greyed)
            .end_row();
}

MeanCurve mean_curve(store::RunStore& store, const std::vector<std::int64_t>& run_ids,
                     const std::string& metric) {
    MeanCurve curve;
    curve.runs = static_cast<std::int64_t>(run_ids.size());
    std::map<std::int64_t, std::vector<double>> by_step;
    for (const std::int64_t run : run_ids)
        for (const store::MetricPoint& p : store.metrics(run, metric))
            by_step[p.step].push_back(p.value);
    for (const auto& [step, values] : by_step) {
        if (static_cast<std::int64_t>(values.size()) != curve.runs) continue;  // not every run
        const auto e = estimate(values);
        curve.step.push_back(static_cast<double>(step));
        curve.mean.push_back(e->mean);
        curve.sd.push_back(e->sd.value_or(0.0));
    }
    return curve;
}

std::vector<PositionSeries> loss_by_position(store::RunStore& store, const DesignComparison& c) {
    std::vector<PositionSeries> out;
    for (const DesignColumn& col : c.columns) {
        PositionSeries s{col.heading(), col.design, col.policy,
                         mean_curve(store, col.runs, names::loss_by_position)};
        if (!s.curve.step.empty()) out.push_back(std::move(s));
    }
    return out;
}

void write_loss_by_position_csv(const std::vector<PositionSeries>& series, std::ostream& out) {
    CsvWriter csv(out);
    csv.text("column").text("label").text("position").text("mean loss").text("sd").end_row();
    for (const PositionSeries& s : series)
        for (std::size_t i = 0; i < s.curve.step.size(); ++i)
            csv.text(std::string(model::design_key(s.design)) + (s.policy.empty() ? "" : "+" + s.policy))
                .text(s.label)
                .number(s.curve.step[i])
                .number(s.curve.mean[i])
                .number(s.curve.sd[i])
                .end_row();
}

}  // namespace cp::report
