// Side by side: an experiment's two models, or any two runs. The table is core's Comparison
// (measure, A, B, A - B, A / B), the curves of both runs are overlaid, and "Export CSV…" writes
// exactly the comparison on screen.
#pragma once

#include <QWidget>
#include <optional>

#include "report/comparison.h"

class QComboBox;
class QLabel;
class QTableView;

namespace cp::widgets {

class ComparisonTableModel;
class PlotPanel;

class ComparisonView : public QWidget {
    Q_OBJECT
  public:
    explicit ComparisonView(QWidget* parent = nullptr);
    void setDatabase(const QString& path);
    // Returns an error message, or "" when the table now shows the comparison.
    QString showExperiment(qint64 experiment_id);
    QString showRuns(qint64 run_a, qint64 run_b);
    QString exportCsv(const QString& path) const;  // error message or ""
    const std::optional<report::Comparison>& comparison() const { return comparison_; }
    QTableView* table() const { return table_; }  // over core's Comparison (ComparisonTableModel)

  public slots:
    void refreshChoices();

  private slots:
    void compareChosen();
    void exportDialog();

  private:
    void show(const report::Comparison& c);
    QString database_;
    QComboBox *mode_, *experiment_, *run_a_, *run_b_;
    QTableView* table_;
    ComparisonTableModel* model_;
    QLabel *heading_, *differences_;
    PlotPanel* curves_;
    std::optional<report::Comparison> comparison_;
};

}  // namespace cp::widgets
