#include "widgets/plot_panel.h"

#include "model/model_registry.h"

#include <qcustomplot.h>

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QSvgGenerator>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

namespace cp::widgets {

QString qcustomplot_version() {
    return QCUSTOMPLOT_VERSION_STR;
}

QColor series_color(int index) {
    static const QColor colors[] = {
        QColor(0, 114, 178), QColor(213, 94, 0),   QColor(0, 158, 115),   QColor(204, 121, 167),
        QColor(230, 159, 0), QColor(86, 180, 233), QColor(120, 120, 120), QColor(240, 228, 66)};
    return colors[index % 8];
}

QColor model_color(cp::model::Design model) {
    // Context-Pythia blue and Pythia orange as always; each comparator a colour of its own.
    switch (model) {
        case cp::model::Design::context_pythia:
            return series_color(0);
        case cp::model::Design::pythia:
            return series_color(1);
        case cp::model::Design::pythia_256:
            return series_color(2);
        case cp::model::Design::projection_256:
            return series_color(3);
        case cp::model::Design::pythia_gqa:
            return series_color(4);
        case cp::model::Design::pythia_mla:
            return series_color(5);
        case cp::model::Design::context_kv:
            return QColor(117, 112, 179);
        case cp::model::Design::context_pythia_untrained:
            return series_color(6);
        case cp::model::Design::pythia_input_cache:  // Pythia's orange, lighter: its exact twin
            return series_color(1).lighter(140);
        // Below half: the family's colour, darker the smaller the cache.
        case cp::model::Design::pythia_128:
        case cp::model::Design::context_pythia_128:
        case cp::model::Design::projection_128:
        case cp::model::Design::pythia_gqa_2:
        case cp::model::Design::pythia_mla_240:
            return model_color(cp::model::design_family(model)).darker(140);
        case cp::model::Design::projection_64:
        case cp::model::Design::context_pythia_64:
        case cp::model::Design::pythia_gqa_1:
        case cp::model::Design::pythia_mla_112:
            return model_color(cp::model::design_family(model)).darker(200);
    }
    return series_color(6);
}

PlotPanel::PlotPanel(const QString& title, const QString& x_label, const QString& y_label,
                     QWidget* parent)
    : QWidget(parent),
      plot_(new QCustomPlot(this)),
      readout_(new QLabel(this)),
      timer_(new QTimer(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* header = new QHBoxLayout;
    readout_->setObjectName("readout");
    readout_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    readout_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    header->addWidget(readout_, 1);
    header->addStretch();
    auto* reset = new QToolButton(this);
    reset->setText("Fit");
    reset->setToolTip("Fit the axes to the data again (after zooming or panning)");
    connect(reset, &QToolButton::clicked, this, &PlotPanel::resetView);
    header->addWidget(reset);
    auto* save = new QToolButton(this);
    save->setText("Export…");
    save->setToolTip("Save this plot as PNG, PDF or SVG");
    connect(save, &QToolButton::clicked, this, &PlotPanel::exportDialog);
    header->addWidget(save);
    layout->addLayout(header);
    layout->addWidget(plot_, 1);

    plot_->setMinimumHeight(160);
    // The title is drawn inside the plot, so exported images carry it too.
    plot_->plotLayout()->insertRow(0);
    QFont title_font = font();
    title_font.setBold(true);
    plot_->plotLayout()->addElement(0, 0, new QCPTextElement(plot_, title, title_font));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->xAxis->setLabel(x_label);
    plot_->yAxis->setLabel(y_label);
    plot_->legend->setVisible(false);  // until it has entries
    plot_->legend->setFont(QFont(font().family(), 8));
    plot_->legend->setBrush(QColor(255, 255, 255, 200));
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    // Once the user zooms or pans, new points no longer rescale the view until "Fit".
    connect(plot_, &QCustomPlot::mouseWheel, this, [this] { auto_range_ = false; });
    connect(plot_, &QCustomPlot::mousePress, this, [this] { auto_range_ = false; });
    connect(plot_, &QCustomPlot::mouseMove, this,
            [this](QMouseEvent* e) { showReadout(e->position().x(), e->position().y()); });
    timer_->setInterval(250);  // redraws are batched: training may emit hundreds of points/s
    connect(timer_, &QTimer::timeout, this, &PlotPanel::replotIfChanged);
    timer_->start();
}

PlotPanel::Series& PlotPanel::series(const QString& name, const SeriesStyle& style) {
    auto it = series_.find(name);
    if (it != series_.end()) return *it;
    Series s;
    s.graph = plot_->addGraph();
    s.graph->setName(name);
    QPen pen(style.color, style.dashed ? 1.4 : 1.8);
    if (style.dashed) pen.setStyle(Qt::DashLine);
    s.graph->setPen(pen);
    if (style.markers) s.graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    order_.push_back(name);
    return *series_.insert(name, s);
}

void PlotPanel::addPoint(const QString& name, double x, double y, const SeriesStyle& style) {
    if (!std::isfinite(y)) return;
    Series& s = series(name, style);
    s.x.push_back(x);
    s.y.push_back(y);
    dirty_ = true;
}

void PlotPanel::setSeries(const QString& name, const QVector<double>& x, const QVector<double>& y,
                          const SeriesStyle& style) {
    Series& s = series(name, style);
    s.x = x;
    s.y = y;
    dirty_ = true;
}

void PlotPanel::setBand(const QString& name, const QVector<double>& x, const QVector<double>& low,
                        const QVector<double>& high, const QColor& color) {
    QCPGraph* lower = plot_->addGraph();
    lower->setPen(Qt::NoPen);
    lower->setData(x, low, true);
    lower->removeFromLegend();
    QCPGraph* upper = plot_->addGraph();
    upper->setPen(Qt::NoPen);
    QColor fill = color;
    fill.setAlpha(55);
    upper->setBrush(fill);
    upper->setChannelFillGraph(lower);
    upper->setData(x, high, true);
    upper->setName(name);
    upper->removeFromLegend();  // the mean line's legend entry names the band
    ++bands_;
    dirty_ = true;
}

void PlotPanel::setLegendColumns(int columns) {
    if (columns > 1) {  // fill each row across, `columns` entries wide
        plot_->legend->setFillOrder(QCPLegend::foColumnsFirst);
        plot_->legend->setWrap(columns);
    } else {  // QCustomPlot's default: one entry per line
        plot_->legend->setFillOrder(QCPLegend::foRowsFirst);
        plot_->legend->setWrap(0);
    }
    dirty_ = true;
}

void PlotPanel::clear() {
    // Every plottable, not only graphs: bars (the diversity histogram) would otherwise stack up
    // a series and a legend entry per redraw.
    plot_->clearPlottables();
    plot_->clearItems();  // labels drawn beside points
    series_.clear();
    order_.clear();
    bands_ = 0;
    readout_->clear();
    auto_range_ = true;
    dirty_ = true;
    plot_->legend->setVisible(false);
}

int PlotPanel::pointCount(const QString& name) const {
    const auto it = series_.find(name);
    return it == series_.end() ? 0 : static_cast<int>(it->x.size());
}

QStringList PlotPanel::seriesNames() const {
    return order_;
}

void PlotPanel::setSmoothing(double factor) {
    smoothing_ = std::clamp(factor, 0.0, 0.99);
    dirty_ = true;
}

void PlotPanel::setLogY(bool on) {
    plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (on)
        plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    dirty_ = true;
}

void PlotPanel::rebuild(Series& s) {
    // Smoothing is a display choice: the stored points stay raw.
    QVector<double> y = s.y;
    if (smoothing_ > 0 && !y.isEmpty()) {
        double ema = y[0];
        for (auto& v : y) {
            ema = smoothing_ * ema + (1 - smoothing_) * v;
            v = ema;
        }
    }
    s.graph->setData(s.x, y, true);
}

void PlotPanel::setLegendWanted(bool wanted) {
    legend_wanted_ = wanted;
    plot_->legend->setVisible(legend_wanted_ && plot_->legend->itemCount() > 0);
    dirty_ = true;
}

void PlotPanel::settle() {
    redraw(QCustomPlot::rpImmediateRefresh);
}

void PlotPanel::replotIfChanged() {
    if (!dirty_ || !isVisible()) return;
    redraw(QCustomPlot::rpQueuedReplot);
}

void PlotPanel::redraw(int priority) {
    dirty_ = false;
    plot_->legend->setVisible(legend_wanted_ && plot_->legend->itemCount() > 0);
    for (auto& s : series_) rebuild(s);
    if (auto_range_) {
        plot_->rescaleAxes();
        // A little headroom so the curve does not touch the frame.
        const QCPRange r = plot_->yAxis->range();
        if (plot_->yAxis->scaleType() == QCPAxis::stLinear && r.size() > 0)
            plot_->yAxis->setRange(r.lower - 0.05 * r.size(), r.upper + 0.05 * r.size());
    }
    plot_->replot(static_cast<QCustomPlot::RefreshPriority>(priority));
}

void PlotPanel::resetView() {
    auto_range_ = true;
    dirty_ = true;
    replotIfChanged();
}

void PlotPanel::showReadout(double px, double py) {
    double best = std::numeric_limits<double>::max();
    QString text;
    for (const QString& name : order_) {
        const Series& s = series_[name];
        const auto points = s.graph->data();
        for (auto it = points->constBegin(); it != points->constEnd(); ++it) {
            const double dx = s.graph->keyAxis()->coordToPixel(it->key) - px;
            const double dy = s.graph->valueAxis()->coordToPixel(it->value) - py;
            const double d = dx * dx + dy * dy;
            if (d < best) {
                best = d;
                text = QString("%1: x = %2, y = %3")
                           .arg(name)
                           .arg(it->key, 0, 'g', 6)
                           .arg(it->value, 0, 'g', 6);
            }
        }
    }
    readout_->setText(best < 400 ? text : QString());  // within 20 px of a point
}

QString PlotPanel::exportTo(const QString& path) {
    settle();
    const int w = std::max(plot_->width(), 800), h = std::max(plot_->height(), 450);
    bool ok = false;
    if (path.endsWith(".png", Qt::CaseInsensitive)) {
        ok = plot_->savePng(path, w, h, 2.0);
    } else if (path.endsWith(".pdf", Qt::CaseInsensitive)) {
        ok = plot_->savePdf(path, w, h);
    } else if (path.endsWith(".svg", Qt::CaseInsensitive)) {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        QCPPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            plot_->toPainter(&painter, w, h);
            painter.end();
        }
    } else {
        return "choose a file name ending in .png, .pdf or .svg";
    }
    return ok ? QString() : "could not write '" + path + "' (is the folder writable?)";
}

void PlotPanel::exportDialog() {
    const QString path = QFileDialog::getSaveFileName(
        this, "Export plot", "plot.png", "PNG image (*.png);;PDF document (*.pdf);;SVG (*.svg)");
    if (path.isEmpty()) return;
    const QString error = exportTo(path);
    if (!error.isEmpty()) readout_->setText("Export failed: " + error);
}

}  // namespace cp::widgets
