#include "workbench/experiment_worker.h"

#include <chrono>
#include <map>

#include "common/allocator.h"
#include "train/job.h"

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

void ExperimentWorker::runJob(std::shared_ptr<cp::train::Job> job) {
    const ReleaseMemoryWhenDone release;
    // The stop flag is not reset here: arm() did that on the GUI thread before queuing, so a
    // Stop pressed in between is honoured.
    SignalObserver observer(*this);
    const train::JobOutcome out = job->run(&observer, stop_);
    emit finished(out.status, QString::fromStdString(out.message), out.experiment_id);
}

}  // namespace cp::workbench
