// The window's one running job — an experiment (or seed group), a sweep, or a cache evaluation —
// on the worker's thread: one state instead of a flag per kind, Stop, the job's progress as one
// line of text, and its end. The window decides what to launch and what to show afterwards.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <functional>

#include "widgets/kinds_meta.h"

namespace cp::workbench {

class ExperimentWorker;

class JobController : public QObject {
    Q_OBJECT
  public:
    enum class Job { none, experiment, sweep, cache_eval };

    explicit JobController(QObject* parent = nullptr);
    ~JobController() override;  // asks the job to stop and waits for the thread

    ExperimentWorker* worker() const { return worker_; }
    Job current() const { return job_; }
    bool running() const { return job_ != Job::none; }
    // Queues `work` on the worker's thread as `job`; a Stop pressed from here on counts.
    void start(Job job, std::function<void(ExperimentWorker*)> work);
    void stop();  // the job ends after its current step

  signals:
    // "Seed 1 (2 of 3) · Pythia · Phase 2 · epoch 1 · step 3/10 · loss 4.2000 · ETA 0:12"; a
    // cache evaluation's "Pythia · held-out chunk 3/8 · loss 4.2000".
    void progressed(qint64 step, qint64 total, QString text);
    void freshPlots();  // a new seed or sweep cell begins: its live plots start empty
    void finished(cp::workbench::JobController::Job job, cp::store::RunStatus status,
                  QString error, qint64 experiment_id);

  private:
    void onProgress(model::Design model, store::Phase phase, qint64 step, qint64 total,
                    qint64 epoch, double loss, double eta_seconds);
    ExperimentWorker* worker_;
    QThread thread_;
    Job job_ = Job::none;
    QString seed_text_;  // "Seed 1 (2 of 3) · " while a seed group runs
    QString cell_text_;  // "Sweep cell 2 of 4 (context_dim=64) · " while a sweep runs
};

}  // namespace cp::workbench
