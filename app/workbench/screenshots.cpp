#include "workbench/screenshots.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QGroupBox>
#include <QMessageBox>
#include <QScrollArea>
#include <QTabWidget>

#include "common/error.h"
#include "report/design_comparison.h"
#include "store/run_store.h"
#include "widgets/cache_view.h"
#include "widgets/comparison_view.h"
#include "widgets/diversity_view.h"
#include "widgets/live_view.h"
#include "widgets/pareto_plot.h"
#include "widgets/parameter_form.h"
#include "widgets/plot_panel.h"
#include "widgets/run_browser.h"
#include "widgets/sweep_view.h"
#include "workbench/main_window.h"
#include "workspace/workspace.h"

namespace cp::workbench {
namespace {

// What the pictures show, chosen by core from the store; -1 where there is nothing.
struct Showcase {
    qint64 experiment = -1, diversity_run = -1, compressed_run = -1;
    QString samples, seq_length, epochs;
    QString init_from;  // the experiment's pretrained checkpoint, when it had one
};

Showcase choose(workspace::Workspace& workspace) {
    Showcase s;
    try {
        s.experiment = workspace.showcase_experiment().value_or(-1);
        s.diversity_run = workspace.latest_diversity_run().value_or(-1);
        s.compressed_run = workspace.latest_compressed_run().value_or(-1);
        if (s.experiment < 0) return s;
        const auto params = workspace.experiment_params(s.experiment);
        if (!params) return s;
        s.samples = QString::number(params->samples.value_or(0));
        s.seq_length = QString::number(params->seq_length.value_or(0));
        s.epochs = QString::number(params->epochs.value_or(0));
        s.init_from = QString::fromStdString(params->init_from);
    } catch (const Error&) {
    }
    return s;
}

class Camera {
  public:
    Camera(MainWindow& w, const QString& dir) : w_(w), dir_(dir) { QDir().mkpath(dir); }
    // Each picture waits until its plots have drawn what they hold (PlotPanel::settle), however
    // loaded the machine: no fixed sleeps.
    void shoot(QWidget* tab, const QString& name) {
        w_.tabs()->setCurrentWidget(tab);
        QApplication::processEvents();  // layout of the newly shown tab
        for (widgets::PlotPanel* plot : tab->findChildren<widgets::PlotPanel*>())
            if (plot->isVisible()) plot->settle();
        QApplication::processEvents();
        save(w_.grab(), name);
    }
    void save(const QPixmap& picture, const QString& name) {
        const QString path = QDir(dir_).filePath(name);
        if (picture.save(path)) files_ << path;
    }
    const QStringList& files() const { return files_; }

  private:
    MainWindow& w_;
    QString dir_;
    QStringList files_;
};

// Shows the plane by the measure `key` while `f` runs, when the measure is among its choices.
template <typename F>
void with_measure(widgets::ParetoPlot* plot, const char* key, F f) {
    QComboBox* y = plot->measureChoice();
    if (y->findData(key) < 0) return;
    const int before = y->currentIndex();
    y->setCurrentIndex(y->findData(key));
    f();
    y->setCurrentIndex(before);
}

void shoot_comparison(Camera& camera, widgets::ComparisonView* view, qint64 experiment) {
    if (experiment >= 0) view->showExperiment(experiment);
    view->details()->setCurrentIndex(1);  // the loss curves under the table
    camera.shoot(view, "comparison.png");
    view->details()->setCurrentIndex(0);  // the Pareto view
    camera.shoot(view, "comparison-pareto.png");
    // With cache policies among the columns, the plane by their KL to the full cache as well.
    bool any_kl = false;
    if (view->designs() && view->pareto()->measureChoice()->findData("kl_to_full") >= 0)
        for (const auto& cell : view->designs()->row("kl_to_full").cells)
            any_kl = any_kl || cell.estimate.has_value();
    if (any_kl)
        with_measure(view->pareto(), "kl_to_full",
                     [&] { camera.shoot(view, "comparison-pareto-kl.png"); });
    view->details()->setCurrentIndex(2);  // the loss at each position
    camera.shoot(view, "comparison-loss-by-position.png");
    if (view->details()->isTabEnabled(3)) {  // the paired differences, seeds and documents
        view->details()->setCurrentIndex(3);
        camera.shoot(view, "comparison-differences.png");
    }
}

// One run's policies, by their KL to the full cache when they were measured against it.
void shoot_cache(Camera& camera, widgets::CacheView* view, qint64 compressed_run) {
    view->refreshChoices();
    if (compressed_run >= 0) view->showRun(compressed_run);
    QComboBox* y = view->pareto()->measureChoice();
    if (y->findData("kl_to_full") >= 0) {
        const int before = y->currentIndex();
        y->setCurrentIndex(y->findData("kl_to_full"));
        if (!view->pareto()->view() || view->pareto()->view()->points.empty())
            y->setCurrentIndex(before);  // nothing measured against the full cache here
    }
    camera.shoot(view, "cache-compression.png");
}

// The form with the experiment's pretrained checkpoint chosen: what the file is, below it.
void shoot_start_from_checkpoint(Camera& camera, MainWindow& w, const QString& init_from) {
    widgets::ParameterForm* form = w.form();
    if (auto* advanced = form->findChild<QGroupBox*>("advanced")) advanced->setChecked(true);
    form->setValue("init_from", init_from);
    QApplication::processEvents();
    if (auto* about = form->findChild<QWidget*>("initFromAbout"))
        for (QWidget* p = about->parentWidget(); p; p = p->parentWidget())
            if (auto* scroll = qobject_cast<QScrollArea*>(p)) {
                scroll->ensureWidgetVisible(about, 0, 80);
                break;
            }
    camera.shoot(w.liveView(), "start-from-checkpoint.png");
}

// The About box, as a user opens it from Help.
void shoot_about(Camera& camera, MainWindow& w) {
    QMessageBox about(QMessageBox::Information, "About", w.aboutText(), QMessageBox::Ok, &w);
    about.show();
    QApplication::processEvents();
    camera.save(about.grab(), "about.png");
    about.close();
}

}  // namespace

QStringList save_screenshots(MainWindow& w, const QString& dir) {
    Camera camera(w, dir);
    const Showcase s = choose(w.workspace());
    if (s.experiment >= 0) {
        w.form()->setRequired(s.samples, s.seq_length, s.epochs);
        w.showExperimentCurves(s.experiment);
    }
    camera.shoot(w.liveView(), "live-plots.png");
    w.runBrowser()->refresh();
    camera.shoot(w.runBrowser(), "run-browser.png");
    shoot_comparison(camera, w.comparisonView(), s.experiment);
    if (s.diversity_run >= 0) w.diversityView()->showRun(s.diversity_run);
    camera.shoot(w.diversityView(), "context-diversity.png");
    shoot_cache(camera, w.cacheView(), s.compressed_run);
    w.sweepView()->refreshChoices();
    camera.shoot(w.sweepView(), "sweeps.png");
    if (!s.init_from.isEmpty()) shoot_start_from_checkpoint(camera, w, s.init_from);
    shoot_about(camera, w);
    return camera.files();
}

}  // namespace cp::workbench
