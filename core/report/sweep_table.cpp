#include "report/sweep_table.h"

#include <algorithm>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/numbers.h"
#include "common/error.h"
#include "report/run_values.h"
#include "report/tables.h"
#include "store/metric_names.h"
#include "experiment/sweep.h"

namespace cp::report {
namespace {

struct Cell {
    std::int64_t index = 0;
    store::ExperimentRow experiment;
    std::map<std::string, nlohmann::json> params;
};

// The sweep uid and cell index an experiment's parameters carry, if any.
std::optional<std::pair<std::string, std::int64_t>> cell_of(const std::map<std::string, nlohmann::json>& params) {
    const auto it = params.find("sweep_cell");
    if (it == params.end() || !it->second.is_string()) return std::nullopt;
    return train::parse_sweep_cell_tag(it->second.get<std::string>());
}

std::string value_text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
        return s;
    }
    return v.dump();
}

std::string number(const std::optional<double>& v, int digits) {
    return v ? fixed_text(*v, digits) : "-";
}

}  // namespace

std::vector<SweepListing> list_sweeps(store::RunStore& store) {
    std::vector<SweepListing> out;
    std::map<std::string, std::set<std::int64_t>> cells;
    for (const store::ExperimentRow& e : store.experiments()) {
        const auto tag = cell_of(flatten_params(e.params_json));
        if (!tag) continue;
        const auto& [uid, cell] = *tag;
        if (!cells.count(uid)) {
            // The sweep's name is the experiments' name before " [cell]".
            out.push_back({uid, e.name.substr(0, e.name.rfind(" [")), 0});
        }
        cells[uid].insert(cell);
    }
    for (SweepListing& s : out) s.cells = static_cast<std::int64_t>(cells[s.uid].size());
    return out;
}

std::map<std::int64_t, std::int64_t> chosen_cell_experiments(store::RunStore& store,
                                                             const std::string& uid) {
    std::map<std::int64_t, std::int64_t> chosen;
    for (const store::ExperimentRow& e : store.experiments()) {
        const auto tag = cell_of(flatten_params(e.params_json));
        if (!tag || tag->first != uid) continue;
        bool completed = true;
        for (const store::RunRow& r : store.runs(e.id)) completed = completed && store::completed(r.status);
        if (!chosen.count(tag->second) || completed) chosen[tag->second] = e.id;
    }
    return chosen;
}

namespace {

// The parameters that vary across the cells: what the grid set (names and bookkeeping aside).
std::vector<std::string> varying_parameters(const std::map<std::int64_t, Cell>& cells) {
    static const std::set<std::string> ignored = {"name", "sweep_cell", "db", "checkpoint_dir",
                                                  "threads", "device_used"};
    std::set<std::string> keys;
    for (const auto& [i, c] : cells)
        for (const auto& [k, v] : c.params) keys.insert(k);
    std::vector<std::string> varying;
    for (const std::string& k : keys) {
        if (ignored.count(k) || k.rfind("stamp.", 0) == 0 || k.rfind("preset_values", 0) == 0) continue;
        std::set<std::string> seen;
        for (const auto& [i, c] : cells) {
            const auto it = c.params.find(k);
            seen.insert(it == c.params.end() ? "(absent)" : value_text(it->second));
        }
        if (seen.size() > 1) varying.push_back(k);
    }
    return varying;
}

}  // namespace

