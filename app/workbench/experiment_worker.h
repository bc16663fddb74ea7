// Runs one experiment on its own QThread. core's observer callbacks arrive on that thread and
// leave it as queued Qt signals carrying plain numbers and strings: no tensor ever reaches the
// GUI thread, and the GUI never waits on training. Stop sets an atomic flag that the training
// loop reads between steps.
#pragma once

#include <QObject>
#include <QString>
#include <atomic>

#include "train/experiment_params.h"

namespace cp::workbench {

class ExperimentWorker : public QObject {
    Q_OBJECT
  public:
    // Thread-safe: the run ends after the current step, marked `stopped`.
    void requestStop() { stop_.store(true); }

  public slots:
    // Runs on the worker's thread (invoked queued).
    void run(const cp::train::ExperimentParams& params);

  signals:
    void runStarted(qint64 run_id, QString model, QString phase);
    void metric(qint64 run_id, QString model, QString phase, QString name, qint64 step,
                qint64 epoch, double value);
    void progress(QString model, QString phase, qint64 step, qint64 total, qint64 epoch,
                  double loss, double eta_seconds);
    void message(QString text);
    void runFinished(qint64 run_id, QString status);
    // status: finished, stopped, diverged, failed; error: the message when not finished.
    void finished(QString status, QString error, qint64 experiment_id);

  private:
    std::atomic<bool> stop_{false};
};

}  // namespace cp::workbench

Q_DECLARE_METATYPE(cp::train::ExperimentParams)
