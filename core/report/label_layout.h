// Where the labels of a scatter plot go so that none prints over another or over a marker: each
// label starts just right of its point; where it would cover something already placed it moves
// up, past it, until it is free. Pixels, y growing downwards (screen and SVG alike). Used by the
// workbench's plots and the report's SVG plots.
#pragma once

#include <vector>

namespace cp::report {

struct LabelBox {
    double x = 0, y = 0;   // the point the label belongs to
    double width = 0;      // the text's width
};

struct Obstacle {
    double left = 0, top = 0, width = 0, height = 0;
};

// The y of each label's middle line (same order as `labels`), the lowest points placed first.
// `gap`: pixels between a point and its label's left end; `line`: a label's height.
std::vector<double> place_labels(const std::vector<LabelBox>& labels, double gap, double line,
                                 std::vector<Obstacle> obstacles = {});

// A square marker of `size` pixels around each label's point: what labels must not cover.
std::vector<Obstacle> marker_obstacles(const std::vector<LabelBox>& labels, double size);

}  // namespace cp::report
