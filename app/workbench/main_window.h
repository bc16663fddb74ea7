// The workbench window: parameters and launch on the left; live plots, run browser, comparison
// and context diversity as tabs; progress and the device in the status bar. Training runs in an
// ExperimentWorker on its own thread.
#pragma once

#include <functional>

#include <QElapsedTimer>
#include <QMainWindow>
#include <memory>
#include <QThread>
#include <optional>

#include "experiment/plan.h"
#include "widgets/kinds_meta.h"
#include "workbench/job_controller.h"

namespace cp::widgets {
class CacheView;
class SweepView;
class ComparisonView;
class DiversityView;
class LiveView;
class LaunchPanel;
class ParameterForm;
class RunBrowser;
}  // namespace cp::widgets

class QCheckBox;
class QComboBox;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QTabWidget;

namespace cp::workspace {
class Workspace;
}

namespace cp::workbench {

class ExperimentWorker;
class Launcher;

// The launch modes are core's (experiment/plan.h): the plan of each is decided and tested there.
using LaunchMode = cp::train::LaunchMode;

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(const QString& database, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts an experiment from the form; returns "" or why nothing was launched.
    QString launch(LaunchMode mode);
    // Starts the Cache compression view's evaluation; returns "" or why nothing was launched.
    QString launchCacheEval();
    // The Sweeps view's new sweep over the form's parameters: run here on the worker, or written
    // as a Slurm job array. Each returns "" or why nothing was done (core's message).
    QString launchSweep();
    QString writeSlurmSweep();
    bool isRunning() const;
    std::optional<cp::store::RunStatus> lastStatus() const;
    QString lastError() const;
    qint64 lastExperiment() const;

    widgets::ParameterForm* form() const { return form_; }
    widgets::LiveView* liveView() const { return live_; }
    widgets::RunBrowser* runBrowser() const { return browser_; }
    widgets::ComparisonView* comparisonView() const { return comparison_; }
    widgets::DiversityView* diversityView() const { return diversity_; }
    widgets::CacheView* cacheView() const { return cache_; }
    widgets::SweepView* sweepView() const { return sweeps_; }
    QTabWidget* tabs() const { return tabs_; }

    // Close as after answering "Stop and quit" (tests; the dialog calls the same path).
    void closeWithoutAsking();

    // The File menu's actions without their dialogs (the dialogs call these). Each returns ""
    // or why nothing was done.
    // Every view follows the other database; with a run going, asks (unless told not to) to stop
    // it and switches once it has stopped.
    QString openDatabase(const QString& path, bool ask = true);
    QString newDatabase(const QString& path);
    // Merges another workbench database into this one (core's import): a summary or the error.
    QString importDatabase(const QString& path, bool* ok = nullptr);
    QString exportReport(qint64 experiment_id, const QString& path);
    QString exportMetrics(qint64 run_id, const QString& path);
    const QString& database() const { return database_; }
    // The open database's owner: every read and change of the window's views goes through it.
    workspace::Workspace& workspace() const { return *workspace_; }
    QStringList recentDatabases() const;
    // What a new window shows: the latest experiment's curves and comparison, or, for an empty
    // database, what to do next.
    void showStartup();
    QString aboutText() const;
    // The experiment the comparison shows, else core's showcase; -1 when there is none.
    qint64 currentExperiment() const;
    QString shortcutsText() const;

    // Shows a stored experiment's curves in the live view (as after a run).
    void showExperimentCurves(qint64 experiment_id);

  public slots:
    void stop();

  signals:
    void experimentFinished(QString status);

  protected:
    void closeEvent(QCloseEvent* event) override;

  private slots:
    void updateLaunchButtons();
    // After the launcher has shown the job's end: a close or database switch asked for meanwhile.
    void onJobEnded(cp::store::RunStatus status);
    void openRun(qint64 run_id);

  private:
    QDockWidget* buildExperimentDock();
    void buildViews();
    void connectJobs();
    // The status bar's device, training threads and database.
    void showDeviceAndDatabase();
    void pointViewsAtDatabase();
    void switchTo(const QString& path);
    void rememberRecent(const QString& path);
    void rebuildRecentMenu();
    QMenu* recent_menu_ = nullptr;
    QString pending_database_;  // to open once the running job has stopped

    QString database_;
    std::unique_ptr<workspace::Workspace> workspace_;
    widgets::ParameterForm* form_;
    widgets::LiveView* live_;
    widgets::RunBrowser* browser_;
    widgets::ComparisonView* comparison_;
    widgets::DiversityView* diversity_;
    widgets::CacheView* cache_;
    widgets::SweepView* sweeps_;
    QTabWidget* tabs_;
    widgets::LaunchPanel* launch_panel_;
    QLabel* device_label_;
    JobController* jobs_;
    Launcher* launcher_ = nullptr;
    bool close_when_stopped_ = false;  // the user closed the window while a run was going
};

}  // namespace cp::workbench
