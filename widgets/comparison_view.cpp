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

    heading_ = new QLabel(this);
    heading_->setWordWrap(true);
    layout->addWidget(heading_);
    auto* split = new QSplitter(Qt::Horizontal, this);
    table_ = new QTableView(split);
    model_ = new ComparisonTableModel(this);
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

void ComparisonView::show(const report::Comparison& c) {
    comparison_ = c;
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
    if (!comparison_) return "nothing to export: compare an experiment or two runs first";
    try {
        report::CsvFile file(path.toStdString());
        report::write_comparison_csv(*comparison_, file.stream());
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

void ComparisonView::exportDialog() {
    if (!comparison_) {
        QMessageBox::information(this, "Export CSV", "Compare an experiment or two runs first.");
        return;
    }
    const QString path = QFileDialog::getSaveFileName(
        this, "Export comparison as CSV",
        QString("comparison-run%1-run%2.csv").arg(comparison_->a.run_id).arg(comparison_->b.run_id),
        "CSV (*.csv)");
    if (path.isEmpty()) return;
    const QString error = exportCsv(path);
    if (!error.isEmpty()) QMessageBox::warning(this, "Export failed", error);
}

}  // namespace cp::widgets
