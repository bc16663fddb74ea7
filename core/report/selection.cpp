#include "report/selection.h"

#include "model/model_registry.h"

namespace cp::report {

std::optional<std::int64_t> showcase_experiment(store::RunStore& store) {
    std::optional<std::int64_t> chosen;
    for (const store::ExperimentRow& e : store.experiments()) {
        int phase2 = 0;
        for (const store::RunRow& r : store.runs(e.id)) phase2 += r.phase == store::Phase::phase2;
        if (phase2 >= 2 || !chosen) chosen = e.id;
    }
    return chosen;
}

std::optional<std::int64_t> latest_diversity_run(store::RunStore& store) {
    std::optional<std::int64_t> chosen;
    for (const store::RunRow& r : store.runs())
        if (model::design_entry(r.model).needs_context_block && !r.checkpoint_path.empty() &&
            r.phase != store::Phase::evaluation)
            chosen = r.id;
    return chosen;
}

std::optional<std::int64_t> latest_compressed_run(store::RunStore& store) {
    std::optional<std::int64_t> chosen;
    for (const store::RunRow& r : store.runs())
        if (r.evaluates_run_id && !r.cache_policy.empty()) chosen = r.evaluates_run_id;
    return chosen;
}

std::vector<store::RunRow> trained_runs(store::RunStore& store, std::int64_t experiment_id) {
    std::vector<store::RunRow> out;
    for (store::RunRow& r : store.runs(experiment_id))
        if (!r.evaluates_run_id && r.phase != store::Phase::evaluation) out.push_back(std::move(r));
    return out;
}

}  // namespace cp::report
