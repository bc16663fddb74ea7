#include "widgets/position_plot.h"

#include "common/error.h"
#include "report/csv.h"
#include "widgets/plot_panel.h"

#include <qcustomplot.h>

namespace cp::widgets {

PlotPanel* make_position_plot(QWidget* parent) {
    auto* panel = new PlotPanel("Loss by position in the scored chunks",
                                "position in the chunk (tokens)", "loss (nats/token)", parent);
    panel->setObjectName("lossByPosition");
    // Every design and policy has a line: the legend goes in a row under the axes, where it
    // cannot cover the curves (as the sweep view's does).
    QCustomPlot* qcp = panel->plot();
    auto* legend_row = new QCPLayoutGrid;
    const int row = qcp->plotLayout()->rowCount();
    qcp->plotLayout()->addElement(row, 0, legend_row);
    legend_row->addElement(0, 0, qcp->legend);
    legend_row->setMargins(QMargins(48, 0, 12, 6));
    qcp->plotLayout()->setRowStretchFactor(row, 0.001);
    QFont small = qcp->legend->font();
    small.setPointSizeF(small.pointSizeF() * 0.8);
    qcp->legend->setFont(small);
    qcp->legend->setRowSpacing(-3);
    panel->setLegendColumns(5);
    return panel;
}

void draw_loss_by_position(PlotPanel& panel, const std::vector<report::PositionSeries>& series) {
    panel.clear();
    for (const report::PositionSeries& s : series) {
        const QColor color = model_color(s.design);
        const bool policy = !s.policy.empty();
        QVector<double> x(s.curve.step.begin(), s.curve.step.end());
        QVector<double> y(s.curve.mean.begin(), s.curve.mean.end());
        QString name = QString::fromStdString(s.label);
        if (s.curve.runs > 1) {
            QVector<double> low, high;
            for (std::size_t i = 0; i < s.curve.mean.size(); ++i) {
                low.push_back(s.curve.mean[i] - s.curve.sd[i]);
                high.push_back(s.curve.mean[i] + s.curve.sd[i]);
            }
            name += QString(" (mean ± 1 sd of %1)").arg(s.curve.runs);
            panel.setBand(name, x, low, high, color);
        }
        panel.setSeries(name, x, y, {color, policy, false});
    }
    panel.resetView();
}

QString export_loss_by_position_csv(const std::vector<report::PositionSeries>& series,
                                    const QString& path) {
    try {
        report::CsvFile file(path.toStdString());
        report::write_loss_by_position_csv(series, file.stream());
        file.commit();
        return {};
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace cp::widgets
