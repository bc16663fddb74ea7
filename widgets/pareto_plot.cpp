#include "widgets/pareto_plot.h"
#include "widgets/narrow_combo.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

#include "common/error.h"
#include "report/csv.h"
#include "widgets/plot_panel.h"
#include "widgets/point_labels.h"

namespace cp::widgets {
namespace {

QCPScatterStyle::ScatterShape marker_shape(const std::string& policy) {
    if (policy.empty()) return QCPScatterStyle::ssCircle;
    const std::string kind = policy.substr(0, policy.find(':'));
    if (kind == "int8" || kind == "int4") return QCPScatterStyle::ssSquare;
    if (kind == "lowrank") return QCPScatterStyle::ssDiamond;
    if (kind == "full") return QCPScatterStyle::ssCrossSquare;
    return QCPScatterStyle::ssTriangle;  // streaming, h2o, snapkv
}

}  // namespace

ParetoPlot::ParetoPlot(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    measure_ = new QComboBox(this);
    measure_->setObjectName("paretoMeasure");
    for (const report::ParetoMeasure& m : report::pareto_measures())
        measure_->addItem(m.label, QString(m.key));
    length_ = new QComboBox(this);
    length_->setObjectName("paretoLength");
    // Long measure names must not push the view past a 1280-wide window: the list shows them.
    make_narrow(measure_, 12);
    make_narrow(length_, 9);
    auto* csv = new QPushButton("Export data CSV…", this);
    csv->setObjectName("paretoCsv");
    top->addWidget(new QLabel("y:", this));
    top->addWidget(measure_, 1);
    top->addWidget(new QLabel("x: KV bytes/token at", this));
    top->addWidget(length_);
    top->addWidget(csv);
    layout->addLayout(top);
    note_ = new QLabel(this);
    note_->setWordWrap(true);
    layout->addWidget(note_);
    panel_ = new PlotPanel("KV cache against quality: the Pareto front",
                           "KV cache (bytes/token, measured)", "test perplexity", this);
    layout->addWidget(panel_, 1);
    labels_ = new PointLabels(panel_->plot());
    connect(measure_, qOverload<int>(&QComboBox::currentIndexChanged), this, &ParetoPlot::redraw);
    connect(length_, qOverload<int>(&QComboBox::currentIndexChanged), this, &ParetoPlot::redraw);
    connect(csv, &QPushButton::clicked, this, &ParetoPlot::exportCsvDialog);
}

void ParetoPlot::setComparison(const report::DesignComparison& c) {
    comparison_ = c;
    const QVariant chosen = length_->currentData();
    const QSignalBlocker block(length_);
    length_->clear();
    // By default each quality beside the bytes of the tokens it was scored on.
    length_->addItem("where the quality was scored", qlonglong(0));
    for (std::int64_t l : c.kv_lengths)
        length_->addItem(QString("at %1 tokens").arg(l), qlonglong(l));
    const int keep = length_->findData(chosen);
    length_->setCurrentIndex(keep >= 0 ? keep : 0);
    redraw();
}

void ParetoPlot::clear() {
    comparison_.reset();
    view_.reset();
    labels_->forget();
    panel_->clear();
    panel_->plot()->replot();
}

namespace {

// What the points span, error bars included: the axes' ranges.
struct Bounds {
    double x_low = std::numeric_limits<double>::max(), x_high = -x_low;
    double y_low = x_low, y_high = -x_low;
    void add(double x, double y_lo, double y_hi) {
        x_low = std::min(x_low, x);
        x_high = std::max(x_high, x);
        y_low = std::min(y_low, y_lo);
        y_high = std::max(y_high, y_hi);
    }
};

// One graph per point: its colour, its legend entry, its error bar; returns its colour.
QColor add_point(QCustomPlot* plot, const report::ParetoPoint& p, Bounds& bounds) {
    QCPGraph* g = plot->addGraph();
    g->setName(QString::fromStdString(p.label) + (p.on_front ? "  (on the front)" : "") +
               (p.greyed.empty() ? "" : "  (not scored here)"));
    // Greyed: its quality was scored at another length, so these bytes are not its cost.
    const QColor color = p.greyed.empty() ? model_color(p.design) : QColor(185, 185, 185);
    g->setPen(QPen(color, 1.5));
    g->setLineStyle(QCPGraph::lsNone);
    // The shape says what kind of point it is; filled: on the front.
    const QCPScatterStyle::ScatterShape shape = marker_shape(p.policy);
    g->setScatterStyle(QCPScatterStyle(shape, color, p.on_front ? color : QColor(Qt::white), 10));
    g->setData(QVector<double>{p.x}, QVector<double>{p.y});
    double lo = p.y, hi = p.y;
    if (p.y_interval) {
        auto* bars = new QCPErrorBars(plot->xAxis, plot->yAxis);
        bars->setDataPlottable(g);
        bars->setPen(QPen(color, 1.3));
        bars->setData(QVector<double>{p.y - p.y_interval->low},
                      QVector<double>{p.y_interval->high - p.y});
        bars->removeFromLegend();
        lo = p.y_interval->low;
        hi = p.y_interval->high;
    }
    bounds.add(p.x, lo, hi);
    return color;
}

// Each design family (a design, its quarter and eighth) and each policy at several budgets: a
// thin line through its points, left to right; then the front as a staircase through its points.
void add_lines(QCustomPlot* plot, const report::ParetoView& v) {
    for (const auto& curve : v.curves()) {
        QVector<double> cx, cy;
        for (std::size_t i : curve) {
            cx.push_back(v.points[i].x);
            cy.push_back(v.points[i].y);
        }
        QCPGraph* line = plot->addGraph();
        QColor color = model_color(v.points[curve.front()].design);
        color.setAlpha(150);
        line->setPen(QPen(color, 1.2));
        line->setLineStyle(QCPGraph::lsLine);
        line->setData(cx, cy, true);
        line->removeFromLegend();
    }
    QVector<double> fx, fy;
    for (std::size_t i : v.front()) {
        fx.push_back(v.points[i].x);
        fy.push_back(v.points[i].y);
    }
    if (fx.size() > 1) {
        QCPGraph* front = plot->addGraph();
        front->setName("Pareto front");
        front->setPen(QPen(QColor(60, 60, 60), 1.2, Qt::DashLine));
        front->setLineStyle(QCPGraph::lsStepLeft);
        front->setData(fx, fy, true);
    }
}

}  // namespace

void ParetoPlot::redraw() {
    labels_->forget();  // their items go with the plot's
    panel_->clear();
    view_.reset();
    QCustomPlot* plot = panel_->plot();
    if (!comparison_ || length_->count() == 0) {
        note_->setText("");
        plot->replot();
        return;
    }
    try {
        view_ = report::pareto_view(*comparison_, measure_->currentData().toString().toStdString(),
                                    length_->currentData().toLongLong());
    } catch (const Error& e) {
        note_->setText(e.what());
        plot->replot();
        return;
    }
    const report::ParetoView& v = *view_;
    plot->yAxis->setLabel(QString::fromStdString(v.y_label));
    plot->xAxis->setLabel(QString::fromStdString(v.x_label));
    Bounds b;
    for (const report::ParetoPoint& p : v.points)
        labels_->add(p.x, p.y, QString::fromStdString(p.label), add_point(plot, p, b));
    add_lines(plot, v);
    const double xr = std::max(b.x_high - b.x_low, 0.1 * std::max(1.0, b.x_high));
    const double yr = std::max(b.y_high - b.y_low, 0.1 * std::max(1e-3, std::fabs(b.y_high)));
    plot->xAxis->setRange(std::max(0.0, b.x_low - 0.15 * xr), b.x_high + 0.35 * xr);
    plot->yAxis->setRange(b.y_low - 0.12 * yr, b.y_high + 0.18 * yr);
    plot->yAxis->setRangeUpper(std::max(plot->yAxis->range().upper, labels_->headroom()));
    panel_->holdView();
    // Every point is labelled; a legend of many entries would only cover the points.
    panel_->setLegendWanted(v.points.size() <= 6);
    note_->setText(describe(v));
    plot->replot();
}

QString ParetoPlot::describe(const report::ParetoView& v) const {
    QString greyed;
    for (const report::ParetoPoint& p : v.points)
        if (!p.greyed.empty())
            greyed += QString(" Grey: %1 — %2.")
                          .arg(QString::fromStdString(p.label), QString::fromStdString(p.greyed));
    return QString("%1 points; %2. Filled: on the Pareto front (nothing else has a smaller "
                   "cache and a better %3). ● trained design, ■ quantized, ◆ low rank, ▲ "
                   "evicting, ✚ full cache.%4%5")
        .arg(v.points.size())
        .arg(QString::fromStdString(comparison_->seeds_text()))
        .arg(QString::fromStdString(v.y_label))
        .arg(comparison_->n() > 1 ? " Error bars: 95% t-intervals over the seeds." : "")
        .arg(greyed);
}

QString ParetoPlot::exportCsv(const QString& path) const {
    if (!view_) return "nothing to export: compare an experiment first";
    try {
        report::CsvFile file(path.toStdString());
        report::write_pareto_csv(*view_, file.stream());
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

void ParetoPlot::exportCsvDialog() {
    const QString path = QFileDialog::getSaveFileName(this, "Export the Pareto data as CSV",
                                                      "pareto.csv", "CSV (*.csv)");
    if (path.isEmpty()) return;
    if (const QString error = exportCsv(path); !error.isEmpty())
        QMessageBox::warning(this, "Export failed", error);
}

}  // namespace cp::widgets
