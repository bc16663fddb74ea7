#include "report/label_layout.h"

#include <algorithm>
#include <numeric>

namespace cp::report {
namespace {

bool overlaps(const Obstacle& a, const Obstacle& b) {
    return a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height &&
           b.top < a.top + a.height;
}

}  // namespace

std::vector<Obstacle> marker_obstacles(const std::vector<LabelBox>& labels, double size) {
    std::vector<Obstacle> out;
    for (const LabelBox& l : labels) out.push_back({l.x - size / 2, l.y - size / 2, size, size});
    return out;
}

std::vector<double> place_labels(const std::vector<LabelBox>& labels, double gap, double line,
                                 std::vector<Obstacle> obstacles) {
    std::vector<std::size_t> order(labels.size());
    std::iota(order.begin(), order.end(), 0);
    // Lowest points first (largest y in pixels): each label then only ever moves up.
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return labels[a].y > labels[b].y; });
    std::vector<double> at(labels.size());
    for (std::size_t i : order) {
        Obstacle box{labels[i].x + gap, labels[i].y - line / 2, labels[i].width, line};
        // Up past whatever is in the way, a pixel clear of it (so rounding cannot hold the box in
        // place); each pass moves past at least one thing, so this ends.
        for (std::size_t pass = 0; pass <= obstacles.size(); ++pass) {
            bool moved = false;
            for (const Obstacle& o : obstacles)
                if (overlaps(box, o)) {
                    box.top = o.top - line - 1;
                    moved = true;
                }
            if (!moved) break;
        }
        obstacles.push_back(box);
        at[i] = box.top + line / 2;
    }
    return at;
}

}  // namespace cp::report
