// Side by side: an experiment's two models, or any two runs. The table is core's Comparison
// (measure, A, B, A - B, A / B), the curves of both runs are overlaid, and "Export CSV…" writes
// exactly the comparison on screen. An experiment of a seed group shows the whole group: mean ±
// sd, 95% t-intervals and the paired difference per measure, and each design's loss as a mean
// line with a ±1 sd band. A banner says so when a model learned nothing.
#pragma once

#include <QWidget>
#include <optional>

#include "report/comparison.h"
#include "report/group_comparison.h"

class QComboBox;
class QLabel;
class QSplitter;
class QTableView;

namespace cp::widgets {

class ComparisonTableModel;
class TextTableModel;
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
    // Set while a seed group is shown (then comparison() is empty).
    const std::optional<report::GroupComparison>& group() const { return group_; }
    QLabel* verdict() const { return verdict_; }
    PlotPanel* curves() const { return curves_; }
    QTableView* table() const { return table_; }  // over core's Comparison (ComparisonTableModel)

  public slots:
    void refreshChoices();

  private slots:
    void compareChosen();
    void exportDialog();

  private:
    void show(const report::Comparison& c);
    void showGroup(const report::GroupComparison& g);
    void showVerdict(const std::vector<std::string>& not_learned);
    QString database_;
    QComboBox *mode_, *experiment_, *run_a_, *run_b_;
    QTableView* table_;
    QSplitter* split_;
    ComparisonTableModel* model_;
    TextTableModel* group_model_;
    QLabel *heading_, *differences_, *verdict_;
    PlotPanel* curves_;
    std::optional<report::Comparison> comparison_;
    std::optional<report::GroupComparison> group_;
};

}  // namespace cp::widgets
