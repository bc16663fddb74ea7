// The Pareto view of an experiment's designs: measured KV bytes per token at a chosen cache
// length (x) against test perplexity or last-word accuracy (y), one labelled point per design,
// the 95% t-interval as an error bar when seeds repeat, the Pareto front drawn through the
// designs no other beats on both. The points are core's (report::pareto_view), the numbers of
// the comparison table; the plot exports as PNG, SVG or PDF and its data as CSV.
#pragma once

#include <QWidget>
#include <optional>

#include "report/design_comparison.h"

class QComboBox;
class QLabel;

namespace cp::widgets {

class PlotPanel;
class PointLabels;

class ParetoPlot : public QWidget {
    Q_OBJECT
  public:
    explicit ParetoPlot(QWidget* parent = nullptr);
    // Shows the comparison's designs (keeps the chosen measure and length when it can).
    void setComparison(const report::DesignComparison& c);
    void clear();
    // The view on screen: what each point is drawn from.
    const std::optional<report::ParetoView>& view() const { return view_; }
    PlotPanel* panel() const { return panel_; }
    QComboBox* measureChoice() const { return measure_; }
    QComboBox* lengthChoice() const { return length_; }
    QString exportCsv(const QString& path) const;  // error message or ""

  private slots:
    void redraw();
    void exportCsvDialog();

  private:
    QString describe(const report::ParetoView& v) const;  // the note under the plane
    QComboBox *measure_, *length_;
    QLabel* note_;
    PlotPanel* panel_;
    PointLabels* labels_;
    std::optional<report::DesignComparison> comparison_;
    std::optional<report::ParetoView> view_;
};

}  // namespace cp::widgets
