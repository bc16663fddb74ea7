#include "workbench/main_window.h"

#include <QCloseEvent>
#include <QDockWidget>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include "common/build_info.h"
#include "common/error.h"
#include "train/experiment.h"
#include "widgets/cache_view.h"
#include "widgets/comparison_view.h"
#include "widgets/diversity_view.h"
#include "widgets/launch_panel.h"
#include "widgets/live_view.h"
#include "widgets/parameter_form.h"
#include "widgets/plot_panel.h"
#include "widgets/run_browser.h"
#include "widgets/sweep_view.h"
#include "workbench/database_files.h"
#include "workbench/experiment_worker.h"
#include "workbench/launcher.h"
#include "workbench/menus.h"
#include "workspace/workspace.h"

namespace cp::workbench {

MainWindow::MainWindow(const QString& database, QWidget* parent)
    : QMainWindow(parent), database_(database), jobs_(new JobController(this)) {
    setWindowTitle("Context-Pythia Workbench");
    setWindowIcon(QIcon(":/icons/context-pythia.svg"));
    // The libraries this front end adds, for the stamp of every experiment it launches.
    register_library("Qt", qVersion());
    register_library("QCustomPlot", widgets::qcustomplot_version().toStdString());
    widgets::register_kind_metatypes();

    QDockWidget* dock = buildExperimentDock();
    buildViews();
    recent_menu_ = build_menus(*this, dock);
    rebuildRecentMenu();
    // Status bar: device and database, then progress.
    device_label_ = new QLabel(this);
    device_label_->setObjectName("deviceLabel");
    const QString device = QString::fromStdString(train::choose_device(train::DeviceChoice::automatic));
    device_label_->setProperty("device", device == "cuda" ? "CUDA GPU" : "CPU");
    showDeviceAndDatabase();
    statusBar()->addWidget(device_label_, 1);
    connectJobs();

    connect(form_, &widgets::ParameterForm::validityChanged, this,
            &MainWindow::updateLaunchButtons);
    QSettings settings;
    form_->restore(settings);
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    if (!settings.contains("window/geometry")) resize(1280, 800);
    updateLaunchButtons();
    rememberRecent(database_);
    showStartup();
}

// Left: parameters and launch, scrollable so that 800 px of height suffice.
QDockWidget* MainWindow::buildExperimentDock() {
    auto* left = new QWidget;
    auto* left_layout = new QVBoxLayout(left);
    form_ = new widgets::ParameterForm(left);
    form_->setDatabase(database_);
    left_layout->addWidget(form_);
    launch_panel_ = new widgets::LaunchPanel(left);
    left_layout->addWidget(launch_panel_);
    connect(launch_panel_, &widgets::LaunchPanel::launchRequested, this,
            [this](LaunchMode mode) { launch(mode); });
    connect(launch_panel_, &widgets::LaunchPanel::stopRequested, this, &MainWindow::stop);
    connect(launch_panel_, &widgets::LaunchPanel::choicesChanged, this,
            &MainWindow::updateLaunchButtons);
    left_layout->addStretch();
    auto* scroll = new QScrollArea;
    scroll->setWidget(left);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setMinimumWidth(330);
    auto* dock = new QDockWidget("Experiment", this);
    dock->setObjectName("parametersDock");
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    dock->setWidget(scroll);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
    return dock;
}

// The views, each on the open database, and what each asks of the window or of the others.
void MainWindow::buildViews() {
    tabs_ = new QTabWidget(this);
    live_ = new widgets::LiveView;
    browser_ = new widgets::RunBrowser;
    comparison_ = new widgets::ComparisonView;
    diversity_ = new widgets::DiversityView;
    cache_ = new widgets::CacheView;
    sweeps_ = new widgets::SweepView;
    tabs_->addTab(live_, "Live plots");
    tabs_->addTab(browser_, "Runs");
    tabs_->addTab(comparison_, "Comparison");
    tabs_->addTab(diversity_, "Context diversity");
    tabs_->addTab(cache_, "Cache compression");
    tabs_->addTab(sweeps_, "Sweeps");
    setCentralWidget(tabs_);
    launcher_ = new Launcher({form_, launch_panel_, live_, browser_, comparison_, diversity_, cache_,
                              sweeps_, tabs_, statusBar()},
                             jobs_, this);
    pointViewsAtDatabase();
    connect(browser_, &widgets::RunBrowser::runsChanged, sweeps_, &widgets::SweepView::refreshChoices);
    connect(cache_, &widgets::CacheView::runRequested, this, [this] { launchCacheEval(); });
    connect(cache_, &widgets::CacheView::stopRequested, this, &MainWindow::stop);
    connect(sweeps_, &widgets::SweepView::runHereRequested, this, [this] { launchSweep(); });
    connect(sweeps_, &widgets::SweepView::slurmRequested, this, [this] { writeSlurmSweep(); });
    connect(sweeps_, &widgets::SweepView::stopRequested, this, &MainWindow::stop);
    connect(browser_, &widgets::RunBrowser::runsChanged, cache_,
            &widgets::CacheView::refreshChoices);
    connect(browser_, &widgets::RunBrowser::openRun, this, &MainWindow::openRun);
    connect(browser_, &widgets::RunBrowser::runsChanged, comparison_,
            &widgets::ComparisonView::refreshChoices);
    connect(browser_, &widgets::RunBrowser::runsChanged, diversity_,
            &widgets::DiversityView::refreshChoices);
}

// The job's metrics go to the live view, its progress to the launch panel (or the cache view),
// its end to the views that show what it stored.
void MainWindow::connectJobs() {
    ExperimentWorker* worker = jobs_->worker();
    connect(worker, &ExperimentWorker::metric, live_, &widgets::LiveView::addMetric);
    connect(jobs_, &JobController::progressed, this,
            [this](qint64 step, qint64 total, const QString& text) {
                if (jobs_->current() == JobController::Job::cache_eval)
                    cache_->setProgress(step, total, text);
                else
                    launch_panel_->showProgress(step, total, text);
            });
    connect(jobs_, &JobController::freshPlots, live_, &widgets::LiveView::clear);
    connect(launcher_, &Launcher::ended, this, &MainWindow::onJobEnded);
    connect(worker, &ExperimentWorker::runStarted, this, [this] { browser_->refresh(); });
    connect(worker, &ExperimentWorker::runFinished, this, [this] { browser_->refresh(); });
    connect(worker, &ExperimentWorker::message, this,
            [this](const QString& text) { statusBar()->showMessage(text, 8000); });
}

QString MainWindow::aboutText() const {
    return about_text(database_);
}

QString MainWindow::shortcutsText() const {
    return shortcuts_text();
}

QStringList MainWindow::recentDatabases() const { return recent_databases(); }

void MainWindow::rememberRecent(const QString& path) {
    remember_recent_database(path);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    if (!recent_menu_) return;
    recent_menu_->clear();
    for (const QString& path : recentDatabases())
        recent_menu_->addAction(path, this, [this, path] {
            const QString error = openDatabase(path);
            if (!error.isEmpty()) QMessageBox::warning(this, "Open database", error);
        });
    recent_menu_->setEnabled(!recent_menu_->isEmpty());
}

QString MainWindow::openDatabase(const QString& path, bool ask) {
    if (!QFileInfo::exists(path)) return "no database at '" + path + "'";
    try {
        workspace::Workspace::check_database(path.toStdString());  // ours, not newer
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
    if (jobs_->running()) {
        if (ask && QMessageBox::question(
                       this, "Switch database",
                       "An experiment is running. Stop it (it is kept, marked stopped) and open '" +
                           path + "' once it has stopped?",
                       QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) != QMessageBox::Yes)
            return "an experiment is running: the database stays '" + database_ + "'";
        pending_database_ = path;
        stop();
        return {};
    }
    switchTo(path);
    return {};
}

QString MainWindow::newDatabase(const QString& path) {
    if (QFileInfo::exists(path)) return "'" + path + "' exists: open it instead";
    try {
        workspace::Workspace::create_database(path.toStdString());
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
    return openDatabase(path);
}

QString MainWindow::importDatabase(const QString& path, bool* ok) {
    const QString summary = import_database(*workspace_, path, ok);
    if (ok && *ok) browser_->refresh();  // the browser's runsChanged refreshes the other views
    return summary;
}

QString MainWindow::exportReport(qint64 experiment_id, const QString& path) {
    return export_report(*workspace_, experiment_id, path);
}

QString MainWindow::exportMetrics(qint64 run_id, const QString& path) {
    return export_metrics(*workspace_, run_id, path);
}

qint64 MainWindow::currentExperiment() const {
    if (comparison_->designs()) return comparison_->designs()->members.front().experiment_id;
    try {
        return workspace_->showcase_experiment().value_or(-1);
    } catch (const Error&) {
        return -1;
    }
}

// Every view that reads the store reads database_.
void MainWindow::pointViewsAtDatabase() {
    // The old workspace lives until every view has let go of it: a view's refresh signals others
    // that are still pointed at it.
    const std::unique_ptr<workspace::Workspace> previous = std::move(workspace_);
    workspace_ = std::make_unique<workspace::Workspace>(database_.toStdString());
    browser_->setWorkspace(workspace_.get());
    comparison_->setWorkspace(workspace_.get());
    diversity_->setWorkspace(workspace_.get());
    cache_->setWorkspace(workspace_.get());
    cache_->refreshResults();
    sweeps_->setWorkspace(workspace_.get());
    launcher_->setWorkspace(workspace_.get());
}

void MainWindow::showDeviceAndDatabase() {
    device_label_->setText(
        QString("Device: %1 · training threads: %2 (one core left to the GUI) · Database: %3")
            .arg(device_label_->property("device").toString())
            .arg(training_threads())
            .arg(database_));
}

void MainWindow::switchTo(const QString& path) {
    database_ = path;
    form_->setDatabase(database_);
    pointViewsAtDatabase();
    showDeviceAndDatabase();
    setWindowTitle("Context-Pythia Workbench — " + QFileInfo(database_).fileName());
    rememberRecent(database_);
    showStartup();
}

void MainWindow::showStartup() {
    std::optional<std::int64_t> experiment;
    try {
        experiment = workspace_->showcase_experiment();
    } catch (const Error&) {
    }
    if (!experiment) {
        live_->clear();
        live_->setCaption(
            "<b>No experiments in this database yet.</b> Fill in samples, sequence length and "
            "epochs on the left (or pick a preset), tick the designs to compare, then "
            "<b>Full comparison</b> (Ctrl+Enter). File → Open database… (Ctrl+O) opens another.");
        return;
    }
    showExperimentCurves(*experiment);
    live_->setCaption(QString("Experiment %1 of this database: its stored curves. Launch a new one "
                              "from the left, or compare in the Comparison tab.")
                          .arg(*experiment));
    comparison_->showExperiment(*experiment);
}

MainWindow::~MainWindow() = default;  // the job controller stops and joins its thread

void MainWindow::updateLaunchButtons() {
    launch_panel_->setState(form_->isValid(), jobs_->running());
}

std::optional<store::RunStatus> MainWindow::lastStatus() const { return launcher_->lastStatus(); }
QString MainWindow::lastError() const { return launcher_->lastError(); }
qint64 MainWindow::lastExperiment() const { return launcher_->lastExperiment(); }

bool MainWindow::isRunning() const {
    return jobs_->running();
}

QString MainWindow::launch(LaunchMode mode) { return launcher_->launch(mode); }

QString MainWindow::launchSweep() { return launcher_->launchSweep(); }

QString MainWindow::writeSlurmSweep() { return launcher_->writeSlurmSweep(); }

QString MainWindow::launchCacheEval() { return launcher_->launchCacheEval(); }

void MainWindow::stop() { launcher_->stop(); }

void MainWindow::onJobEnded(store::RunStatus status) {
    updateLaunchButtons();
    emit experimentFinished(QString::fromUtf8(store::status_key(status)));
    if (close_when_stopped_) {
        setEnabled(true);
        close();
        return;
    }
    // A database switch asked for while this ran happens now.
    if (!pending_database_.isEmpty()) {
        const QString path = pending_database_;
        pending_database_.clear();
        switchTo(path);
    }
}

void MainWindow::showExperimentCurves(qint64 experiment_id) {
    try {
        live_->showExperiment(*workspace_, experiment_id);
    } catch (const Error& e) {
        statusBar()->showMessage(e.what(), 10000);
    }
}

void MainWindow::openRun(qint64 run_id) {
    try {
        const store::RunRow r = workspace_->run(run_id);
        live_->clear();
        live_->addStoredRun(*workspace_, r);
        tabs_->setCurrentWidget(live_);
        statusBar()->showMessage(
            QString("Showing run %1 (%2 %3, %4)")
                .arg(run_id)
                .arg(widgets::display_name(r.model), widgets::display_name(r.phase),
                     widgets::display_name(r.status)),
            10000);
    } catch (const Error& e) {
        QMessageBox::warning(this, "Cannot open the run", e.what());
    }
}

void MainWindow::closeWithoutAsking() {
    if (!jobs_->running()) {
        close();
        return;
    }
    // Stop first, with feedback; onFinished closes the window once the worker has ended (data
    // preparation and training both read the stop flag).
    close_when_stopped_ = true;
    jobs_->stop();
    launch_panel_->showBusy("Stopping after the current step; the window closes when it ends…");
    statusBar()->showMessage("Stopping the experiment before closing…");
    setEnabled(false);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (jobs_->running()) {
        event->ignore();
        if (close_when_stopped_) return;  // already stopping
        const auto answer = QMessageBox::question(
            this, "Experiment running",
            "An experiment is running. Stop it (the run is kept, marked stopped) and quit?",
            QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
        if (answer == QMessageBox::Yes) closeWithoutAsking();
        return;
    }
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    event->accept();
}

}  // namespace cp::workbench
