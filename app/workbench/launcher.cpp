#include "workbench/launcher.h"

#include <QCoreApplication>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QThread>
#include <algorithm>

#include "common/error.h"
#include "widgets/cache_view.h"
#include "widgets/comparison_view.h"
#include "widgets/diversity_view.h"
#include "widgets/launch_panel.h"
#include "widgets/live_view.h"
#include "widgets/parameter_form.h"
#include "widgets/run_browser.h"
#include "widgets/sweep_view.h"
#include "train/job.h"
#include "workbench/experiment_worker.h"
#include "workspace/workspace.h"

namespace cp::workbench {

int training_threads() { return std::max(1, QThread::idealThreadCount() - 1); }

Launcher::Launcher(LaunchViews views, JobController* jobs, QObject* parent)
    : QObject(parent), v_(views), jobs_(jobs) {
    connect(jobs_, &JobController::finished, this, &Launcher::onFinished);
}

QString Launcher::database() const {
    return workspace_ ? QString::fromStdString(workspace_->database()) : QString();
}

QString Launcher::launch(train::LaunchMode mode) {
    if (jobs_->running()) return "an experiment is already running";
    if (!v_.form->isValid()) {
        v_.form->revealProblems();  // a launch was tried: every problem is shown now
        const QString why = v_.form->shownProblems();
        v_.panel->setMessage("Fix the fields above first.");
        return why.isEmpty() ? QString("the form is not valid") : why;
    }
    const std::optional<model::Design> design =
        mode == train::LaunchMode::phase2 ? std::optional<model::Design>(v_.panel->phase2Design())
                                          : std::nullopt;
    train::LaunchRequest request;
    try {
        // Core decides the plan (and which stored Phase 1 a Phase 2 trains on).
        request = workspace_->resolve_launch(launchParams(mode), mode, design);
    } catch (const Error& e) {
        v_.panel->setMessage(QString::fromUtf8(e.what()));
        return QString::fromUtf8(e.what());
    }
    v_.panel->setMessage("");
    v_.live->setCaption("");
    QSettings settings;
    v_.form->save(settings);
    v_.panel->saveDesigns(settings);
    v_.live->clear();
    const train::ExperimentParams& p = request.params;
    v_.live->setTokensPerStep(static_cast<double>(p.phase2.batch_size * *p.seq_length));
    mode_ = mode;
    v_.panel->showBusy("Preparing data (tokenizing or reading the token cache)…");
    v_.tabs->setCurrentWidget(v_.live);
    start(JobController::Job::experiment, train::experiment_job(p, mode));
    return {};
}

train::ExperimentParams Launcher::launchParams(train::LaunchMode mode) const {
    train::ExperimentParams form = v_.form->params();
    if (mode != train::LaunchMode::phase1 && v_.panel->ablation())
        form.ablation_untrained_context_block = true;
    // None checked: core refuses "choose at least one design".
    if (mode == train::LaunchMode::full_comparison) form.models = v_.panel->checkedDesigns();
    if (form.threads == 0) form.threads = training_threads();
    return form;
}

std::optional<train::Sweep> Launcher::sweepRequest(QString* problem) {
    try {
        train::ExperimentParams base = launchParams(train::LaunchMode::full_comparison);
        base.db = database().toStdString();
        // Core parses the grid and checks every cell, naming the first that cannot run.
        return train::make_sweep(base, train::parse_grid_lines(v_.sweeps->gridText().toStdString()),
                                 v_.sweeps->sweepName().toStdString());
    } catch (const Error& e) {
        *problem = QString::fromUtf8(e.what());
        v_.sweeps->setMessage(*problem);
        return std::nullopt;
    }
}

QString Launcher::launchSweep() {
    if (jobs_->running()) return "an experiment or evaluation is already running";
    QString problem;
    const std::optional<train::Sweep> sweep = sweepRequest(&problem);
    if (!sweep) return problem;
    mode_ = train::LaunchMode::full_comparison;
    v_.live->clear();
    v_.sweeps->setRunning(true);
    v_.sweeps->setMessage(QString("Sweep %1: %2 cells; the live plots show the cell that runs.")
                              .arg(QString::fromStdString(sweep->uid))
                              .arg(sweep->cells.size()));
    v_.panel->showBusy("Sweep: preparing the first cell…");
    start(JobController::Job::sweep, train::sweep_job(*sweep));
    return {};
}

QString Launcher::writeSlurmSweep() {
    QString problem;
    const std::optional<train::Sweep> sweep = sweepRequest(&problem);
    if (!sweep) return problem;
    const std::filesystem::path folder =
        v_.sweeps->folder().isEmpty() ? train::default_sweep_folder(*sweep)
                                      : std::filesystem::path(v_.sweeps->folder().toStdString());
    const std::filesystem::path cli =
        std::filesystem::path(QCoreApplication::applicationDirPath().toStdString()) / "context-pythia";
    std::vector<std::string> flags;
    for (const QString& f : v_.sweeps->sbatchFlags().split(' ', Qt::SkipEmptyParts))
        flags.push_back(f.toStdString());
    try {
        const std::filesystem::path script = train::write_slurm_job(*sweep, folder, cli, flags);
        const QString dir = QString::fromStdString(std::filesystem::absolute(folder).string());
        v_.sweeps->setMessage(
            QString("Wrote %1: %2 array tasks, one per cell. Submit it with\n  sbatch %1\nand when "
                    "the tasks are done, merge their shards into this database with\n  %3 sweep "
                    "collect --sweep-dir %4 --db %5")
                .arg(QString::fromStdString(script.string()))
                .arg(sweep->cells.size())
                .arg(QString::fromStdString(cli.string()), dir, database()));
        return {};
    } catch (const Error& e) {
        v_.sweeps->setMessage(QString::fromUtf8(e.what()));
        return QString::fromUtf8(e.what());
    }
}

QString Launcher::launchCacheEval() {
    if (jobs_->running()) return "an experiment or evaluation is already running";
    QString problem;
    std::optional<train::CacheEvalParams> p = v_.cache->request(&problem);  // core's checks
    if (!p) {
        v_.cache->setMessage(problem);
        return problem;
    }
    if (p->threads == 0) p->threads = training_threads();
    v_.cache->setRunning(true);
    start(JobController::Job::cache_eval, train::cache_eval_job(*p));
    return {};
}

void Launcher::start(JobController::Job kind, std::unique_ptr<train::Job> job) {
    last_status_.reset();
    last_error_.clear();
    std::shared_ptr<train::Job> shared = std::move(job);
    jobs_->start(kind, [shared](ExperimentWorker* w) { w->runJob(shared); });
    v_.panel->setState(v_.form->isValid(), true);
}

void Launcher::stop() {
    if (!jobs_->running()) return;
    jobs_->stop();
    v_.panel->showText("Stopping after the current step…");
}

void Launcher::onFinished(JobController::Job job, store::RunStatus status, QString error,
                          qint64 experiment_id) {
    last_status_ = status;
    last_error_ = error;
    last_experiment_ = experiment_id;
    if (job == JobController::Job::cache_eval)
        endCacheEval(status, error);
    else
        endExperimentOrSweep(job == JobController::Job::sweep, status, error, experiment_id);
    v_.panel->setState(v_.form->isValid(), jobs_->running());
    emit ended(status);
}

void Launcher::endCacheEval(store::RunStatus status, const QString& error) {
    v_.cache->setRunning(false);
    v_.cache->setMessage(error);
    v_.browser->refresh();
    v_.comparison->refreshChoices();
    v_.cache->refreshResults();
    v_.status->showMessage(QString("Cache evaluation: %1").arg(widgets::display_name(status)),
                           10000);
}

void Launcher::endExperimentOrSweep(bool sweep, store::RunStatus status, QString error,
                                    qint64 experiment_id) {
    if (sweep) {
        v_.sweeps->setRunning(false);
        v_.sweeps->setMessage(QString("Sweep %1: %2").arg(widgets::display_name(status), error));
        v_.sweeps->refreshChoices();
        error.clear();  // the counts, not a failure, unless a cell failed (said in the view)
    }
    const bool finished = status == store::RunStatus::finished;
    v_.panel->showEnd(finished, finished ? "Finished."
                                         : "Ended: " + widgets::display_name(status) + ".");
    if (!error.isEmpty()) v_.panel->setMessage(error);
    v_.browser->refresh();
    v_.comparison->refreshChoices();
    v_.diversity->refreshChoices();
    // A seed group with a failed seed still compares the seeds that finished (and says which).
    if (experiment_id >= 0 && mode_ == train::LaunchMode::full_comparison &&
        status != store::RunStatus::stopped)
        v_.comparison->showExperiment(experiment_id);
    v_.status->showMessage(
        experiment_id >= 0
            ? QString("Experiment %1: %2").arg(experiment_id).arg(widgets::display_name(status))
            : "Nothing was run: " + error,
        10000);
}

}  // namespace cp::workbench
