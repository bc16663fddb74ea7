#include "workbench/job_controller.h"

#include "common/numbers.h"
#include "workbench/experiment_worker.h"

namespace cp::workbench {

JobController::JobController(QObject* parent)
    : QObject(parent), worker_(new ExperimentWorker) {
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &ExperimentWorker::progress, this, &JobController::onProgress);
    // Each seed of a group gets fresh live plots; the group's mean and band are in Compare.
    connect(worker_, &ExperimentWorker::seedStarted, this,
            [this](qint64 seed, qint64 index, qint64 count) {
                if (index > 0) emit freshPlots();
                seed_text_ = QString("Seed %1 (%2 of %3) · ").arg(seed).arg(index + 1).arg(count);
            });
    connect(worker_, &ExperimentWorker::sweepCellStarted, this,
            [this](qint64 index, qint64 count, const QString& label) {
                emit freshPlots();
                // A cell may itself be a seed group: the cell stays named, the seed follows it.
                cell_text_ = QString("Sweep cell %1 of %2 (%3) · ").arg(index + 1).arg(count).arg(label);
                seed_text_.clear();
            });
    connect(worker_, &ExperimentWorker::finished, this,
            [this](store::RunStatus status, const QString& error, qint64 experiment_id) {
                const Job ended = job_;
                job_ = Job::none;
                emit finished(ended, status, error, experiment_id);
            });
    thread_.setObjectName("experiment");
    thread_.start();
}

JobController::~JobController() {
    worker_->requestStop();
    thread_.quit();
    thread_.wait();
}

void JobController::start(Job job, std::function<void(ExperimentWorker*)> work) {
    job_ = job;
    seed_text_.clear();
    cell_text_.clear();
    worker_->arm();  // from here on a Stop counts, even before the worker starts
    QMetaObject::invokeMethod(
        worker_, [w = worker_, work = std::move(work)] { work(w); }, Qt::QueuedConnection);
}

void JobController::stop() {
    if (running()) worker_->requestStop();
}

void JobController::onProgress(model::Design model, store::Phase phase, qint64 step, qint64 total,
                               qint64 epoch, double loss, double eta_seconds) {
    if (job_ == Job::cache_eval) {
        emit progressed(step, total,
                        QString("%1 · held-out chunk %2/%3 · loss %4")
                            .arg(widgets::display_name(model))
                            .arg(step)
                            .arg(total)
                            .arg(loss, 0, 'f', 4));
        return;
    }
    QString text = cell_text_ + seed_text_ +
                   QString("%1 · %2").arg(widgets::display_name(model), widgets::display_name(phase));
    if (epoch >= 0) text += QString(" · epoch %1").arg(epoch);
    text += QString(" · %1 %2/%3")
                .arg(phase == store::Phase::phase1 ? "iteration" : "step")
                .arg(step)
                .arg(total);
    if (phase != store::Phase::evaluation) text += QString(" · loss %1").arg(loss, 0, 'f', 4);
    text += " · ETA " + QString::fromStdString(clock_text(eta_seconds));
    emit progressed(step, total, text);
}

}  // namespace cp::workbench
