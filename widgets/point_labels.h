// Labels beside the points of a scatter plot that do not print over each other: each label sits
// just right of its point; where it would cover a label already placed, it moves up a line at a
// time, with a thin leader back to its point. Placed again before every replot, in the plot's
// current pixels, so zooming and resizing keep them apart.
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
