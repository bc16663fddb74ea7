// Where the plots' point labels go (report/label_layout.h), checked against boxes worked out by
// hand: pixels, y downwards; a label is `line` high, centred on its point's y, starting `gap`
// right of it.
#include <gtest/gtest.h>

#include "report/label_layout.h"
#include "report/svg_plot.h"

using cp::report::LabelBox;
using cp::report::place_labels;

namespace {

bool boxes_apart(const std::vector<LabelBox>& labels, const std::vector<double>& at, double gap,
                 double line) {
    for (std::size_t i = 0; i < labels.size(); ++i)
        for (std::size_t j = i + 1; j < labels.size(); ++j) {
            const double li = labels[i].x + gap, lj = labels[j].x + gap;
            const bool x_overlap = li < lj + labels[j].width && lj < li + labels[i].width;
            const bool y_overlap = std::abs(at[i] - at[j]) < line;
            if (x_overlap && y_overlap) return false;
        }
    return true;
}

}  // namespace

TEST(LabelLayout, AFreeLabelStaysAtItsPointAndACrowdedOneMovesUpPastEachInTheWay) {
    // Far apart: nothing moves.
    const std::vector<LabelBox> apart = {{100, 200, 50}, {300, 100, 50}};
    EXPECT_EQ(place_labels(apart, 6, 12), (std::vector<double>{200, 100}));

    // Three points at one x, 5 px apart vertically (y = 200, 195, 190): the lowest (200) keeps
    // its place; the next would overlap it, so it goes to just above: its top at 200 - 6 - 12
    // - 1 = 181, middle 187; the third (190) overlaps that one and goes above it: top
    // 181 - 12 - 1 = 168, middle 174.
    const std::vector<LabelBox> stack = {{100, 195, 60}, {100, 200, 60}, {100, 190, 60}};
    const auto at = place_labels(stack, 6, 12);
    EXPECT_DOUBLE_EQ(at[1], 200);
    EXPECT_DOUBLE_EQ(at[0], 187);
    EXPECT_DOUBLE_EQ(at[2], 174);
    EXPECT_TRUE(boxes_apart(stack, at, 6, 12));

    // A marker in the way (a point 40 px right, on the same line) pushes the label over it: the
    // label [106, 206) x [194, 206) covers the marker [136, 146) x [195, 205); it moves to top
    // 195 - 12 - 1 = 182, middle 188.
    const std::vector<LabelBox> one = {{100, 200, 100}};
    EXPECT_DOUBLE_EQ(place_labels(one, 6, 12, {{136, 195, 10, 10}})[0], 188);
}

TEST(LabelLayout, ManyPointsAtOnePlaceEndWithEveryLabelApart) {
    std::vector<LabelBox> crowd;
    for (int i = 0; i < 40; ++i) crowd.push_back({200.0 + (i % 3), 300.0 + (i % 5) * 0.3, 80});
    const auto at = place_labels(crowd, 6, 13, cp::report::marker_obstacles(crowd, 9));
    EXPECT_TRUE(boxes_apart(crowd, at, 6, 13));
    for (std::size_t i = 0; i < crowd.size(); ++i) EXPECT_LE(at[i], crowd[i].y) << "labels only move up";
}

// The report's SVG plot draws every label once, apart: two points at the same place get their
// labels on two lines.
TEST(LabelLayout, TheSvgPlotsLabelsDoNotShareALine) {
    cp::report::SvgPlot plot;
    plot.id = "p";
    cp::report::SvgSeries a;
    a.kind = cp::report::SvgSeries::Kind::points;
    a.x = {1, 1};
    a.y = {5, 5};
    a.labels = {"first", "second"};
    plot.series.push_back(a);
    const std::string svg = plot.render();
    const auto y_of = [&](const std::string& text) {
        const auto end = svg.find(">" + text + "</text>");
        EXPECT_NE(end, std::string::npos) << text;
        const auto y = svg.rfind(" y=\"", end);
        return std::stod(svg.substr(y + 4));
    };
    EXPECT_GE(std::abs(y_of("first") - y_of("second")), 13.0);
}
