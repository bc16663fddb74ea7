#include "report/kv_anatomy.h"

#include <iomanip>
#include <sstream>

#include "common/numbers.h"
#include "common/error.h"
#include "report/csv.h"
#include "report/tables.h"

namespace cp::report {
namespace {

// The anatomy's names (train/cache_eval.h writes them): "k_spectrum_layer_3", "k_spread_layer_3".
std::string spectrum(char kv, std::int64_t layer) {
    return std::string(1, kv) + "_spectrum_layer_" + std::to_string(layer);
}
std::string spread(char kv, std::int64_t layer) {
    return std::string(1, kv) + "_spread_layer_" + std::to_string(layer);
}

bool is_anatomy(store::RunStore& store, const store::RunRow& r) {
    if (r.phase != store::Phase::evaluation || !r.cache_policy.empty()) return false;
    for (const auto& [name, value] : store.results(r.id))
        if (name.rfind("k_spread_layer_", 0) == 0) return true;
    return false;
}

std::string fixed(double v, int digits) { return fixed_text(v, digits); }

}  // namespace

KvAnatomy load_anatomy(store::RunStore& store, std::int64_t run_id) {
    const store::RunRow r = store.run(run_id);
    if (!is_anatomy(store, r))
        throw Error("run " + std::to_string(run_id) +
                    " holds no K/V anatomy (record one with 'context-pythia cache-eval --run ID "
                    "--policy full')");
    KvAnatomy a;
    a.run_id = r.id;
    a.trained_run_id = r.evaluates_run_id.value_or(0);
    a.design = r.model;
    std::map<std::string, double> results;
    for (const auto& [k, v] : store.results(run_id)) results[k] = v;
    if (results.count("calibration_tokens"))
        a.calibration_tokens = static_cast<std::int64_t>(results["calibration_tokens"]);
    for (std::int64_t layer = 0; layer < 1024; ++layer) {
        const bool has_k = results.count(spread('k', layer)) > 0;
        if (!has_k && layer > 0 && !results.count(spread('k', layer + 1))) break;
        if (!has_k) continue;  // context-kv's layer 0 caches no K/V
        LayerSpectrum s;
        s.layer = layer;
        s.k_spread = results[spread('k', layer)];
        s.v_spread = results.count(spread('v', layer)) ? results[spread('v', layer)] : 0;
        for (const store::MetricPoint& p : store.metrics(run_id, spectrum('k', layer)))
            s.k.push_back(p.value);
        for (const store::MetricPoint& p : store.metrics(run_id, spectrum('v', layer)))
            s.v.push_back(p.value);
        a.layers.push_back(s);
    }
    return a;
}

std::optional<std::int64_t> latest_anatomy_of_run(store::RunStore& store,
                                                  std::int64_t trained_run) {
    std::optional<std::int64_t> found;
    for (const store::RunRow& r : store.runs(store.run(trained_run).experiment_id))
        if (r.evaluates_run_id == std::optional<std::int64_t>(trained_run) && is_anatomy(store, r))
            found = r.id;
    return found;
}

std::optional<std::int64_t> latest_anatomy_of_experiment(store::RunStore& store,
                                                         std::int64_t experiment_id) {
    std::optional<std::int64_t> found;
    for (const store::RunRow& r : store.runs(experiment_id))
        if (is_anatomy(store, r)) found = r.id;
    return found;
}

std::string anatomy_text(const KvAnatomy& a) {
    std::ostringstream s;
    s << "K/V anatomy of " << model::design_key(a.design)
      << (a.trained_run_id ? " run " + std::to_string(a.trained_run_id) : std::string())
      << " (recorded as run " << a.run_id << ", " << a.calibration_tokens
      << " calibration tokens): spread = largest / median eigenvalue\n";
    std::vector<std::vector<std::string>> t = {
        {"layer", "K spread", "V spread", "K eigenvalues", "V eigenvalues"}};
    for (const LayerSpectrum& l : a.layers)
        t.push_back({std::to_string(l.layer), fixed(l.k_spread, 1), fixed(l.v_spread, 1),
                     std::to_string(l.k.size()), std::to_string(l.v.size())});
    s << text_table(t, {true, true, true, true, true});
    return s.str();
}

void write_anatomy_csv(const KvAnatomy& a, std::ostream& out) {
    CsvWriter csv(out);
    csv.text("layer").text("index").text("K eigenvalue").text("V eigenvalue").end_row();
    for (const LayerSpectrum& l : a.layers)
        for (std::size_t i = 0; i < std::max(l.k.size(), l.v.size()); ++i)
            csv.integer(l.layer)
                .integer(static_cast<std::int64_t>(i))
                .number(i < l.k.size() ? std::optional<double>(l.k[i]) : std::nullopt)
                .number(i < l.v.size() ? std::optional<double>(l.v[i]) : std::nullopt)
                .end_row();
    for (const LayerSpectrum& l : a.layers)
        csv.text("spread, layer " + std::to_string(l.layer)).empty().number(l.k_spread).number(l.v_spread).end_row();
}

}  // namespace cp::report
