#include "widgets/comparison_view.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/error.h"
#include "report/csv.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "widgets/plot_panel.h"
#include "widgets/table_models.h"

namespace cp::widgets {

ComparisonView::ComparisonView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    mode_ = new QComboBox(this);
    mode_->addItem("An experiment's two models");
    mode_->addItem("Any two runs");
    experiment_ = new QComboBox(this);
    experiment_->setObjectName("compareExperiment");
    run_a_ = new QComboBox(this);
    run_b_ = new QComboBox(this);
    for (QComboBox* c : {mode_, experiment_, run_a_, run_b_}) {
        // Long experiment names must not widen the window beyond 1280 px.
        c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        c->setMinimumContentsLength(14);
    }
    auto* compare = new QPushButton("Compare", this);
    auto* export_button = new QPushButton("Export CSV…", this);
    export_button->setObjectName("exportCsv");
    top->addWidget(mode_);
    top->addWidget(experiment_, 1);
    top->addWidget(new QLabel("A", this));
    top->addWidget(run_a_, 1);
    top->addWidget(new QLabel("B", this));
    top->addWidget(run_b_, 1);
    top->addWidget(compare);
    top->addWidget(export_button);
    layout->addLayout(top);
    const auto update_mode = [this] {
        const bool runs = mode_->currentIndex() == 1;
        experiment_->setVisible(!runs);
        run_a_->setVisible(runs);
        run_b_->setVisible(runs);
    };
    update_mode();
    connect(mode_, qOverload<int>(&QComboBox::currentIndexChanged), this, update_mode);

    verdict_ = new QLabel(this);
    verdict_->setObjectName("verdict");
    verdict_->setWordWrap(true);
    verdict_->setStyleSheet(
        "background: #fff4e5; color: #8a3b00; border: 1px solid #f0b070; padding: 6px;");
    verdict_->setVisible(false);
    layout->addWidget(verdict_);
    heading_ = new QLabel(this);
    heading_->setWordWrap(true);
    layout->addWidget(heading_);
    split_ = new QSplitter(Qt::Horizontal, this);
    QSplitter* split = split_;
    table_ = new QTableView(split);
    model_ = new ComparisonTableModel(this);
    group_model_ = new TextTableModel(this);
    table_->setModel(model_);
    table_->setObjectName("comparisonTable");
    table_->verticalHeader()->setVisible(false);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setAlternatingRowColors(true);
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    curves_ = new PlotPanel("Loss of both runs", "step", "loss (nats/token)", split);
    split->addWidget(table_);
    split->addWidget(curves_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);
    differences_ = new QLabel(this);
    differences_->setWordWrap(true);
    layout->addWidget(differences_);

    connect(compare, &QPushButton::clicked, this, &ComparisonView::compareChosen);
    connect(experiment_, qOverload<int>(&QComboBox::activated), this,
            &ComparisonView::compareChosen);
    connect(export_button, &QPushButton::clicked, this, &ComparisonView::exportDialog);
}

void ComparisonView::setDatabase(const QString& path) {
    database_ = path;
    refreshChoices();
}

