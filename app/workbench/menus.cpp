#include "workbench/menus.h"

#include <QAction>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QTabWidget>

#include "common/build_info.h"
#include "store/run_store.h"
#include "train/experiment.h"
#include "widgets/comparison_view.h"
#include "widgets/plot_panel.h"
#include "widgets/run_browser.h"
#include "workbench/main_window.h"

namespace cp::workbench {
namespace {

// New, open, recent, import.
QMenu* add_database_actions(MainWindow& w, QMenu* file) {
    const auto pick_open = [&w](const QString& title) {
        return QFileDialog::getOpenFileName(&w, title, QFileInfo(w.database()).absolutePath(),
                                            "Workbench databases (*.db);;All files (*)");
    };
    const auto warn = [&w](const QString& title, const QString& error) {
        if (!error.isEmpty()) QMessageBox::warning(&w, title, error);
    };
    auto* new_db = file->addAction("&New database…", &w, [&w, warn] {
        const QString path = QFileDialog::getSaveFileName(
            &w, "New database", QFileInfo(w.database()).absolutePath() + "/experiments.db",
            "Workbench databases (*.db)");
        if (!path.isEmpty()) warn("New database", w.newDatabase(path));
    });
    new_db->setShortcut(QKeySequence::New);
    auto* open_db = file->addAction("&Open database…", &w, [&w, pick_open, warn] {
        const QString path = pick_open("Open database");
        if (!path.isEmpty()) warn("Open database", w.openDatabase(path));
    });
    open_db->setShortcut(QKeySequence::Open);
    QMenu* recent = file->addMenu("Open &recent");
    file->addSeparator();
    file->addAction("&Import runs from another database…", &w, [&w, pick_open] {
        const QString path = pick_open("Import runs from another database");
        if (path.isEmpty()) return;
        bool ok = false;
        const QString summary = w.importDatabase(path, &ok);
        if (ok)
            QMessageBox::information(&w, "Import", summary);
        else
            QMessageBox::warning(&w, "Import failed", summary);
    });
    return recent;
}

// The comparison's CSV, a run's metric series, an experiment's report.
void add_export_actions(MainWindow& w, QMenu* file) {
    const auto warn = [&w](const QString& title, const QString& error) {
        if (!error.isEmpty()) QMessageBox::warning(&w, title, error);
    };
    file->addAction("Export &comparison CSV…", &w, [&w] {
        w.tabs()->setCurrentWidget(w.comparisonView());
        w.comparisonView()->exportDialog();
    });
    file->addAction("Export &metric series CSV…", &w, [&w, warn] {
        qint64 run = w.runBrowser()->selectedRun();
        if (run < 0 && !w.runBrowser()->runIds().isEmpty()) run = w.runBrowser()->runIds().front();
        if (run < 0) {
            QMessageBox::information(&w, "Export metric series", "There is no run yet.");
            return;
        }
        const QString path = QFileDialog::getSaveFileName(
            &w, QString("Export the metric series of run %1").arg(run),
            QString("run%1-metrics.csv").arg(run), "CSV (*.csv)");
        if (!path.isEmpty()) warn("Export failed", w.exportMetrics(run, path));
    });
    auto* report = file->addAction("Export &report…", &w, [&w, warn] {
        const qint64 experiment = w.currentExperiment();
        if (experiment < 0) {
            QMessageBox::information(&w, "Export report", "There is no experiment to report yet.");
            return;
        }
        const QString path = QFileDialog::getSaveFileName(
            &w, QString("Export the report of experiment %1").arg(experiment),
            QString("experiment%1-report.html").arg(experiment),
            "HTML, opens in any browser (*.html);;PDF (*.pdf)");
        if (!path.isEmpty()) warn("Export failed", w.exportReport(experiment, path));
    });
    report->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
}

void add_run_view_and_help_menus(MainWindow& w, QDockWidget* dock) {
    auto* run_menu = w.menuBar()->addMenu("&Run");
    auto* full = run_menu->addAction("&Full comparison", &w,
                                     [&w] { w.launch(LaunchMode::full_comparison); });
    full->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    auto* stop_action = run_menu->addAction("&Stop", &w, &MainWindow::stop);
    stop_action->setShortcut(QKeySequence(Qt::Key_Escape));
    auto* view = w.menuBar()->addMenu("&View");
    for (int i = 0; i < w.tabs()->count(); ++i) {
        auto* a =
            view->addAction(w.tabs()->tabText(i), &w, [&w, i] { w.tabs()->setCurrentIndex(i); });
        a->setShortcut(QKeySequence(Qt::ALT | static_cast<Qt::Key>(Qt::Key_1 + i)));
    }
    view->addAction(dock->toggleViewAction());
    auto* help = w.menuBar()->addMenu("&Help");
    help->addAction("&Keyboard shortcuts", &w, [&w] {
        QMessageBox::information(&w, "Keyboard shortcuts", w.shortcutsText());
    })->setShortcut(QKeySequence::HelpContents);
    help->addAction("&About Context-Pythia Workbench", &w,
                    [&w] { QMessageBox::about(&w, "About", w.aboutText()); });
}

}  // namespace

QMenu* build_menus(MainWindow& w, QDockWidget* dock) {
    // The File menu of a desktop program: databases, import, exports, report; standard keys.
    auto* file = w.menuBar()->addMenu("&File");
    QMenu* recent = add_database_actions(w, file);
    file->addSeparator();
    add_export_actions(w, file);
    file->addSeparator();
    auto* refresh = file->addAction("Re&fresh runs", w.runBrowser(), &widgets::RunBrowser::refresh);
    refresh->setShortcut(QKeySequence::Refresh);
    auto* quit = file->addAction("&Quit", &w, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    add_run_view_and_help_menus(w, dock);
    return recent;
}

QString about_text(const QString& database) {
    return QString("<h3>Context-Pythia Workbench %1</h3>"
                   "<p>commit %2</p>"
                   "<p>What Context-Pythia's halved KV cache costs against Pythia, and against the "
                   "other ways to save the same memory: trained side by side on real text, "
                   "measured from the tensors each cache stores.</p>"
                   "<p><b>Libraries</b><br>Qt %3<br>libtorch %4<br>SQLite %5<br>QCustomPlot %6</p>"
                   "<p><b>Device</b><br>%8</p><p><b>Database</b><br>%9</p>")
        .arg(workbench_version(), workbench_commit(), qVersion(),
             QString::fromStdString(train::libtorch_version()),
             QString::fromStdString(store::sqlite_version()), widgets::qcustomplot_version(),
             QString::fromStdString(device_description(train::choose_device(train::DeviceChoice::automatic))),
             database.toHtmlEscaped());
}

QString shortcuts_text() {
    return "Ctrl+N   new database\nCtrl+O   open database\nCtrl+E   export the report\n"
           "Ctrl+Q   quit\nF5       refresh runs\nCtrl+Enter   launch a full comparison\n"
           "Esc      stop after the current step\nAlt+1…6  live plots, runs, comparison, "
           "context diversity, cache compression, sweeps\nF1       this list";
}

}  // namespace cp::workbench
