#include "widgets/sweep_view.h"

#include <qcustomplot.h>

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
#include <map>

#include "common/error.h"
#include "report/csv.h"
#include "report/exports.h"
#include "store/run_store.h"
#include "widgets/plot_panel.h"
#include "widgets/table_models.h"

namespace cp::widgets {

SweepView::SweepView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    sweep_ = new QComboBox(this);
    sweep_->setObjectName("sweepChoice");
    sweep_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    sweep_->setMinimumContentsLength(24);
    group_ = new QComboBox(this);
    group_->setObjectName("sweepGroup");
    auto* csv = new QPushButton("Export CSV…", this);
    top->addWidget(new QLabel("Sweep", this));
    top->addWidget(sweep_, 2);
    top->addWidget(new QLabel("group by", this));
    top->addWidget(group_, 1);
    top->addWidget(csv);
    layout->addLayout(top);
    note_ = new QLabel(this);
    note_->setWordWrap(true);
    layout->addWidget(note_);
    auto* split = new QSplitter(Qt::Vertical, this);
    table_ = new QTableView(split);
    table_->setObjectName("sweepTable");
    model_ = new TextTableModel(this);
    table_->setModel(model_);
    table_->verticalHeader()->setVisible(false);
    table_->setSortingEnabled(false);
    table_->setAlternatingRowColors(true);
    plot_ = new PlotPanel("The sweep on the Pareto plane", "KV cache (bytes/token, measured)",
                          "test perplexity", split);
    split->addWidget(table_);
    split->addWidget(plot_);
    layout->addWidget(split, 1);
    connect(sweep_, qOverload<int>(&QComboBox::activated), this,
            [this] { showSweep(sweep_->currentData().toString()); });
    connect(group_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { redraw(); });
    connect(csv, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, "Export the sweep as CSV",
                                                          "sweep.csv", "CSV (*.csv)");
        if (path.isEmpty()) return;
        if (const QString e = exportCsv(path); !e.isEmpty()) QMessageBox::warning(this, "Export failed", e);
    });
}

void SweepView::setDatabase(const QString& path) {
    database_ = path;
    refreshChoices();
}

void SweepView::refreshChoices() {
    const QVariant chosen = sweep_->currentData();
    sweep_->clear();
    if (database_.isEmpty() || !QFileInfo::exists(database_)) {
        note_->setText("No sweeps yet: run one with 'context-pythia sweep --grid KEY=V1,V2 --local' "
                       "(or --slurm, then 'sweep collect').");
        return;
    }
    try {
        store::RunStore store(database_.toStdString());
        for (const report::SweepListing& s : report::list_sweeps(store))
            sweep_->addItem(QString("%1 — %2 cells (%3)")
                                .arg(QString::fromStdString(s.name))
                                .arg(s.cells)
                                .arg(QString::fromStdString(s.uid.substr(0, 8))),
                            QString::fromStdString(s.uid));
    } catch (const Error& e) {
        note_->setText(e.what());
    }
    if (sweep_->count() == 0) {
        note_->setText("No sweeps in this database yet: run one with 'context-pythia sweep --grid "
                       "KEY=V1,V2 --local' (or --slurm, then 'sweep collect').");
        return;
    }
    const int keep = sweep_->findData(chosen);
    sweep_->setCurrentIndex(keep >= 0 ? keep : sweep_->count() - 1);
    showSweep(sweep_->currentData().toString());
}

QString SweepView::showSweep(const QString& uid) {
    try {
        store::RunStore store(database_.toStdString());
        summary_ = report::sweep_summary(store, uid.toStdString());
    } catch (const Error& e) {
        summary_.reset();
        note_->setText(e.what());
        return e.what();
    }
    const QSignalBlocker block(group_);
    group_->clear();
    group_->addItem("design", "");
    for (const std::string& k : summary_->varying)
        group_->addItem(QString::fromStdString(k), QString::fromStdString(k));
    if (!summary_->varying.empty()) group_->setCurrentIndex(1);
    model_->setCells(report::sweep_table_cells(*summary_));
    table_->resizeColumnsToContents();
    note_->setText(QString("Sweep %1: %2 rows (cell × design); the varying parameters are columns; "
                           "points grouped by the chosen parameter.")
                       .arg(QString::fromStdString(summary_->uid))
                       .arg(summary_->rows.size()));
    redraw();
    return {};
}

void SweepView::redraw() {
    plot_->clear();
    if (!summary_) return;
    const std::string key = group_->currentData().toString().toStdString();
    std::map<std::string, int> colours;
    QCustomPlot* plot = plot_->plot();
    double x_low = 1e300, x_high = -1e300, y_low = 1e300, y_high = -1e300;
    for (const report::SweepRow& r : summary_->rows) {
        if (!r.kv_bytes_per_token || !r.test_ppl) continue;
        x_low = std::min(x_low, *r.kv_bytes_per_token);
        x_high = std::max(x_high, *r.kv_bytes_per_token);
        y_low = std::min(y_low, *r.test_ppl);
        y_high = std::max(y_high, *r.test_ppl);
        const std::string group = key.empty() ? model::design_key(r.design) : key + "=" + r.values.at(key);
        if (!colours.count(group)) colours[group] = static_cast<int>(colours.size());
        const QColor c = series_color(colours[group]);
        // One graph per group (its legend entry), points added to it.
        QCPGraph* graph = nullptr;
        for (int g = 0; g < plot->graphCount(); ++g)
            if (plot->graph(g)->name() == QString::fromStdString(group)) graph = plot->graph(g);
        if (!graph) {
            graph = plot->addGraph();
            graph->setName(QString::fromStdString(group));
            graph->setLineStyle(QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, c, 8));
        }
        graph->addData(*r.kv_bytes_per_token, *r.test_ppl);
        auto* label = new QCPItemText(plot);
        label->position->setCoords(*r.kv_bytes_per_token, *r.test_ppl);
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        label->setPadding(QMargins(5, 0, 0, 3));
        label->setText(QString::fromUtf8(model::design_key(r.design)) + " · cell " + QString::number(r.cell));
        label->setColor(c.darker(130));
    }
    plot->xAxis->setLabel(QString("KV cache at %1 tokens (bytes/token, measured)").arg(summary_->kv_length));
    plot_->settle();
    if (x_low <= x_high) {
        // Room around the points for their labels.
        const double xr = std::max(x_high - x_low, 0.2 * std::max(1.0, x_high));
        const double yr = std::max(y_high - y_low, 0.1 * std::max(1.0, y_high));
        plot->xAxis->setRange(std::max(0.0, x_low - 0.15 * xr), x_high + 0.35 * xr);
        plot->yAxis->setRange(y_low - 0.1 * yr, y_high + 0.15 * yr);
        plot_->holdView();
        plot->replot();
    }
}

QString SweepView::exportCsv(const QString& path) const {
    if (!summary_) return "choose a sweep first";
    try {
        store::RunStore store(database_.toStdString());
        report::CsvFile file(path.toStdString());
        report::write_sweep_summary_csv(store, file.stream(), summary_->uid);
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace cp::widgets
