#include "widgets/comparison_view.h"
#include "widgets/narrow_combo.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"
#include "report/csv.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "workspace/workspace.h"
#include "widgets/pareto_plot.h"
#include "widgets/position_plot.h"
#include "widgets/plot_panel.h"
#include "widgets/table_models.h"

namespace cp::widgets {

ComparisonView::ComparisonView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buildChoices());
    verdict_ = new QLabel(this);
    verdict_->setObjectName("verdict");
    verdict_->setWordWrap(true);
    verdict_->setStyleSheet(
        "background: #fff4e5; color: #8a3b00; border: 1px solid #f0b070; padding: 6px;");
    verdict_->setVisible(false);
    layout->addWidget(verdict_);
    heading_ = new QLabel(this);
    heading_->setWordWrap(true);
    heading_->setObjectName("comparisonHeading");
    layout->addWidget(heading_);
    layout->addWidget(buildTables(), 1);
    differences_ = new QLabel(this);
    differences_->setWordWrap(true);
    layout->addWidget(differences_);
}

// What to compare (an experiment's designs, relative to a column; or two runs), Compare, Export.
QHBoxLayout* ComparisonView::buildChoices() {
    auto* top = new QHBoxLayout;
    mode_ = new QComboBox(this);
    mode_->addItem("An experiment's designs");
    mode_->addItem("Any two runs");
    experiment_ = new QComboBox(this);
    experiment_->setObjectName("compareExperiment");
    run_a_ = new QComboBox(this);
    run_b_ = new QComboBox(this);
    reference_ = new QComboBox(this);
    reference_->setObjectName("compareReference");
    reference_->setToolTip(
        "The column the ratios and paired differences are to (the KV check stays against Pythia)");
    // Long experiment names must not widen the window beyond 1280 px.
    for (QComboBox* c : {experiment_, run_a_, run_b_}) make_narrow(c, 14);
    make_narrow(mode_, 22);
    make_narrow(reference_, 12);
    reference_label_ = new QLabel("relative to", this);
    auto* compare = new QPushButton("Compare", this);
    auto* export_button = new QPushButton("Export CSV…", this);
    export_button->setObjectName("exportCsv");
    auto* label_a = new QLabel("A", this);
    auto* label_b = new QLabel("B", this);
    for (QWidget* w : std::initializer_list<QWidget*>{mode_, experiment_, label_a, run_a_, label_b,
                                                       run_b_, reference_label_, reference_,
                                                       compare, export_button})
        top->addWidget(w, w == experiment_ || w == run_a_ || w == run_b_ ? 1 : 0);
    const auto update_mode = [this, label_a, label_b] {
        const bool runs = mode_->currentIndex() == 1;
        experiment_->setVisible(!runs);
        for (QWidget* w : std::initializer_list<QWidget*>{run_a_, run_b_, label_a, label_b})
            w->setVisible(runs);
        reference_->setVisible(!runs);
        reference_label_->setVisible(!runs);
    };
    update_mode();
    connect(mode_, qOverload<int>(&QComboBox::currentIndexChanged), this, update_mode);
    connect(compare, &QPushButton::clicked, this, &ComparisonView::compareChosen);
    connect(experiment_, qOverload<int>(&QComboBox::activated), this,
            &ComparisonView::compareChosen);
    connect(reference_, qOverload<int>(&QComboBox::activated), this,
            &ComparisonView::compareChosen);
    connect(export_button, &QPushButton::clicked, this, &ComparisonView::exportDialog);
    return top;
}

// The table above; below it the Pareto plane, the curves, the loss by position, the paired
// differences and the KV check.
QWidget* ComparisonView::buildTables() {
    split_ = new QSplitter(Qt::Vertical, this);
    const auto make_table = [this](const char* name) {
        auto* t = new QTableView(this);
        t->setObjectName(name);
        t->verticalHeader()->setVisible(false);
        t->setEditTriggers(QAbstractItemView::NoEditTriggers);
        t->setAlternatingRowColors(true);
        return t;
    };
    table_ = make_table("comparisonTable");
    model_ = new ComparisonTableModel(this);
    design_model_ = new TextTableModel(this);
    difference_model_ = new TextTableModel(this);
    kv_model_ = new TextTableModel(this);
    table_->setModel(model_);
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    difference_table_ = make_table("differenceTable");
    difference_table_->setModel(difference_model_);
    kv_table_ = make_table("kvCheckTable");
    kv_table_->setModel(kv_model_);
    details_ = new QTabWidget(this);
    details_->setObjectName("comparisonDetails");
    pareto_ = new ParetoPlot(this);
    curves_ = new PlotPanel("Loss of each design", "step", "loss (nats/token)", this);
    details_->addTab(pareto_, "Pareto: KV cache against quality");
    details_->addTab(curves_, "Loss curves");
    positions_ = make_position_plot(this);
    details_->addTab(positions_, "Loss by position");
    details_->addTab(difference_table_, "Paired differences to Pythia");
    details_->addTab(kv_table_, "KV cache: claim, formula, measurement");
    split_->addWidget(table_);
    split_->addWidget(details_);
    split_->setStretchFactor(0, 1);
    split_->setStretchFactor(1, 1);
    return split_;
}