SweepSummary sweep_summary(store::RunStore& store, const std::string& uid) {
    SweepSummary s;
    s.uid = uid;
    std::map<std::int64_t, Cell> cells;  // the chosen experiment of each cell
    for (const auto& [index, id] : chosen_cell_experiments(store, uid)) {
        const store::ExperimentRow e = store.experiment(id);
        cells[index] = {index, e, flatten_params(e.params_json)};
        if (s.name.empty()) s.name = e.name.substr(0, e.name.rfind(" ["));
    }
    if (cells.empty())
        throw Error("the database holds no cell of sweep '" + uid +
                    "' (merge the shards with 'context-pythia sweep collect')");
    s.varying = varying_parameters(cells);
    // Rows: each cell's Phase 2 runs (the latest per design).
    std::set<std::int64_t> lengths_everywhere;
    std::vector<Results> results_of_row;  // beside s.rows, for the KV bytes once the length is known
    bool first = true;
    for (const auto& [index, c] : cells) {
        std::map<model::Design, store::RunRow> latest;
        for (const store::RunRow& r : store.runs(c.experiment.id))
            if (r.phase == store::Phase::phase2) latest[r.model] = r;
        for (const auto& [design, run] : latest) {
            const RunValues v = load_run_values(store, run.id);
            std::set<std::int64_t> lengths = measured_kv_lengths({&v});
            if (first) lengths_everywhere = lengths;
            std::set<std::int64_t> both;
            for (auto l : lengths) if (lengths_everywhere.count(l)) both.insert(l);
            lengths_everywhere = both;
            first = false;
            SweepRow row;
            row.cell = index;
            row.experiment = c.experiment.id;
            row.run = run.id;
            row.design = design;
            row.status = store::status_key(run.status);
            for (const std::string& k : s.varying) {
                const auto it = c.params.find(k);
                row.values[k] = it == c.params.end() ? "-" : value_text(it->second);
            }
            row.best_val_ppl = lookup(v.results, names::best_val_ppl);
            row.test_ppl = lookup(v.results, names::test_ppl);
            row.last_word_accuracy = lookup(v.results, names::last_word_accuracy);
            row.parameters = lookup(v.results, names::parameters_total);
            row.tokens_trained = lookup(v.results, names::tokens_trained);
            s.rows.push_back(row);
            results_of_row.push_back(v.results);
        }
    }
    s.kv_length = lengths_everywhere.empty() ? 0 : *lengths_everywhere.rbegin();
    if (s.kv_length > 0)
        for (std::size_t i = 0; i < s.rows.size(); ++i)
            s.rows[i].kv_bytes_per_token =
                lookup(results_of_row[i], names::kv_bytes_per_token_at(s.kv_length));
    return s;
}

std::vector<std::vector<std::string>> sweep_table_cells(const SweepSummary& s) {
    std::vector<std::string> header = {"cell"};
    for (const std::string& k : s.varying) header.push_back(k);
    for (const char* h : {"design", "status", "test perplexity", "last-word accuracy"})
        header.push_back(h);
    header.push_back("KV bytes/token at " + std::to_string(s.kv_length));
    header.push_back("parameters");
    header.push_back("tokens trained");
    std::vector<std::vector<std::string>> t = {header};
    for (const SweepRow& r : s.rows) {
        std::vector<std::string> line = {std::to_string(r.cell)};
        for (const std::string& k : s.varying) line.push_back(r.values.at(k));
        line.push_back(model::design_key(r.design));
        line.push_back(r.status);
        line.push_back(number(r.test_ppl, 2));
        line.push_back(number(r.last_word_accuracy, 4));
        line.push_back(number(r.kv_bytes_per_token, 1));
        line.push_back(number(r.parameters, 0));
        line.push_back(number(r.tokens_trained, 0));
        t.push_back(line);
    }
    return t;
}

SweepSelection select_on_validation(const SweepSummary& s) {
    if (s.varying.empty())
        throw Error("sweep '" + s.uid +
                    "' varies no parameter, so there is nothing to select: --select-on needs a "
                    "sweep with a --grid of at least two values");
    SweepSelection out;
    out.varying = s.varying;
    std::vector<model::Design> order;
    std::map<model::Design, std::int64_t> count;
    std::map<model::Design, const SweepRow*> best;
    for (const SweepRow& r : s.rows) {
        if (std::find(order.begin(), order.end(), r.design) == order.end())
            order.push_back(r.design);
        if (!r.best_val_ppl) continue;
        ++count[r.design];
        if (!best.count(r.design) || *r.best_val_ppl < *best[r.design]->best_val_ppl)
            best[r.design] = &r;
    }
    for (model::Design d : order) {
        if (!best.count(d))
            throw Error(std::string("no run of ") + model::design_key(d) + " in sweep '" + s.uid +
                        "' has a validation perplexity to select on (did every cell fail?)");
        out.chosen.push_back(*best[d]);
        out.candidates.push_back(count[d]);
    }
    return out;
}

std::vector<std::vector<std::string>> selection_table_cells(const SweepSelection& s) {
    std::vector<std::string> header = {"design"};
    for (const std::string& k : s.varying) header.push_back(k + " (selected)");
    for (const char* h : {"among cells", "best validation perplexity", "test perplexity",
                          "last-word accuracy", "run"})
        header.push_back(h);
    std::vector<std::vector<std::string>> t = {header};
    for (std::size_t i = 0; i < s.chosen.size(); ++i) {
        const SweepRow& r = s.chosen[i];
        std::vector<std::string> line = {model::design_key(r.design)};
        for (const std::string& k : s.varying) line.push_back(r.values.at(k));
        line.push_back(std::to_string(s.candidates[i]));
        line.push_back(number(r.best_val_ppl, 2));
        line.push_back(number(r.test_ppl, 2));
        line.push_back(number(r.last_word_accuracy, 4));
        line.push_back(std::to_string(r.run));
        t.push_back(line);
    }
    return t;
}

}  // namespace cp::report
