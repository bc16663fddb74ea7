// One QCustomPlot with what a researcher expects of a live plot: named series added point by
// point, redrawn on a timer (never per point), exponential smoothing, log-y, zoom and pan with
// the mouse, a hover read-out of the nearest point, and export as PNG, PDF or SVG.
#pragma once

#include <QColor>
#include <QHash>
#include <QString>

#include <QVector>
#include <QWidget>
#include "model/design.h"

class QCustomPlot;
class QCPGraph;
class QLabel;
class QTimer;

namespace cp::widgets {

struct SeriesStyle {
    QColor color;
    bool dashed = false;   // reference lines and validation curves
    bool markers = false;  // sparse points (per epoch, per measured length)
};

class PlotPanel : public QWidget {
    Q_OBJECT
  public:
    PlotPanel(const QString& title, const QString& x_label, const QString& y_label,
              QWidget* parent = nullptr);

    // A series is created on first use, in `style` (ignored once the series exists).
    void addPoint(const QString& series, double x, double y, const SeriesStyle& style);
    void setSeries(const QString& series, const QVector<double>& x, const QVector<double>& y,
                   const SeriesStyle& style);
    // A shaded band between low and high (a mean ± 1 sd over seeds), drawn under the series of
    // the same colour, which names it in the legend.
    void setBand(const QString& name, const QVector<double>& x, const QVector<double>& low,
                 const QVector<double>& high, const QColor& color);
    int bandCount() const { return bands_; }
    // The legend's entries in this many columns (1: one per line), for wide, short plots.
    void setLegendColumns(int columns);
    void clear();
    int pointCount(const QString& series) const;
    QStringList seriesNames() const;

    // The axes as the caller set them stay (no rescale on redraw) until the user presses Fit:
    // for plots drawn on plot() directly with ranges of their own (the Pareto view's margins).
    void holdView() { auto_range_ = false; }
    // Whether the legend may show: it shows only when it has entries (an empty plot shows none).
    void setLegendWanted(bool wanted);
    // Draws now what is pending (screenshots wait for this, not for a timer).
    void settle();
    void setSmoothing(double factor);  // 0: raw; up to 0.99: heavy EMA
    void setLogY(bool on);
    // Writes the plot as .png, .pdf or .svg (by extension); returns an error message or "".
    QString exportTo(const QString& path);
    QCustomPlot* plot() const { return plot_; }

  public slots:
    void replotIfChanged();
    void exportDialog();
    void resetView();

  private:
    struct Series {
        QCPGraph* graph = nullptr;
        QVector<double> x, y;
    };
    Series& series(const QString& name, const SeriesStyle& style);
    void rebuild(Series& s);
    void redraw(int priority);  // a QCustomPlot::RefreshPriority
    void showReadout(double px, double py);

    QCustomPlot* plot_;
    QLabel* readout_;
    QTimer* timer_;
    QHash<QString, Series> series_;
    QStringList order_;
    double smoothing_ = 0;
    bool dirty_ = false, auto_range_ = true, legend_wanted_ = true;
    int bands_ = 0;
};

// The QCustomPlot the workbench was built with ("2.1.1"), for the About box and the stamp.
QString qcustomplot_version();

// Distinct, colour-blind-safe colours (Okabe-Ito), by index.
QColor series_color(int index);
QColor model_color(cp::model::Design model);  // Context-Pythia and Pythia keep their colours

}  // namespace cp::widgets