void ComparisonView::setWorkspace(workspace::Workspace* workspace) {
    workspace_ = workspace;
    refreshChoices();
}

void ComparisonView::refreshChoices() {
    const QVariant chosen = experiment_->currentData();
    experiment_->clear();
    run_a_->clear();
    run_b_->clear();
    if (!workspace_) return;
    try {
        const auto experiments = workspace_->experiments();
        for (auto it = experiments.rbegin(); it != experiments.rend(); ++it)
            experiment_->addItem(
                QString("%1 — %2").arg(it->id).arg(QString::fromStdString(it->name)),
                static_cast<qlonglong>(it->id));
        for (const store::RunRow& r : workspace_->runs()) {
            const QString label = QString("run %1: %2 %3 (%4)")
                                      .arg(r.id)
                                      .arg(QString::fromUtf8(model::design_key(r.model)))
                                      .arg(QString::fromUtf8(store::phase_key(r.phase)))
                                      .arg(QString::fromUtf8(store::status_display_name(r.status)));
            run_a_->addItem(label, static_cast<qlonglong>(r.id));
            run_b_->addItem(label, static_cast<qlonglong>(r.id));
        }
    } catch (const Error& e) {
        heading_->setText(QString("Cannot read the database: ") + e.what());
    }
    if (const int i = experiment_->findData(chosen); i >= 0) experiment_->setCurrentIndex(i);
}

void ComparisonView::compareChosen() {
    const QString error =
        mode_->currentIndex() == 0
            ? showExperiment(experiment_->currentData().toLongLong())
            : showRuns(run_a_->currentData().toLongLong(), run_b_->currentData().toLongLong());
    if (!error.isEmpty())
        heading_->setText("<span style='color:#b00020'>" + error.toHtmlEscaped() + "</span>");
}