void ComparisonView::refreshChoices() {
    const QVariant chosen = experiment_->currentData();
    experiment_->clear();
    run_a_->clear();
    run_b_->clear();
    if (database_.isEmpty() || !QFileInfo::exists(database_)) return;
    try {
        store::RunStore store(database_.toStdString());
        const auto experiments = store.experiments();
        for (auto it = experiments.rbegin(); it != experiments.rend(); ++it)
            experiment_->addItem(
                QString("%1 — %2").arg(it->id).arg(QString::fromStdString(it->name)),
                static_cast<qlonglong>(it->id));
        for (const store::RunRow& r : store.runs()) {
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
    try {
        store::RunStore store(database_.toStdString());
        if (const auto group = report::seed_group_of(store, id))
            showGroup(report::compare_group(store, *group));
        else
            show(report::compare_experiment(store, id));
        if (const int i = experiment_->findData(static_cast<qlonglong>(id)); i >= 0)
            experiment_->setCurrentIndex(i);
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

QString ComparisonView::showRuns(qint64 a, qint64 b) {
    try {
        store::RunStore store(database_.toStdString());
        show(report::compare_runs(store, a, b));
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

void ComparisonView::showVerdict(const std::vector<std::string>& not_learned) {
    // The banner and the first reasons; every reason in the tooltip (a group has one per seed).
    constexpr std::size_t shown = 2;
    QString text = QString("<b>%1</b>").arg(QString::fromUtf8(report::kNotLearned));
    for (std::size_t i = 0; i < std::min(shown, not_learned.size()); ++i)
        text += "<br>" + QString::fromStdString(not_learned[i]).toHtmlEscaped();
    if (not_learned.size() > shown)
        text += QString("<br>… and %1 more (hover for all). ").arg(not_learned.size() - shown);
    text += "<br>Train longer (more samples or epochs) or at the size preset's learning rate.";
    verdict_->setText(text);
    verdict_->setToolTip(QString::fromStdString(report::verdict_text(not_learned)));
    verdict_->setVisible(!not_learned.empty());
}

void ComparisonView::showGroup(const report::GroupComparison& g) {
    comparison_.reset();
    group_ = g;
    showVerdict(g.not_learned);
    heading_->setText(
        QString("<b>A</b> = %1 &nbsp;&nbsp; <b>B</b> = %2 &nbsp;&nbsp; %3 — mean ± sd over the "
                "seeds, 95% t-intervals; A − B from the per-seed paired differences")
            .arg(QString::fromUtf8(model::design_display_name(g.a.model)),
                 QString::fromUtf8(model::design_display_name(g.b.model)),
                 QString::fromStdString(g.seeds_text()).toHtmlEscaped()));
    group_model_->setCells(report::group_table_cells(g));  // core's cells, as the CLI prints
    table_->setModel(group_model_);
    split_->setOrientation(Qt::Vertical);  // the interval cells want the width; curves go below
    split_->setSizes({3 * split_->height() / 5, 2 * split_->height() / 5});
    curves_->setLegendColumns(2);
    table_->resizeColumnsToContents();
    // Long measure names are elided (the whole name is the cell's tooltip) so that the three
    // interval columns fit a 1280-pixel window.
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Interactive);
    table_->setColumnWidth(0, std::min(table_->columnWidth(0), 250));
    differences_->setText("Every seed trained both designs on the same chunks.");
    // Each design's loss over the seeds: the mean line and a ±1 sd band.
    curves_->clear();
    try {
        store::RunStore store(database_.toStdString());
        int color = 0;
        for (const auto* runs : {&g.a_runs, &g.b_runs}) {
            const model::Design design = runs == &g.a_runs ? g.a.model : g.b.model;
            const QString who = QString("%1 %2").arg(runs == &g.a_runs ? "A" : "B",
                                                     model::design_display_name(design));
            for (const char* name : {names::train_loss, names::val_loss}) {
                const report::MeanCurve m = report::mean_curve(store, *runs, name);
                if (m.step.empty()) continue;
                const bool validation = std::string(name) == names::val_loss;
                QVector<double> x(m.step.begin(), m.step.end()), y(m.mean.begin(), m.mean.end());
                QVector<double> low, high;
                for (std::size_t i = 0; i < m.mean.size(); ++i) {
                    low.push_back(m.mean[i] - m.sd[i]);
                    high.push_back(m.mean[i] + m.sd[i]);
                }
                const QString series = who + (validation ? " validation" : " training") +
                                       QString(" (mean ± 1 sd of %1)").arg(m.runs);
                curves_->setBand(series, x, low, high, series_color(color));
                curves_->setSeries(series, x, y, {series_color(color), validation, validation});
            }
            ++color;
        }
    } catch (const Error&) {
        // The table stands on its own; curves are a bonus.
    }
    curves_->resetView();
}

void ComparisonView::show(const report::Comparison& c) {
    group_.reset();
    comparison_ = c;
    showVerdict(c.not_learned);
    table_->setModel(model_);
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    split_->setOrientation(Qt::Horizontal);
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
        store::RunStore store(database_.toStdString());
        int color = 0;
        for (const report::ComparisonSide* side : {&c.a, &c.b}) {
            const QString who =
                QString("%1 %2").arg(side == &c.a ? "A" : "B",
                                     QString::fromUtf8(model::design_display_name(side->model)));
            for (const char* name : {names::train_loss, names::val_loss}) {
                QVector<double> x, y;
                for (const store::MetricPoint& p : store.metrics(side->run_id, name)) {
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
    if (!comparison_ && !group_) return "nothing to export: compare an experiment or two runs first";
    try {
        report::CsvFile file(path.toStdString());
        if (group_)
            report::write_group_csv(*group_, file.stream());
        else
            report::write_comparison_csv(*comparison_, file.stream());
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

void ComparisonView::exportDialog() {
    if (!comparison_ && !group_) {
        QMessageBox::information(this, "Export CSV", "Compare an experiment or two runs first.");
        return;
    }
    const QString suggested =
        group_ ? QString("comparison-seed-group-%1.csv")
                     .arg(QString::fromStdString(group_->group_uid.substr(0, 8)))
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
