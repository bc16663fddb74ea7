#include "report/exports.h"

#include <algorithm>
#include <charconv>
#include <iomanip>
#include <set>
#include <sstream>

#include "common/numbers.h"
#include "report/csv.h"
#include "report/sweep_table.h"
#include "report/tables.h"
#include "store/metric_names.h"

namespace cp::report {
namespace {

// Results shown in listings and the sweep summary, in this order.
const std::vector<std::pair<const char*, const char*>>& key_results() {
    static const std::vector<std::pair<const char*, const char*>> k = {
        {names::best_val_ppl, "best val ppl"},
        {names::test_ppl, "test ppl"},
        {names::test_accuracy, "test acc"},
        {names::last_word_accuracy, "last-word acc"},
        {"kv_bytes_per_token_at_512", "KV B/tok@512"},
        {names::train_tokens_per_second, "train tok/s"},
        {names::context_rank_pct, "context rank %"},
    };
    return k;
}

// Whole above 1000, else 4 significant digits.
std::string result_number(double v) {
    return std::abs(v) >= 1000 ? fixed_text(v, 0) : significant_text(v, 4);
}

}  // namespace

std::vector<RunListing> list_runs(store::RunStore& store) {
    std::map<std::int64_t, std::string> experiment_names;
    for (const store::ExperimentRow& e : store.experiments()) experiment_names[e.id] = e.name;
    auto results = store.all_results();
    std::vector<RunListing> out;
    for (store::RunRow& r : store.runs()) {
        RunListing l;
        l.experiment_name = experiment_names[r.experiment_id];
        l.results = std::move(results[r.id]);
        l.run = std::move(r);
        out.push_back(std::move(l));
    }
    return out;
}

nlohmann::json run_listing_json(const RunListing& l) {
    const store::RunRow& r = l.run;
    return {
        {"id", r.id},
        {"experiment_id", r.experiment_id},
        {"experiment_name", l.experiment_name},
        {"name", r.name},
        {"model", model::design_key(r.model)},
        {"phase", store::phase_key(r.phase)},
        {"status", store::status_key(r.status)},
        {"context_block_run_id", r.context_block_run_id ? nlohmann::json(*r.context_block_run_id)
                                                        : nlohmann::json(nullptr)},
        {"started_at", r.started_at},
        {"finished_at", r.finished_at},
        {"device", r.device},
        {"error", r.error},
        {"checkpoint_path", r.checkpoint_path},
        {"notes", r.notes},
        {"uid", r.uid},
        {"results", l.results}};
}

std::string runs_text(const std::vector<RunListing>& runs) {
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> header = {"id", "exp", "started (UTC)", "model", "phase", "status"};
    std::vector<bool> right = {true, true, false, false, false, false};
    for (const auto& [key, label] : key_results()) {
        header.push_back(label);
        right.push_back(true);
    }
    table.push_back(header);
    for (const RunListing& l : runs) {
        std::vector<std::string> row = {std::to_string(l.run.id),
                                        std::to_string(l.run.experiment_id),
                                        l.run.started_at,
                                        model::design_key(l.run.model),
                                        store::phase_key(l.run.phase),
                                        store::status_key(l.run.status)};
        for (const auto& [key, label] : key_results()) {
            const auto it = l.results.find(key);
            row.push_back(it == l.results.end() ? "-" : result_number(it->second));
        }
        table.push_back(row);
    }
    std::string text = text_table(table, right);
    if (runs.empty()) text += "(no runs yet: start one with 'context-pythia run')\n";
    return text;
}

std::int64_t write_metrics_csv(store::RunStore& store, std::int64_t run_id, std::ostream& out) {
    const store::RunRow run = store.run(run_id);
    CsvWriter csv(out);
    csv.text("experiment").text("run").text("model").text("phase").text("name").text("step");
    csv.text("epoch").text("value").text("wall_time").end_row();
    // Hot loop (millions of rows): the repeating columns and each series' name cell are
    // formatted once, numbers go straight into one line buffer, one write per row.
    std::string prefix;
    {
        std::ostringstream p;
        CsvWriter head(p);
        head.integer(run.experiment_id)
            .integer(run.id)
            .text(model::design_key(run.model))
            .text(store::phase_key(run.phase));
        prefix = p.str() + ",";
    }
    std::map<std::string, std::string> name_cells;
    std::string line;
    std::int64_t rows = 0;
    char number[40];
    const auto append_integer = [&](std::int64_t v) {
        const auto r = std::to_chars(number, number + sizeof number, v);
        line.append(number, r.ptr);
    };
    store.for_each_metric(run_id, [&](const store::MetricPoint& m) {
        auto it = name_cells.find(m.name);
        if (it == name_cells.end()) it = name_cells.emplace(m.name, csv_text_field(m.name)).first;
        line.assign(prefix);
        line += it->second;
        line += ',';
        append_integer(m.step);
        line += ',';
        if (m.epoch >= 0) append_integer(m.epoch);
        line += ',';
        append_number(line, m.value);
        line += ',';
        append_number(line, m.wall_time);
        line += "\r\n";
        out.write(line.data(), static_cast<std::streamsize>(line.size()));
        ++rows;
    });
    return rows;
}

namespace {

struct SweepLine {
    store::ExperimentRow experiment;
    std::map<std::string, nlohmann::json> params;
    store::RunRow run;
    std::map<std::string, double> results, phase1;
};

// Of the reproducibility stamp, what tells sweep cells apart: the commit, the device and the
// command (library versions and data hashes stay in runs show and the report).
void drop_stamp_details(std::map<std::string, nlohmann::json>& params) {
    for (auto it = params.begin(); it != params.end();)
        if (it->first.rfind("stamp.", 0) == 0 && it->first != "stamp.workbench.commit" &&
            it->first != "stamp.device" && it->first != "stamp.command")
            it = params.erase(it);
        else
            ++it;
}

// One line per experiment and design (its latest Phase 2 run, or the Phase 1 of an experiment
// that trained nothing else), in the order the runs ran; the parameters seen, as columns.
std::vector<SweepLine> sweep_lines(store::RunStore& store, const std::string& sweep_uid,
                                   std::set<std::string>& param_columns) {
    std::vector<SweepLine> lines;
    auto results = store.all_results();
    // A sweep's table has each cell once (its chosen experiment).
    std::set<std::int64_t> cell_experiments;
    if (!sweep_uid.empty())
        for (const auto& [cell, id] : chosen_cell_experiments(store, sweep_uid)) cell_experiments.insert(id);
    for (const store::ExperimentRow& e : store.experiments()) {
        if (!sweep_uid.empty() && !cell_experiments.count(e.id)) continue;
        std::map<std::string, nlohmann::json> params = flatten_params(e.params_json);
        drop_stamp_details(params);
        for (const auto& [k, v] : params) param_columns.insert(k);
        std::map<model::Design, store::RunRow> by_model;  // latest Phase 2 run per model
        std::optional<store::RunRow> phase1;
        for (const store::RunRow& r : store.runs(e.id)) {
            if (r.phase == store::Phase::phase2) by_model[r.model] = r;
            if (r.phase == store::Phase::phase1) phase1 = r;
        }
        if (by_model.empty() && phase1) by_model[phase1->model] = *phase1;
        std::vector<store::RunRow> chosen;
        for (const auto& [design, run] : by_model) chosen.push_back(run);
        std::sort(chosen.begin(), chosen.end(),
                  [](const store::RunRow& a, const store::RunRow& b) { return a.id < b.id; });
        for (const store::RunRow& run : chosen) {
            SweepLine line{e, params, run, results[run.id], {}};
            // The Phase 1 its ContextBlock came from (provenance, schema 3).
            if (run.phase == store::Phase::phase1)
                line.phase1 = results[run.id];
            else if (run.context_block_run_id)
                line.phase1 = results[*run.context_block_run_id];
            lines.push_back(std::move(line));
        }
    }
    return lines;
}

void write_param_cells(CsvWriter& csv, const SweepLine& l, const std::set<std::string>& columns) {
    for (const std::string& p : columns) {
        const auto it = l.params.find(p);
        if (it == l.params.end() || it->second.is_null())
            csv.empty();
        else if (it->second.is_number())
            csv.number(it->second.get<double>());
        else if (it->second.is_string())
            csv.text(it->second.get<std::string>());
        else
            csv.text(it->second.dump());
    }
}

}  // namespace

void write_sweep_summary_csv(store::RunStore& store, std::ostream& out, const std::string& sweep_uid) {
    std::set<std::string> param_columns;
    const std::vector<SweepLine> lines = sweep_lines(store, sweep_uid, param_columns);
    CsvWriter csv(out);
    csv.text("experiment").text("experiment_name").text("created_at").text("model").text("run");
    csv.text("phase").text("status");
    for (const std::string& p : param_columns) csv.text(p);
    csv.text("parameters_total");
    for (const auto& [key, label] : key_results()) csv.text(key);
    csv.text("kv_bytes_per_token_at_128").text("kv_bytes_per_token_at_2048");
    csv.text("phase1_iterations").text("phase1_final_convergence_rate").end_row();
    const auto value = [](const std::map<std::string, double>& m, const std::string& k) {
        const auto it = m.find(k);
        return it == m.end() ? std::optional<double>() : std::optional<double>(it->second);
    };
    for (const SweepLine& l : lines) {
        csv.integer(l.experiment.id).text(l.experiment.name).text(l.experiment.created_at);
        csv.text(model::design_key(l.run.model))
            .integer(l.run.id)
            .text(store::phase_key(l.run.phase))
            .text(store::status_key(l.run.status));
        write_param_cells(csv, l, param_columns);
        csv.number(value(l.results, names::parameters_total));
        for (const auto& [key, label] : key_results()) {
            const std::string k = key;
            csv.number(k == names::context_rank_pct ? value(l.phase1, k) : value(l.results, k));
        }
        csv.number(value(l.results, "kv_bytes_per_token_at_128"));
        csv.number(value(l.results, "kv_bytes_per_token_at_2048"));
        csv.number(value(l.phase1, names::iterations));
        csv.number(value(l.phase1, names::final_convergence_rate));
        csv.end_row();
    }
}

}  // namespace cp::report
