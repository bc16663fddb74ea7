// Labels beside the points of a scatter plot that do not print over each other or over a marker
// (core's report::place_labels), with a thin leader back to a point a label moved away from.
// Placed again before every replot, in the plot's current pixels, so zooming and resizing keep
// them apart.
#pragma once

#include <QColor>
#include <QObject>
#include <QString>
#include <vector>

class QCustomPlot;
class QCPItemLine;
class QCPItemText;

namespace cp::widgets {

class PointLabels : public QObject {
    Q_OBJECT
  public:
    explicit PointLabels(QCustomPlot* plot);
    // Call after the plot's items were cleared (its labels went with them).
    void forget();
    void add(double x, double y, const QString& text, const QColor& colour);
    // The y value that leaves room for the labels above the highest point, at the plot's
    // current size: set the axis's upper end to at least this before replotting.
    double headroom() const;
    void place();

  private:
    struct Label {
        double x, y;
        QCPItemText* text;
        QCPItemLine* leader;
    };
    QCustomPlot* plot_;
    std::vector<Label> labels_;
};

}  // namespace cp::widgets
