#include "report/group_comparison.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "report/csv.h"
#include "report/tables.h"

namespace cp::report {
namespace {

std::uint64_t seed_of(const store::ExperimentRow& e) {
    const auto params = flatten_params(e.params_json);
    const auto it = params.find("seed");
    return it != params.end() && it->second.is_number_unsigned() ? it->second.get<std::uint64_t>()
                                                                  : 0;
}

// Why a seed's comparison cannot enter the statistics, or "".
std::string problem_of(const Comparison& c) {
    for (const ComparisonSide* side : {&c.a, &c.b})
        if (!store::completed(side->status))
            return "run " + std::to_string(side->run_id) + " (" +
                   model::design_key(side->model) + ") " +
                   store::status_display_name(side->status);
    return "";
}

std::optional<SeedEstimate> estimate_of(const std::vector<std::optional<double>>& values) {
    std::vector<double> present;
    for (const auto& v : values)
        if (v) present.push_back(*v);
    return estimate(present);
}

std::string number(double x) {
    std::ostringstream s;
    s.imbue(std::locale::classic());
    const double ax = std::fabs(x);
    if (x != 0 && (ax >= 1e7 || ax < 1e-3))
        s << std::setprecision(3) << std::scientific << x;
    else if (ax >= 1000 || std::fabs(x - std::round(x)) < 1e-9)
        s << std::fixed << std::setprecision(0) << x;
    else
        s << std::fixed << std::setprecision(ax >= 10 ? 2 : 4) << x;
    return s.str();
}

std::string mean_sd(const std::optional<SeedEstimate>& e) {
    if (!e) return "-";
    return number(e->mean) + (e->sd ? " ± " + number(*e->sd) : "");
}

std::string interval(const std::optional<SeedEstimate>& e) {
    if (!e || !e->interval) return "-";
    return "[" + number(e->interval->low) + ", " + number(e->interval->high) + "]";
}

}  // namespace

std::optional<double> GroupRow::ratio() const {
    if (!a_estimate || !b_estimate || b_estimate->mean == 0) return std::nullopt;
    return a_estimate->mean / b_estimate->mean;
}

std::int64_t GroupComparison::n() const {
    std::int64_t used = 0;
    for (const GroupMember& m : members) used += m.used();
    return used;
}

std::string GroupComparison::seeds_text() const {
    std::string used, left_out;
    for (const GroupMember& m : members) {
        if (m.used())
            used += (used.empty() ? "" : ", ") + std::to_string(m.seed);
        else
            left_out += "; seed " + std::to_string(m.seed) + " (experiment " +
                        std::to_string(m.experiment_id) + ") left out: " + m.problem;
    }
    return "seeds " + (used.empty() ? std::string("none") : used) +
           " (n = " + std::to_string(n()) + ")" + left_out;
}

const GroupRow& GroupComparison::row(const std::string& key) const {
    for (const GroupRow& r : rows)
        if (r.key == key) return r;
    throw Error("internal error: the group comparison has no row '" + key + "'");
}

std::optional<std::string> seed_group_of(store::RunStore& store, std::int64_t experiment_id) {
    const std::string uid = store.experiment(experiment_id).group_uid;
    if (uid.empty() || store.group(uid).size() < 2) return std::nullopt;
    return uid;
}

GroupComparison compare_group(store::RunStore& store, const std::string& group_uid) {
    GroupComparison g;
    g.group_uid = group_uid;
    std::vector<Comparison> used;
    for (const store::ExperimentRow& e : store.group(group_uid)) {
        GroupMember m{e.id, seed_of(e), ""};
        try {
            Comparison c = compare_experiment(store, e.id);
            m.problem = problem_of(c);
            if (m.used()) {
                g.a_runs.push_back(c.a.run_id);
                g.b_runs.push_back(c.b.run_id);
                used.push_back(std::move(c));
            }
        } catch (const Error& error) {
            m.problem = error.what();
        }
        g.members.push_back(m);
    }
    if (g.members.empty())
        throw Error("no seed group '" + group_uid + "' in '" + store.path() +
                    "' (see 'context-pythia experiments list')");
    if (used.empty())
        throw Error("no seed of group '" + group_uid +
                    "' finished both models, so there is nothing to compare: " + g.seeds_text());
    g.a = used.front().a;
    g.b = used.front().b;
    // Rows by key in the first seed's order; a row another seed lacks counts as absent there.
    for (const ComparisonRow& first : used.front().rows) {
        GroupRow r;
        r.key = first.key;
        r.measure = first.measure;
        std::vector<std::optional<double>> differences;
        for (const Comparison& c : used) {
            std::optional<ComparisonRow> row;
            for (const ComparisonRow& x : c.rows)
                if (x.key == r.key) row = x;
            r.a.push_back(row ? row->a : std::nullopt);
            r.b.push_back(row ? row->b : std::nullopt);
            differences.push_back(row ? row->difference() : std::nullopt);
        }
        r.a_estimate = estimate_of(r.a);
        r.b_estimate = estimate_of(r.b);
        r.difference = estimate_of(differences);
        g.rows.push_back(std::move(r));
    }
    std::size_t k = 0;
    for (const GroupMember& m : g.members) {
        if (!m.used()) continue;
        for (const std::string& why : used[k++].not_learned)
            g.not_learned.push_back("seed " + std::to_string(m.seed) + ": " + why);
    }
    return g;
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

std::vector<std::vector<std::string>> group_table_cells(const GroupComparison& g) {
    // "mean ± sd [low, high]": one cell per design, so the table fits a terminal and a window.
    // A measure that does not vary with the seed (parameter counts, KV bytes) shows "± 0" alone:
    // its interval is the point itself.
    const auto cell = [](const std::optional<SeedEstimate>& e) {
        const std::string ci = interval(e);
        return mean_sd(e) + (ci == "-" || (e->sd && *e->sd == 0) ? "" : " " + ci);
    };
    std::vector<std::vector<std::string>> t = {{"measure", "A: mean ± sd [95% CI]",
                                                "B: mean ± sd [95% CI]",
                                                "A − B, paired: mean ± sd [95% CI]", "excludes 0",
                                                "A / B"}};
    for (const GroupRow& r : g.rows) {
        const auto ratio = r.ratio();
        t.push_back({r.measure, cell(r.a_estimate), cell(r.b_estimate), cell(r.difference),
                     !r.difference || !r.difference->interval
                         ? "-"
                         : (r.difference->excludes_zero() ? "yes" : "no"),
                     ratio ? number(*ratio) : "-"});
    }
    return t;
}

std::string group_comparison_text(const GroupComparison& g) {
    std::ostringstream s;
    if (!g.not_learned.empty()) s << verdict_text(g.not_learned) << "\n\n";
    s << "Seed group " << g.group_uid << ": " << g.seeds_text() << "\n";
    s << "A = " << model::design_display_name(g.a.model) << ", B = "
      << model::design_display_name(g.b.model)
      << "; mean ± sd over the seeds, 95% t-intervals; A − B from the per-seed differences\n\n";
    s << text_table(group_table_cells(g), {false, true, true, true, true, true});
    return s.str();
}

void write_group_csv(const GroupComparison& g, std::ostream& out) {
    CsvWriter csv(out);
    csv.text("measure").text("n");
    for (const char* who : {"A", "B", "A - B"})
        for (const char* what : {"mean", "sd", "95% low", "95% high"})
            csv.text(std::string(who) + " " + what);
    csv.text("A - B interval excludes 0").text("A / B (means)").end_row();
    const auto cells = [&](const std::optional<SeedEstimate>& e) {
        csv.number(e ? std::optional<double>(e->mean) : std::nullopt)
            .number(e ? e->sd : std::nullopt)
            .number(e && e->interval ? std::optional<double>(e->interval->low) : std::nullopt)
            .number(e && e->interval ? std::optional<double>(e->interval->high) : std::nullopt);
    };
    for (const GroupRow& r : g.rows) {
        std::int64_t n = 0;
        for (const auto& e : {r.a_estimate, r.b_estimate})
            if (e) n = std::max(n, e->n);
        csv.text(r.measure).integer(n);
        cells(r.a_estimate);
        cells(r.b_estimate);
        cells(r.difference);
        csv.text(!r.difference || !r.difference->interval
                     ? ""
                     : (r.difference->excludes_zero() ? "yes" : "no"))
            .number(r.ratio())
            .end_row();
    }
    const auto note = [&](const std::string& text) {
        csv.text(text);
        for (int i = 0; i < 15; ++i) csv.empty();
        csv.end_row();
    };
    note("A: " + std::string(model::design_display_name(g.a.model)) +
         "; B: " + model::design_display_name(g.b.model) + "; " + g.seeds_text());
    for (const std::string& why : g.not_learned) note(std::string(kNotLearned) + ": " + why);
}

}  // namespace cp::report
