#include "workbench/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <functional>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QThread>
#include <QVBoxLayout>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/model_registry.h"
#include "report/selection.h"
#include "store/run_store.h"
#include "train/experiment.h"
#include "common/build_info.h"
#include "common/files.h"
#include "report/csv.h"
#include "report/experiment_report.h"
#include "report/exports.h"
#include "report/report_pdf.h"
#include "widgets/cache_view.h"
#include "widgets/sweep_view.h"
#include "widgets/plot_panel.h"
#include "widgets/comparison_view.h"
#include "widgets/pareto_plot.h"
#include <QTabWidget>
#include "widgets/diversity_view.h"
#include "widgets/live_view.h"
#include "widgets/parameter_form.h"
#include "widgets/run_browser.h"
#include "widgets/launch_panel.h"
#include "workbench/experiment_worker.h"
#include "workbench/menus.h"
#include "workspace/workspace.h"

namespace cp::workbench {
namespace {

// Torch's intra-op threads when the user chose none: every core but one, which the GUI keeps.
int training_threads() { return std::max(1, QThread::idealThreadCount() - 1); }

}  // namespace

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
    const QString device = QString::fromStdString(train::choose_device("auto"));
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
    connect(jobs_, &JobController::finished, this, &MainWindow::onFinished);
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

QStringList MainWindow::recentDatabases() const {
    return QSettings().value("recent/databases").toStringList();
}

void MainWindow::rememberRecent(const QString& path) {
    QStringList recent = recentDatabases();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > 8) recent.removeLast();
    QSettings().setValue("recent/databases", recent);
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
    if (ok) *ok = false;
    try {
        const store::ImportCounts c = workspace_->import_database(path.toStdString());
        if (ok) *ok = true;
        browser_->refresh();
        comparison_->refreshChoices();
        diversity_->refreshChoices();
        cache_->refreshChoices();
        return QString("Imported %1 experiments, %2 runs, %3 metric points and %4 results from '%5'.")
            .arg(c.experiments)
            .arg(c.runs)
            .arg(c.metric_points)
            .arg(c.results)
            .arg(path);
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
}

QString MainWindow::exportReport(qint64 experiment_id, const QString& path) {
    try {
        const report::ExperimentReport r = workspace_->build_report(experiment_id);
        if (path.endsWith(".pdf", Qt::CaseInsensitive)) return reportpdf::write_report_pdf(r, path);
        write_file_atomic(path.toStdString(), report::report_html(r));
        return {};
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
}

QString MainWindow::exportMetrics(qint64 run_id, const QString& path) {
    try {
        workspace_->export_metrics_csv(run_id, path.toStdString());
        return {};
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
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
}

void MainWindow::showDeviceAndDatabase() {
    device_label_->setText(
        QString("Device: %1 · training threads: %2 (one core left to the GUI) · Database: %3")
            .arg(device_label_->property("device").toString())
            .arg(training_threads())
            .arg(database_));
}

void MainWindow::startJob(JobController::Job job, std::function<void(ExperimentWorker*)> work) {
    last_status_.reset();
    last_error_.clear();
    jobs_->start(job, std::move(work));
    updateLaunchButtons();
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

bool MainWindow::isRunning() const {
    return jobs_->running();
}

QString MainWindow::launch(LaunchMode mode) {
    if (jobs_->running()) return "an experiment is already running";
    if (!form_->isValid()) {
        form_->revealProblems();  // a launch was tried: every problem is shown now
        const QString why = form_->shownProblems();
        launch_panel_->setMessage("Fix the fields above first.");
        return why.isEmpty() ? QString("the form is not valid") : why;
    }
    const train::ExperimentParams form = launchParams(mode);
    const std::optional<model::Design> design =
        mode == LaunchMode::phase2 ? std::optional<model::Design>(launch_panel_->phase2Design())
                                   : std::nullopt;
    train::LaunchRequest request;
    try {
        // Core decides the plan (and which stored Phase 1 a Phase 2 trains on).
        request = workspace_->resolve_launch(form, mode, design);
    } catch (const Error& e) {
        launch_panel_->setMessage(QString::fromUtf8(e.what()));
        return QString::fromUtf8(e.what());
    }
    launch_panel_->setMessage("");
    live_->setCaption("");
    QSettings settings;
    form_->save(settings);
    launch_panel_->saveDesigns(settings);
    live_->clear();
    const train::ExperimentParams& p = request.params;
    live_->setTokensPerStep(static_cast<double>(p.phase2.batch_size * *p.seq_length));
    mode_ = mode;
    launch_panel_->showBusy("Preparing data (tokenizing or reading the token cache)…");
    tabs_->setCurrentWidget(live_);
    startJob(JobController::Job::experiment, [p, mode](ExperimentWorker* w) { w->run(p, mode); });
    return {};
}

train::ExperimentParams MainWindow::launchParams(LaunchMode mode) const {
    train::ExperimentParams form = form_->params();
    if (mode != LaunchMode::phase1 && launch_panel_->ablation())
        form.ablation_untrained_context_block = true;
    // None checked: core refuses "choose at least one design".
    if (mode == LaunchMode::full_comparison) form.models = launch_panel_->checkedDesigns();
    if (form.threads == 0) form.threads = training_threads();
    return form;
}

std::optional<train::Sweep> MainWindow::sweepRequest(QString* problem) {
    try {
        train::ExperimentParams base = launchParams(LaunchMode::full_comparison);
        base.db = database_.toStdString();
        // Core parses the grid and checks every cell, naming the first that cannot run.
        return train::make_sweep(base, train::parse_grid_lines(sweeps_->gridText().toStdString()),
                                 sweeps_->sweepName().toStdString());
    } catch (const Error& e) {
        *problem = QString::fromUtf8(e.what());
        sweeps_->setMessage(*problem);
        return std::nullopt;
    }
}

QString MainWindow::launchSweep() {
    if (jobs_->running()) return "an experiment or evaluation is already running";
    QString problem;
    const std::optional<train::Sweep> sweep = sweepRequest(&problem);
    if (!sweep) return problem;
    mode_ = LaunchMode::full_comparison;
    live_->clear();
    sweeps_->setRunning(true);
    sweeps_->setMessage(QString("Sweep %1: %2 cells; the live plots show the cell that runs.")
                            .arg(QString::fromStdString(sweep->uid))
                            .arg(sweep->cells.size()));
    launch_panel_->showBusy("Sweep: preparing the first cell…");
    startJob(JobController::Job::sweep, [s = *sweep](ExperimentWorker* w) { w->runSweep(s); });
    return {};
}

QString MainWindow::writeSlurmSweep() {
    QString problem;
    const std::optional<train::Sweep> sweep = sweepRequest(&problem);
    if (!sweep) return problem;
    const std::filesystem::path folder = sweeps_->folder().isEmpty()
                                             ? train::default_sweep_folder(*sweep)
                                             : std::filesystem::path(sweeps_->folder().toStdString());
    const std::filesystem::path cli =
        std::filesystem::path(QCoreApplication::applicationDirPath().toStdString()) / "context-pythia";
    std::vector<std::string> flags;
    for (const QString& f : sweeps_->sbatchFlags().split(' ', Qt::SkipEmptyParts))
        flags.push_back(f.toStdString());
    try {
        const std::filesystem::path script = train::write_slurm_job(*sweep, folder, cli, flags);
        const QString dir = QString::fromStdString(std::filesystem::absolute(folder).string());
        sweeps_->setMessage(
            QString("Wrote %1: %2 array tasks, one per cell. Submit it with\n  sbatch %1\nand when "
                    "the tasks are done, merge their shards into this database with\n  %3 sweep "
                    "collect --sweep-dir %4 --db %5")
                .arg(QString::fromStdString(script.string()))
                .arg(sweep->cells.size())
                .arg(QString::fromStdString(cli.string()), dir, database_));
        return {};
    } catch (const Error& e) {
        sweeps_->setMessage(QString::fromUtf8(e.what()));
        return QString::fromUtf8(e.what());
    }
}

QString MainWindow::launchCacheEval() {
    if (jobs_->running()) return "an experiment or evaluation is already running";
    QString problem;
    std::optional<train::CacheEvalParams> p = cache_->request(&problem);  // core's checks
    if (!p) {
        cache_->setMessage(problem);
        return problem;
    }
    if (p->threads == 0) p->threads = training_threads();
    cache_->setRunning(true);
    startJob(JobController::Job::cache_eval,
             [params = *p](ExperimentWorker* w) { w->runCacheEval(params); });
    return {};
}

void MainWindow::stop() {
    if (!jobs_->running()) return;
    jobs_->stop();
    launch_panel_->showText("Stopping after the current step…");
}

void MainWindow::onFinished(JobController::Job job, store::RunStatus status, QString error,
                            qint64 experiment_id) {
    last_status_ = status;
    last_error_ = error;
    last_experiment_ = experiment_id;
    if (job == JobController::Job::cache_eval)
        endCacheEval(status, error);
    else
        endExperimentOrSweep(job == JobController::Job::sweep, status, error, experiment_id);
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

void MainWindow::endCacheEval(store::RunStatus status, const QString& error) {
    cache_->setRunning(false);
    cache_->setMessage(error);
    browser_->refresh();
    comparison_->refreshChoices();
    cache_->refreshResults();
    statusBar()->showMessage(QString("Cache evaluation: %1").arg(widgets::display_name(status)),
                             10000);
}

void MainWindow::endExperimentOrSweep(bool sweep, store::RunStatus status, QString error,
                                      qint64 experiment_id) {
    if (sweep) {
        sweeps_->setRunning(false);
        sweeps_->setMessage(QString("Sweep %1: %2").arg(widgets::display_name(status), error));
        sweeps_->refreshChoices();
        error.clear();  // the counts, not a failure, unless a cell failed (said in the view)
    }
    const bool finished = status == store::RunStatus::finished;
    launch_panel_->showEnd(finished, finished ? "Finished."
                                              : "Ended: " + widgets::display_name(status) + ".");
    if (!error.isEmpty()) launch_panel_->setMessage(error);
    browser_->refresh();
    comparison_->refreshChoices();
    diversity_->refreshChoices();
    // A seed group with a failed seed still compares the seeds that finished (and says which).
    if (experiment_id >= 0 && mode_ == LaunchMode::full_comparison &&
        status != store::RunStatus::stopped)
        comparison_->showExperiment(experiment_id);
    statusBar()->showMessage(
        experiment_id >= 0
            ? QString("Experiment %1: %2").arg(experiment_id).arg(widgets::display_name(status))
            : "Nothing was run: " + error,
        10000);
}

void MainWindow::showExperimentCurves(qint64 experiment_id) {
    live_->clear();
    try {
        if (const auto params = workspace_->experiment_params(experiment_id);
            params && params->seq_length)
            live_->setTokensPerStep(static_cast<double>(params->phase2.batch_size) *
                                    static_cast<double>(*params->seq_length));
        for (const store::RunRow& r : workspace_->trained_runs(experiment_id))
            live_->addStoredRun(*workspace_, r);
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
