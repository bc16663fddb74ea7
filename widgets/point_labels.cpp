#include "widgets/point_labels.h"

#include <qcustomplot.h>

#include <QFontMetrics>
#include <algorithm>

#include "report/label_layout.h"

namespace cp::widgets {
namespace {
constexpr int kGap = 12;  // pixels between a point and its label
}

PointLabels::PointLabels(QCustomPlot* plot) : QObject(plot), plot_(plot) {
    connect(plot_, &QCustomPlot::beforeReplot, this, &PointLabels::place);
}

void PointLabels::forget() {
    labels_.clear();
}

void PointLabels::add(double x, double y, const QString& text, const QColor& colour) {
    auto* item = new QCPItemText(plot_);
    item->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    item->setPadding(QMargins(kGap, 0, 0, 0));
    item->setText(text);
    item->setColor(colour.darker(130));
    auto* leader = new QCPItemLine(plot_);
    leader->setPen(QPen(colour.lighter(130), 1));
    leader->setVisible(false);
    labels_.push_back({x, y, item, leader});
}

double PointLabels::headroom() const {
    if (labels_.empty()) return plot_->yAxis->range().upper;
    const double line_px = 1.2 * QFontMetrics(plot_->font()).height();
    const double per_px = plot_->yAxis->range().size() / std::max(200, plot_->axisRect()->height());
    double top = -1e300;
    for (const Label& l : labels_) top = std::max(top, l.y);
    // Every label could stack above the highest point in the worst case; allow for half.
    return top + (0.5 * static_cast<double>(labels_.size()) + 1.0) * line_px * per_px;
}

void PointLabels::place() {
    if (labels_.empty()) return;
    const QFontMetrics metrics(plot_->font());
    const double line = 1.2 * metrics.height();
    std::vector<report::LabelBox> boxes;
    for (const Label& l : labels_)
        boxes.push_back({plot_->xAxis->coordToPixel(l.x), plot_->yAxis->coordToPixel(l.y),
                         static_cast<double>(metrics.horizontalAdvance(l.text->text()))});
    // Core's layout, in the plot's current pixels; the markers are in the way too.
    const std::vector<double> at =
        report::place_labels(boxes, kGap, line, report::marker_obstacles(boxes, 12));
    for (std::size_t i = 0; i < labels_.size(); ++i) {
        Label& l = labels_[i];
        const double y = plot_->yAxis->pixelToCoord(at[i]);
        l.text->position->setCoords(l.x, y);
        l.leader->start->setCoords(l.x, l.y);
        l.leader->end->setCoords(l.x, y);
        l.leader->setVisible(boxes[i].y - at[i] > line / 2);  // only for a label moved off its point
    }
}

}  // namespace cp::widgets
