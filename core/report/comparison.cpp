#include "report/comparison.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/numbers.h"
#include "common/error.h"
#include "report/csv.h"
#include "report/run_values.h"
#include "report/tables.h"
#include "store/metric_names.h"

namespace cp::report {
namespace {

std::vector<std::string> parameter_differences(const std::map<std::string, nlohmann::json>& fa,
                                               const std::map<std::string, nlohmann::json>& fb) {
    // Bookkeeping that does not change what was trained.
    static const std::set<std::string> ignored = {"name", "db", "checkpoint_dir", "threads"};
    std::set<std::string> keys;
    for (const auto& [k, v] : fa) keys.insert(k);
    for (const auto& [k, v] : fb) keys.insert(k);
    std::vector<std::string> out;
    for (const std::string& k : keys) {
        // The stamp says where and with what it ran, not what was trained.
        if (ignored.count(k) || k.rfind("stamp.", 0) == 0) continue;
        const auto ia = fa.find(k), ib = fb.find(k);
        const std::string va = ia == fa.end() ? "(absent)" : ia->second.dump();
        const std::string vb = ib == fb.end() ? "(absent)" : ib->second.dump();
        if (va != vb) out.push_back(k + ": " + va + " vs " + vb);
    }
    return out;
}

ComparisonSide side_of(const RunValues& v) {
    ComparisonSide side;
    side.run_id = v.run.id;
    side.experiment_id = v.run.experiment_id;
    side.model = v.run.model;
    side.phase = v.run.phase;
    side.status = v.run.status;
    side.name = v.run.name;
    side.phase1_run_id = v.phase1_run_id;
    side.phase1_status = v.phase1_status;
    return side;
}

Comparison build(const RunValues& a, const RunValues& b) {
    Comparison c;
    c.a = side_of(a);
    c.b = side_of(b);
    for (const Measure& m : measures()) {
        ComparisonRow row;
        row.key = m.key;
        row.measure = m.label;
        row.a = measure_value(a, m);
        row.b = measure_value(b, m);
        c.rows.push_back(row);
        if (row.key == kv_rows_follow)
            for (std::int64_t length : measured_kv_lengths({&a, &b})) {
                ComparisonRow kv;
                kv.key = kv_row_key(length);
                kv.measure = kv_row_label(length);
                kv.a = lookup(a.results, names::kv_bytes_per_token_at(length));
                kv.b = lookup(b.results, names::kv_bytes_per_token_at(length));
                c.rows.push_back(kv);
            }
    }
    if (a.run.experiment_id != b.run.experiment_id)
        c.parameter_differences = parameter_differences(a.params, b.params);
    for (const RunValues* v : {&a, &b})
        if (const std::string why = not_learned_reason(*v); !why.empty())
            c.not_learned.push_back(why);
    return c;
}

std::string cell(std::optional<double> v) {
    if (!v) return "-";
    const double x = *v;
    if (x != 0 && (std::fabs(x) >= 1e7 || std::fabs(x) < 1e-3)) return scientific_text(x, 4);
    return fixed_text(x, std::fabs(x - std::round(x)) < 1e-9 ? 0 : 4);
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
    return build(load_run_values(store, run_a), load_run_values(store, run_b));
}

std::string verdict_text(const std::vector<std::string>& not_learned) {
    if (not_learned.empty()) return "";
    std::string s = std::string(kNotLearned) + ":";
    for (const std::string& why : not_learned) s += "\n  " + why;
    return s + "\n  Train longer (more samples or epochs) or with the size preset's learning rate.";
}

std::string barely_learned_text(const std::vector<std::string>& barely_learned) {
    if (barely_learned.empty()) return "";
    std::string s = std::string(kBarelyLearned) + ":";
    for (const std::string& why : barely_learned) s += "\n  " + why;
    return s;
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
