#include "widgets/sweep_view.h"
#include "widgets/narrow_combo.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <map>

#include "common/error.h"
#include "report/csv.h"
#include "report/exports.h"
#include "store/run_store.h"
#include "workspace/workspace.h"
#include "widgets/plot_panel.h"
#include "widgets/point_labels.h"
#include "widgets/table_models.h"

namespace cp::widgets {

QWidget* SweepView::buildNewSweep() {
    auto* box = new QGroupBox("New sweep over the experiment form's parameters", this);
    box->setObjectName("newSweep");
    auto* row = new QHBoxLayout(box);
    grid_ = new QPlainTextEdit(box);
    grid_->setObjectName("sweepGrid");
    grid_->setPlaceholderText("one parameter and its values per line, e.g.\ncontext_dim=32,64\n"
                              "lr=3e-3,1e-2\nmodels=pythia,context-pythia;pythia,pythia-256");
    grid_->setTabChangesFocus(true);
    grid_->setFixedHeight(fontMetrics().lineSpacing() * 5);
    row->addWidget(grid_, 3);
    auto* fields = new QFormLayout;
    name_ = new QLineEdit(box);
    name_->setObjectName("sweepName");
    name_->setPlaceholderText("sweep <uid>");
    folder_ = new QLineEdit(box);
    folder_->setObjectName("sweepFolder");
    folder_->setPlaceholderText("<data>/sweeps/<uid>");
    sbatch_ = new QLineEdit(box);
    sbatch_->setObjectName("sbatchFlags");
    sbatch_->setPlaceholderText("--time=01:00:00 --partition=cpu");
    fields->addRow("Name", name_);
    fields->addRow("Folder (Slurm)", folder_);
    fields->addRow("#SBATCH flags", sbatch_);
    row->addLayout(fields, 2);
    auto* buttons = new QVBoxLayout;
    run_here_ = new QPushButton("Run here", box);
    run_here_->setObjectName("sweepRunHere");
    run_here_->setToolTip("Run the unfinished cells one after another on this machine; "
                          "running it again skips the finished ones");
    stop_ = new QPushButton("Stop", box);
    stop_->setObjectName("sweepStop");
    stop_->setEnabled(false);
    write_slurm_ = new QPushButton("Write Slurm job", box);
    write_slurm_->setObjectName("sweepWriteSlurm");
    write_slurm_->setToolTip("Write the manifest and a job-array script (one task per cell) "
                             "into the folder, to submit with sbatch");
    buttons->addWidget(run_here_);
    buttons->addWidget(stop_);
    buttons->addWidget(write_slurm_);
    buttons->addStretch(1);
    row->addLayout(buttons);
    connect(run_here_, &QPushButton::clicked, this, &SweepView::runHereRequested);
    connect(stop_, &QPushButton::clicked, this, &SweepView::stopRequested);
    connect(write_slurm_, &QPushButton::clicked, this, &SweepView::slurmRequested);
    return box;
}

QString SweepView::gridText() const {
    return grid_->toPlainText();
}
QString SweepView::sweepName() const {
    return name_->text().trimmed();
}
QString SweepView::folder() const {
    return folder_->text().trimmed();
}
QString SweepView::sbatchFlags() const {
    return sbatch_->text().trimmed();
}

void SweepView::setRunning(bool running) {
    run_here_->setEnabled(!running);
    write_slurm_->setEnabled(!running);
    stop_->setEnabled(running);
}

void SweepView::setMessage(const QString& text) {
    request_note_->setText(text);
}

SweepView::SweepView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(buildNewSweep());
    request_note_ = new QLabel(this);
    request_note_->setObjectName("sweepRequestNote");
    request_note_->setWordWrap(true);
    request_note_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(request_note_);
    auto* top = new QHBoxLayout;
    sweep_ = new QComboBox(this);
    sweep_->setObjectName("sweepChoice");
    make_narrow(sweep_, 24);
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
    // Tuning on validation only: each design's selected cell, its test numbers alone.
    selection_table_ = new QTableView(split);
    selection_table_->setObjectName("sweepSelection");
    selection_table_->setToolTip(
        "Per design, the cell with the lowest best validation perplexity, and only that run's "
        "test numbers: no test number chooses a value (sweep select --select-on val)");
    selection_model_ = new TextTableModel(this);
    selection_table_->setModel(selection_model_);
    selection_table_->verticalHeader()->setVisible(false);
    selection_table_->setAlternatingRowColors(true);
    plot_ = new PlotPanel("The sweep on the Pareto plane", "KV cache (bytes/token, measured)",
                          "test perplexity", split);
    split->addWidget(table_);
    split->addWidget(selection_table_);
    split->addWidget(plot_);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 1);
    split->setStretchFactor(2, 3);  // the plane gets the room
    // The groups' legend in a row under the axes, where it cannot cover a point.
    QCustomPlot* qcp = plot_->plot();
    auto* legend_row = new QCPLayoutGrid;
    const int row = qcp->plotLayout()->rowCount();  // under the title and the axes
    qcp->plotLayout()->addElement(row, 0, legend_row);
    legend_row->addElement(0, 0, qcp->legend);
    legend_row->setMargins(QMargins(48, 0, 12, 6));
    qcp->plotLayout()->setRowStretchFactor(row, 0.001);
    plot_->setLegendColumns(8);
    labels_ = new PointLabels(qcp);
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

