// What the window's launch buttons do: the form's experiment, the Sweeps view's sweep (here or as
// a Slurm array) and the Cache compression view's evaluation become one job on the JobController,
// resolved by core (Workspace::resolve_launch, make_sweep, the cache view's request); when the job
// ends, the views that show what it stored are told. The window only wires it.
#pragma once

#include <QObject>
#include <QString>
#include <functional>
#include <memory>
#include <optional>

#include "experiment/plan.h"
#include "experiment/sweep.h"
#include "workbench/job_controller.h"

class QStatusBar;
class QTabWidget;

namespace cp::widgets {
class CacheView;
class ComparisonView;
class DiversityView;
class LaunchPanel;
class LiveView;
class ParameterForm;
class RunBrowser;
class SweepView;
}  // namespace cp::widgets

namespace cp::train {
class Job;
}

namespace cp::workspace {
class Workspace;
}

namespace cp::workbench {

// Torch's intra-op threads when the user chose none: every core but one, which the GUI keeps.
int training_threads();

// The views a launch reads from and a job's end is shown in.
struct LaunchViews {
    widgets::ParameterForm* form;
    widgets::LaunchPanel* panel;
    widgets::LiveView* live;
    widgets::RunBrowser* browser;
    widgets::ComparisonView* comparison;
    widgets::DiversityView* diversity;
    widgets::CacheView* cache;
    widgets::SweepView* sweeps;
    QTabWidget* tabs;
    QStatusBar* status;
};

class Launcher : public QObject {
    Q_OBJECT
  public:
    Launcher(LaunchViews views, JobController* jobs, QObject* parent);

    // The database every launch goes to; the window points it at the open one.
    void setWorkspace(workspace::Workspace* workspace) { workspace_ = workspace; }

    // Each returns "" or why nothing was launched (core's message, also shown in the view).
    QString launch(train::LaunchMode mode);
    QString launchSweep();
    QString writeSlurmSweep();
    QString launchCacheEval();
    void stop();

    std::optional<store::RunStatus> lastStatus() const { return last_status_; }
    QString lastError() const { return last_error_; }
    qint64 lastExperiment() const { return last_experiment_; }

  signals:
    // A job ended and every view shows what it stored.
    void ended(cp::store::RunStatus status);

  private:
    // The job queued on the worker; no outcome until it ends.
    void start(JobController::Job kind, std::unique_ptr<train::Job> job);
    void onFinished(JobController::Job job, store::RunStatus status, QString error,
                    qint64 experiment_id);
    void endCacheEval(store::RunStatus status, const QString& error);
    void endExperimentOrSweep(bool sweep, store::RunStatus status, QString error,
                              qint64 experiment_id);
    // The form's parameters as a launch of `mode` uses them: the design checklist, the
    // ablation, torch's threads leaving the GUI a core.
    train::ExperimentParams launchParams(train::LaunchMode mode) const;
    // The sweep the Sweeps view asks for, built by core from the form and the grid.
    std::optional<train::Sweep> sweepRequest(QString* problem);
    QString database() const;

    LaunchViews v_;
    JobController* jobs_;
    workspace::Workspace* workspace_ = nullptr;
    train::LaunchMode mode_ = train::LaunchMode::full_comparison;
    std::optional<store::RunStatus> last_status_;
    QString last_error_;
    qint64 last_experiment_ = -1;
};

}  // namespace cp::workbench
