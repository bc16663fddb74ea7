// Runs one job (train/job.h) on its own QThread. core's observer callbacks arrive on that thread and
// leave it as queued Qt signals carrying plain numbers and strings: no tensor ever reaches the
// GUI thread, and the GUI never waits on training. Stop sets an atomic flag that the training
// loop reads between steps.
#pragma once

#include <QObject>
#include <QString>
#include <atomic>

#include <memory>

#include "widgets/kinds_meta.h"

namespace cp::train {
class Job;
}

namespace cp::workbench {

class ExperimentWorker : public QObject {
    Q_OBJECT
  public:
    // Thread-safe: the run ends after the current step, marked `stopped`. Also before the
    // worker has started: the flag is cleared by arm() on the launching thread, never by run().
    void requestStop() { stop_.store(true); }
    // Called on the GUI thread just before a run is queued: a Stop pressed from here on counts.
    void arm() { stop_.store(false); }
    bool stopRequested() const { return stop_.load(); }

  public slots:
    // Runs `job` (an experiment or seed group, a sweep, a cache evaluation: train/job.h) on the
    // worker's thread (invoked queued); finished() carries its outcome.
    void runJob(std::shared_ptr<cp::train::Job> job);

  signals:
    void runStarted(qint64 run_id, cp::model::Design model, cp::store::Phase phase);
    void metric(qint64 run_id, cp::model::Design model, cp::store::Phase phase, QString name,
                qint64 step, qint64 epoch, double value);
    void progress(cp::model::Design model, cp::store::Phase phase, qint64 step, qint64 total,
                  qint64 epoch, double loss, double eta_seconds);
    void message(QString text);
    void runFinished(qint64 run_id, cp::store::RunStatus status);
    // A seed group begins seed `seed`, the index-th (0-based) of count.
    void seedStarted(qint64 seed, qint64 index, qint64 count);
    // A sweep begins its cell `index` (0-based) of count.
    void sweepCellStarted(qint64 index, qint64 count, QString label);
    // error: the message when not finished; experiment_id -1 when nothing was stored.
    void finished(cp::store::RunStatus status, QString error, qint64 experiment_id);

  private:
    std::atomic<bool> stop_{false};
};

}  // namespace cp::workbench