void SweepView::setWorkspace(workspace::Workspace* workspace) {
    workspace_ = workspace;
    refreshChoices();
}

void SweepView::refreshChoices() {
    const QVariant chosen = sweep_->currentData();
    sweep_->clear();
    if (!workspace_ || !workspace_->exists()) {
        note_->setText("No sweeps yet: write a grid above and press Run here, or run "
                       "'context-pythia sweep --grid KEY=V1,V2 --local' (or --slurm, then 'sweep collect').");
        return;
    }
    try {
        for (const report::SweepListing& s : workspace_->sweeps())
            sweep_->addItem(QString("%1 — %2 cells (%3)")
                                .arg(QString::fromStdString(s.name))
                                .arg(s.cells)
                                .arg(QString::fromStdString(s.uid.substr(0, 8))),
                            QString::fromStdString(s.uid));
    } catch (const Error& e) {
        note_->setText(e.what());
    }
    if (sweep_->count() == 0) {
        note_->setText("No sweeps in this database yet: write a grid above and press Run here, or "
                       "run 'context-pythia sweep --grid KEY=V1,V2 --local' (or --slurm, then "
                       "'sweep collect').");
        return;
    }
    const int keep = sweep_->findData(chosen);
    sweep_->setCurrentIndex(keep >= 0 ? keep : sweep_->count() - 1);
    showSweep(sweep_->currentData().toString());
}

QString SweepView::showSweep(const QString& uid) {
    try {
        if (!workspace_) throw Error("no database is open");
        summary_ = workspace_->sweep_summary(uid.toStdString());
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
    try {
        selection_model_->setCells(
            report::selection_table_cells(report::select_on_validation(*summary_)));
        selection_table_->setVisible(true);
        selection_table_->resizeColumnsToContents();
    } catch (const Error&) {  // nothing varies, or nothing has a validation perplexity
        selection_model_->setCells({});
        selection_table_->setVisible(false);
    }
    note_->setText(QString("Sweep %1: %2 rows (cell × design); the varying parameters are columns; "
                           "points grouped by the chosen parameter.")
                       .arg(QString::fromStdString(summary_->uid))
                       .arg(summary_->rows.size()));
    redraw();
    return {};
}

void SweepView::redraw() {
    labels_->forget();  // their items go with the plot's
    plot_->clear();
    if (!summary_) return;
    const std::string key = group_->currentData().toString().toStdString();
    std::map<std::string, int> colours;
    QCustomPlot* plot = plot_->plot();
    // Points at the same place (the same design trained alike in two cells) share one label.
    struct Label {
        double x, y;
        QString design;
        QStringList cells;
        QColor colour;
        std::string group;
    };
    std::vector<Label> labels;
    double x_low = 1e300, x_high = -1e300, y_low = 1e300, y_high = -1e300;
    for (const report::SweepRow& r : summary_->rows) {
        if (!r.kv_bytes_per_token || !r.test_ppl) continue;
        const double x = *r.kv_bytes_per_token, y = *r.test_ppl;
        x_low = std::min(x_low, x);
        x_high = std::max(x_high, x);
        y_low = std::min(y_low, y);
        y_high = std::max(y_high, y);
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
        graph->addData(x, y);
        const QString design = QString::fromUtf8(model::design_key(r.design));
        auto same = std::find_if(labels.begin(), labels.end(), [&](const Label& l) {
            return l.x == x && l.y == y && l.design == design;
        });
        if (same == labels.end()) {
            labels.push_back({x, y, design, {QString::number(r.cell)}, c, group});
        } else {
            same->cells << QString::number(r.cell);
            if (same->group != group) same->colour = QColor(90, 90, 90);  // the point of several groups
        }
    }
    plot->xAxis->setLabel(QString("KV cache at %1 tokens (bytes/token, measured)").arg(summary_->kv_length));
    plot_->settle();
    if (x_low > x_high) return;
    // Room around the points for their labels.
    const double xr = std::max(x_high - x_low, 0.2 * std::max(1.0, x_high));
    const double yr = std::max(y_high - y_low, 0.1 * std::max(1.0, y_high));
    plot->xAxis->setRange(std::max(0.0, x_low - 0.15 * xr), x_high + 0.45 * xr);
    plot->yAxis->setRange(y_low - 0.1 * yr, y_high + 0.15 * yr);
    for (const Label& l : labels)
        labels_->add(l.x, l.y,
                     l.design + (l.cells.size() > 1 ? " · cells " : " · cell ") + l.cells.join(", "),
                     l.colour);
    plot->yAxis->setRangeUpper(std::max(plot->yAxis->range().upper, labels_->headroom()));
    plot_->holdView();
    plot->replot();
}

QString SweepView::exportCsv(const QString& path) const {
    if (!summary_) return "choose a sweep first";
    try {
        if (!workspace_) throw Error("no database is open");
        workspace_->export_sweep_csv(summary_->uid, path.toStdString());
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace cp::widgets
