#include "workbench/experiment_worker.h"

#include <chrono>
#include <map>

#include "common/allocator.h"
#include "common/error.h"
#include "train/cache_eval.h"
#include "train/seed_group.h"
#include "train/sweep_runner.h"

namespace cp::workbench {
namespace {

// Adapts core's observer to the worker's signals. Metric points carry only their run id, so the
// observer remembers each run's model and phase from on_run_started. Progress is thinned to ten
// updates a second because a tiny model takes thousands of steps per minute.
class SignalObserver : public train::ExperimentObserver {
  public:
    explicit SignalObserver(ExperimentWorker& w) : w_(w) {}
    void on_run_started(std::int64_t run_id, model::Design model, store::Phase phase) override {
        runs_[run_id] = {model, phase};
        emit w_.runStarted(run_id, model, phase);
    }
    void on_metric(const store::MetricPoint& p) override {
        const auto& [model, phase] = runs_[p.run_id];
        emit w_.metric(p.run_id, model, phase, QString::fromStdString(p.name), p.step, p.epoch,
                       p.value);
    }
    void on_progress(const train::Progress& p) override {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::milliseconds(100) && p.step != p.total) return;
        last_ = now;
        emit w_.progress(p.model, p.phase, p.step, p.total, p.epoch, p.loss, p.eta_seconds);
    }
    void on_message(const std::string& text) override {
        emit w_.message(QString::fromStdString(text));
    }
    void on_run_finished(std::int64_t run_id, store::RunStatus status) override {
        emit w_.runFinished(run_id, status);
    }
    void on_seed_started(std::uint64_t seed, std::int64_t index, std::int64_t count) override {
        emit w_.seedStarted(static_cast<qint64>(seed), index, count);
    }
    void on_sweep_cell(std::int64_t index, std::int64_t count, const std::string& label) override {
        emit w_.sweepCellStarted(index, count, QString::fromStdString(label));
    }

  private:
    ExperimentWorker& w_;
    std::map<std::int64_t, std::pair<model::Design, store::Phase>> runs_;  // run id -> kind
    std::chrono::steady_clock::time_point last_{};
};

// When an experiment, evaluation or sweep ends, however it ends, the pages it freed go back to
// the system: the allocator keeps them while it runs (app/common/allocator.cpp), and the window
// lives on after it.
struct ReleaseMemoryWhenDone {
    ReleaseMemoryWhenDone() = default;
    ReleaseMemoryWhenDone(const ReleaseMemoryWhenDone&) = delete;
    ReleaseMemoryWhenDone& operator=(const ReleaseMemoryWhenDone&) = delete;
    ~ReleaseMemoryWhenDone() { release_cached_memory(); }
};

}  // namespace

void ExperimentWorker::run(const cp::train::ExperimentParams& params, cp::train::LaunchMode mode) {
    const ReleaseMemoryWhenDone release;
    // The stop flag is not reset here: arm() did that on the GUI thread before queuing, so a
    // Stop pressed in between is honoured.
    SignalObserver observer(*this);
    try {
        // Validates and prepares data (reading the stop flag between stages): nothing stored yet.
        // One experiment, or one per seed with "Repeat with N seeds" (a seed group).
        train::SeedGroup group(params, mode, &stop_);
        const train::GroupSummary g = group.run(&observer, stop_);
        std::int64_t last = -1;
        QString failed;
        for (const train::SeedOutcome& s : g.seeds) {
            if (s.summary) last = s.summary->experiment_id;
            if (!s.finished())
                failed += QString("seed %1: %2\n")
                              .arg(s.seed)
                              .arg(QString::fromStdString(
                                  s.summary ? store::status_display_name(s.summary->status)
                                            : s.error));
        }
        emit finished(g.status, failed.trimmed(), last);
    } catch (const train::StoppedBeforeStart& e) {
        emit finished(store::RunStatus::stopped, QString::fromUtf8(e.what()), -1);
    } catch (const Error& e) {
        emit finished(store::RunStatus::failed, QString::fromUtf8(e.what()), -1);
    } catch (const std::exception& e) {
        emit finished(store::RunStatus::failed, QString("internal error: ") + e.what(), -1);
    }
}

void ExperimentWorker::runCacheEval(const cp::train::CacheEvalParams& params) {
    const ReleaseMemoryWhenDone release;
    SignalObserver observer(*this);
    try {
        train::CacheEval eval(params, &stop_);  // checks and prepares the text: nothing stored yet
        const train::CacheEvalSummary s = eval.run(&observer, stop_);
        QString failed;
        for (const auto& t : s.trained)
            for (const auto& o : t.policies)
                if (o.status != store::RunStatus::finished)
                    failed += QString("%1: %2 %3\n")
                                  .arg(QString::fromStdString(o.policy),
                                       QString::fromUtf8(store::status_display_name(o.status)),
                                       QString::fromStdString(o.message));
        emit finished(s.status, failed.trimmed(),
                      s.trained.empty() ? -1 : s.trained.front().experiment_id);
    } catch (const Error& e) {
        emit finished(store::RunStatus::failed, QString::fromUtf8(e.what()), -1);
    } catch (const std::exception& e) {
        emit finished(store::RunStatus::failed, QString("internal error: ") + e.what(), -1);
    }
}

void ExperimentWorker::runSweep(const cp::train::Sweep& sweep) {
    const ReleaseMemoryWhenDone release;
    SignalObserver observer(*this);
    try {
        const train::SweepOutcome out = train::run_sweep(sweep, &observer, stop_);
        QString summary = QString("%1 cells run, %2 skipped (finished before), %3 failed")
                              .arg(out.ran)
                              .arg(out.skipped)
                              .arg(out.failed);
        if (!out.errors.empty()) summary += "\n" + QString::fromStdString(out.errors).trimmed();
        emit finished(out.status, summary, out.experiments.empty() ? -1 : out.experiments.back());
    } catch (const Error& e) {
        emit finished(store::RunStatus::failed, QString::fromUtf8(e.what()), -1);
    } catch (const std::exception& e) {
        emit finished(store::RunStatus::failed, QString("internal error: ") + e.what(), -1);
    }
}

}  // namespace cp::workbench
