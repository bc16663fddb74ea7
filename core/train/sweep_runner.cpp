#include "train/sweep_runner.h"

#include "common/error.h"
#include "store/run_store.h"
#include "train/seed_group.h"

namespace cp::train {

SweepOutcome run_sweep(const Sweep& sweep, ExperimentObserver* observer,
                       const std::atomic<bool>& stop) {
    SweepOutcome out;
    const std::string db = sweep.base.db.empty() ? default_database_path() : sweep.base.db;
    const auto count = static_cast<std::int64_t>(sweep.cells.size());
    const std::vector<bool> finished_before = finished_cells(sweep, db);
    for (const SweepCell& cell : sweep.cells) {
        if (stop.load()) {
            out.status = store::RunStatus::stopped;
            break;
        }
        if (finished_before[static_cast<std::size_t>(cell.index)]) {
            ++out.skipped;
            continue;
        }
        if (observer) observer->on_sweep_cell(cell.index, count, cell.label());
        ++out.ran;
        ExperimentParams p = cell.params;
        p.db = db;
        try {
            SeedGroup group(p, LaunchMode::full_comparison, &stop);
            const GroupSummary g = group.run(observer, stop);
            for (const SeedOutcome& s : g.seeds)
                if (s.summary) out.experiments.push_back(s.summary->experiment_id);
            if (g.status == store::RunStatus::stopped) {
                out.status = store::RunStatus::stopped;
                break;
            }
            if (g.status != store::RunStatus::finished) {
                ++out.failed;
                out.errors += "cell " + std::to_string(cell.index) + " (" + cell.label() + "): " +
                              store::status_display_name(g.status) + "\n";
            }
        } catch (const StoppedBeforeStart&) {
            out.status = store::RunStatus::stopped;
            break;
        } catch (const Error& e) {
            ++out.failed;
            out.errors += "cell " + std::to_string(cell.index) + " (" + cell.label() + "): " +
                          e.what() + "\n";
        }
    }
    if (out.status == store::RunStatus::finished && out.failed > 0)
        out.status = store::RunStatus::failed;
    return out;
}

}  // namespace cp::train
