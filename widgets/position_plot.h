// The "Loss by position" plot the Comparison and Cache compression views share: the mean loss at
// each position of the scored chunks, a line per design (solid) or policy (dashed), the mean over
// seeds with a ±1 sd band. Whether a design or a policy uses its context shows as the slope.
#pragma once

#include <QString>
#include <QWidget>
#include <vector>

#include "report/design_comparison.h"

namespace cp::widgets {

class PlotPanel;

PlotPanel* make_position_plot(QWidget* parent);
void draw_loss_by_position(PlotPanel& panel, const std::vector<report::PositionSeries>& series);
// The series as CSV (core's long format); "" or the error.
QString export_loss_by_position_csv(const std::vector<report::PositionSeries>& series,
                                    const QString& path);

}  // namespace cp::widgets
