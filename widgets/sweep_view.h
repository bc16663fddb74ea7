// A sweep as one table and one plot (report/sweep_table.h): pick a sweep of the database and a
// parameter to group by; the table lists each cell's designs with the varying parameters as
// columns; the Pareto plane shows each (cell, design) as a point, coloured by the chosen
// parameter's value. Export the table as CSV (the same as `experiments export --sweep`).
#pragma once

#include <QWidget>
#include <optional>

#include "report/sweep_table.h"

class QComboBox;
class QLabel;
class QTableView;

namespace cp::widgets {

class PlotPanel;
class TextTableModel;

class SweepView : public QWidget {
    Q_OBJECT
  public:
    explicit SweepView(QWidget* parent = nullptr);
    void setDatabase(const QString& path);
    QString showSweep(const QString& uid);  // error or ""
    const std::optional<report::SweepSummary>& summary() const { return summary_; }
    QComboBox* groupChoice() const { return group_; }
    PlotPanel* plot() const { return plot_; }
    QTableView* table() const { return table_; }
    QString exportCsv(const QString& path) const;

  public slots:
    void refreshChoices();

  private:
    void redraw();
    QString database_;
    QComboBox *sweep_, *group_;
    QLabel* note_;
    QTableView* table_;
    TextTableModel* model_;
    PlotPanel* plot_;
    std::optional<report::SweepSummary> summary_;
};

}  // namespace cp::widgets