QString ComparisonView::showExperiment(qint64 id) {
    if (!workspace_) return "no database is open";
    try {
        // The chosen reference holds for the experiment it was chosen on; another starts at Pythia.
        const std::string reference = shown_experiment_ == id && reference_->currentIndex() >= 0
                                          ? reference_->currentData().toString().toStdString()
                                          : "";
        const report::DesignComparison c = workspace_->compare_designs(id, false, reference);
        shown_experiment_ = id;
        reference_->clear();
        for (const report::DesignColumn& col : c.columns)
            reference_->addItem(QString::fromStdString(col.heading()),
                                QString::fromStdString(col.key()));
        if (c.reference) reference_->setCurrentIndex(static_cast<int>(*c.reference));
        showDesigns(c);
        if (const int i = experiment_->findData(static_cast<qlonglong>(id)); i >= 0)
            experiment_->setCurrentIndex(i);
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

QString ComparisonView::showRuns(qint64 a, qint64 b) {
    if (!workspace_) return "no database is open";
    try {
        show(workspace_->compare_runs(a, b));
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

void ComparisonView::showVerdict(const std::vector<std::string>& not_learned,
                                 const std::vector<std::string>& barely_learned) {
    // The banner and the first reasons; every reason in the tooltip (a group has one per seed).
    // A model that learned nothing outweighs one that learned little: the milder label shows
    // only when every model beat the unigram.
    const bool nothing = !not_learned.empty();
    const std::vector<std::string>& reasons = nothing ? not_learned : barely_learned;
    constexpr std::size_t shown = 2;
    QString text = QString("<b>%1</b>").arg(
        QString::fromUtf8(nothing ? report::kNotLearned : report::kBarelyLearned));
    for (std::size_t i = 0; i < std::min(shown, reasons.size()); ++i)
        text += "<br>" + QString::fromStdString(reasons[i]).toHtmlEscaped();
    if (reasons.size() > shown)
        text += QString("<br>… and %1 more (hover for all). ").arg(reasons.size() - shown);
    text += "<br>Train longer (more samples or epochs) or at the size preset's learning rate.";
    verdict_->setText(text);
    verdict_->setToolTip(QString::fromStdString(
        nothing ? report::verdict_text(not_learned) : report::barely_learned_text(barely_learned)));
    verdict_->setVisible(!reasons.empty());
}

void ComparisonView::showDesigns(const report::DesignComparison& c) {
    comparison_.reset();
    designs_ = c;
    showVerdict(c.not_learned, c.barely_learned);
    QStringList columns;
    for (const report::DesignColumn& col : c.columns) {
        QString runs;
        for (std::int64_t r : col.runs) runs += (runs.isEmpty() ? "" : ", ") + QString::number(r);
        columns << QString("<b>%1</b> (run%2 %3)")
                       .arg(QString::fromStdString(col.heading()).toHtmlEscaped(),
                            col.runs.size() == 1 ? "" : "s", runs);
    }
    heading_->setText(
        QString("%1 — %2%3")
            .arg(QString::fromStdString(c.group_uid.empty() ? "One experiment"
                                                            : "Seed group " + c.group_uid.substr(0, 8))
                     .toHtmlEscaped(),
                 QString::fromStdString(c.seeds_text()).toHtmlEscaped(),
                 c.reference ? QString::fromStdString("; ×" + c.reference_heading() +
                                                      ": each value over " +
                                                      c.reference_heading() + "'s")
                             : QString("; no Pythia run: no ratios")) +
        (c.n() > 1 ? "; mean ± sd over the seeds [95% t-interval]" : "") + "<br>" +
        (columns.size() <= 6 ? columns.join(" · ")
                             : columns.mid(0, 5).join(" · ") +
                                   QString(" · … %1 more columns (hover for every run)")
                                       .arg(columns.size() - 5)));
    heading_->setToolTip(columns.join("<br>"));
    design_model_->setCells(report::design_table_cells(c));  // core's cells, as the CLI prints
    table_->setModel(design_model_);
    table_->resizeColumnsToContents();
    // Long measure names are elided (the whole name is the cell's tooltip) so that the design
    // columns fit a 1280-pixel window.
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Interactive);
    table_->setColumnWidth(0, std::min(table_->columnWidth(0), 250));
    difference_model_->setCells(report::difference_table_cells(c));
    difference_table_->resizeColumnsToContents();
    kv_model_->setCells(report::kv_check_cells(c));
    kv_table_->resizeColumnsToContents();
    details_->setTabEnabled(0, true);
    details_->setTabEnabled(2, true);
    details_->setTabEnabled(3, !report::difference_table_cells(c).empty());
    details_->setTabText(3, QString::fromStdString("Paired differences to " +
                                                   (c.reference ? c.reference_heading() : "Pythia")));
    details_->setTabEnabled(4, !c.kv_checks.empty());
    bool flagged = false;
    for (const report::KvCheck& k : c.kv_checks) flagged = flagged || k.disagrees();
    details_->setTabText(4, flagged ? "KV cache: MEASURED ≠ FORMULA" :
                                      "KV cache: claim, formula, measurement");
    QString same = c.n() > 1 ? "Every seed trained every design on the same chunks."
                             : "Every design trained on the same chunks with the same seed.";
    for (const report::Effect& e : report::context_pythia_effects(c))
        same += "<br>Effect of " + QString::fromStdString(report::effect_text(e)).toHtmlEscaped();
    differences_->setText(same);
    pareto_->setComparison(c);
    drawDesignCurves(c);
    try {
        position_series_ = workspace_->loss_by_position(c);
    } catch (const Error&) {
        position_series_.clear();
    }
    draw_loss_by_position(*positions_, position_series_);
}

void ComparisonView::drawDesignCurves(const report::DesignComparison& c) {
    // Each design's loss: over a group its mean line with a ±1 sd band, else the run's curve.
    curves_->clear();
    curves_->setLegendColumns(2);
    try {
        for (const report::DesignColumn& col : c.columns) {
            const QColor color = model_color(col.design);
            const QString who = QString::fromStdString(col.heading());
            for (const char* name : {names::train_loss, names::val_loss}) {
                const report::MeanCurve m = workspace_->mean_curve(col.runs, name);
                if (m.step.empty()) continue;
                const bool validation = std::string(name) == names::val_loss;
                QVector<double> x(m.step.begin(), m.step.end()), y(m.mean.begin(), m.mean.end());
                QString series = who + (validation ? " validation" : " training");
                if (m.runs > 1) {
                    QVector<double> low, high;
                    for (std::size_t i = 0; i < m.mean.size(); ++i) {
                        low.push_back(m.mean[i] - m.sd[i]);
                        high.push_back(m.mean[i] + m.sd[i]);
                    }
                    series += QString(" (mean ± 1 sd of %1)").arg(m.runs);
                    curves_->setBand(series, x, low, high, color);
                }
                curves_->setSeries(series, x, y, {color, validation, validation});
            }
        }
    } catch (const Error&) {
        // The table stands on its own; curves are a bonus.
    }
    curves_->resetView();
}

void ComparisonView::show(const report::Comparison& c) {
    designs_.reset();
    comparison_ = c;
    showVerdict(c.not_learned);
    table_->setModel(model_);
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    pareto_->clear();
    difference_model_->setCells({});
    kv_model_->setCells({});
    // Two runs: no Pareto plane, positions, paired differences or KV check; the loss curves.
    for (int tab : {0, 2, 3, 4}) details_->setTabEnabled(tab, false);
    details_->setCurrentWidget(curves_);
    curves_->setLegendColumns(1);
    heading_->setText(QString("<b>A</b> = %1 &nbsp;&nbsp; <b>B</b> = %2")
                          .arg(QString::fromStdString(c.a.label()).toHtmlEscaped(),
                               QString::fromStdString(c.b.label()).toHtmlEscaped()));
    model_->setComparison(c);  // core's table, adapted
    table_->resizeColumnsToContents();
    QStringList diffs;
    for (const std::string& d : c.parameter_differences) diffs << QString::fromStdString(d);
    differences_->setText(diffs.isEmpty() ? "Both runs were trained with the same parameters."
                                          : "Parameters that differ (A vs B): " + diffs.join("; "));
    // Both runs' loss curves, overlaid.
    curves_->clear();
    try {
        int color = 0;
        for (const report::ComparisonSide* side : {&c.a, &c.b}) {
            const QString who =
                QString("%1 %2").arg(side == &c.a ? "A" : "B",
                                     QString::fromUtf8(model::design_display_name(side->model)));
            for (const char* name : {names::train_loss, names::val_loss}) {
                QVector<double> x, y;
                for (const store::MetricPoint& p : workspace_->metrics(side->run_id, name)) {
                    x.push_back(static_cast<double>(p.step));
                    y.push_back(p.value);
                }
                if (x.isEmpty()) continue;
                const bool validation = std::string(name) == names::val_loss;
                curves_->setSeries(who + (validation ? " validation" : " training"), x, y,
                                   {series_color(color), validation, validation});
            }
            ++color;
        }
    } catch (const Error&) {
        // The table stands on its own; curves are a bonus.
    }
    curves_->resetView();
}

QString ComparisonView::exportCsv(const QString& path) const {
    if (!comparison_ && !designs_) return "nothing to export: compare an experiment or two runs first";
    try {
        report::CsvFile file(path.toStdString());
        if (designs_)
            report::write_design_csv(*designs_, file.stream());
        else
            report::write_comparison_csv(*comparison_, file.stream());
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

void ComparisonView::exportDialog() {
    if (!comparison_ && !designs_) {
        QMessageBox::information(this, "Export CSV", "Compare an experiment or two runs first.");
        return;
    }
    const QString suggested =
        designs_ ? (designs_->group_uid.empty()
                        ? QString("comparison-experiment%1.csv").arg(designs_->members.front().experiment_id)
                        : QString("comparison-seed-group-%1.csv")
                              .arg(QString::fromStdString(designs_->group_uid.substr(0, 8))))
               : QString("comparison-run%1-run%2.csv")
                     .arg(comparison_->a.run_id)
                     .arg(comparison_->b.run_id);
    const QString path =
        QFileDialog::getSaveFileName(this, "Export comparison as CSV", suggested, "CSV (*.csv)");
    if (path.isEmpty()) return;
    const QString error = exportCsv(path);
    if (!error.isEmpty()) QMessageBox::warning(this, "Export failed", error);
}

}  // namespace cp::widgets
