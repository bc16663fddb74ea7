#include "widgets/point_labels.h"

#include <qcustomplot.h>

#include <QFontMetrics>
#include <QRectF>
#include <algorithm>
#include <numeric>

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
    // Lowest points first: each label takes the lowest free place at or above its point.
    std::vector<std::size_t> order(labels_.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return labels_[a].y < labels_[b].y; });
    // The markers are in the way too (a label starts right of its own).
    std::vector<QRectF> taken;
    for (const Label& l : labels_)
        taken.emplace_back(plot_->xAxis->coordToPixel(l.x) - 6, plot_->yAxis->coordToPixel(l.y) - 6,
                           12, 12);
    for (std::size_t i : order) {
        Label& l = labels_[i];
        const double px = plot_->xAxis->coordToPixel(l.x) + kGap;
        const double width = metrics.horizontalAdvance(l.text->text());
        double py = plot_->yAxis->coordToPixel(l.y);  // pixels grow downwards
        QRectF box(px, py - line / 2, width, line);
        // Up past each label in the way (a pixel clear of it, so float rounding cannot hold
        // the box in place); at most one move per thing already placed.
        for (std::size_t moves = 0, moved = 1; moved && moves <= taken.size(); ++moves) {
            moved = 0;
            for (const QRectF& t : taken)
                if (box.intersects(t)) {
                    py = t.top() - line / 2 - 1;
                    box.moveTop(py - line / 2);
                    moved = 1;
                }
        }
        taken.push_back(box);
        const double at = plot_->yAxis->pixelToCoord(py);
        l.text->position->setCoords(l.x, at);
        l.leader->start->setCoords(l.x, l.y);
        l.leader->end->setCoords(l.x, at);
        l.leader->setVisible(plot_->yAxis->coordToPixel(l.y) - py > line / 2);
    }
}

}  // namespace cp::widgets
