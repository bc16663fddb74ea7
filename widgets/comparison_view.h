// Side by side: an experiment's designs, or any two runs. An experiment shows core's design
// comparison (report/design_comparison.h): one column per design with each measure's ratio to
// Pythia, and below it the Pareto view (measured KV bytes per token against quality), the loss
// curves, the paired differences to Pythia over a seed group's seeds and the KV check (the claim
// and the formula beside the measurement). Two runs show core's two-run Comparison (measure, A,
// B, A - B, A / B). "Export CSV…" writes exactly the table on screen; a banner says so when a
// model learned nothing.
#pragma once

#include <QWidget>
#include <optional>

#include "report/comparison.h"
#include "report/design_comparison.h"

class QComboBox;
class QHBoxLayout;
class QLabel;
class QSplitter;
class QTabWidget;
class QTableView;

namespace cp::workspace {
class Workspace;
}

namespace cp::widgets {

class ComparisonTableModel;
class TextTableModel;
class PlotPanel;
class ParetoPlot;

class ComparisonView : public QWidget {
    Q_OBJECT
  public:
    explicit ComparisonView(QWidget* parent = nullptr);
    // The open database it reads (MainWindow owns it); null: nothing to show.
    void setWorkspace(workspace::Workspace* workspace);
    // Returns an error message, or "" when the table now shows the comparison.
    QString showExperiment(qint64 experiment_id);
    QString showRuns(qint64 run_a, qint64 run_b);
    QString exportCsv(const QString& path) const;  // error message or ""
    // Set while two runs are shown.
    const std::optional<report::Comparison>& comparison() const { return comparison_; }
    // Set while an experiment (or its seed group) is shown.
    const std::optional<report::DesignComparison>& designs() const { return designs_; }
    QLabel* verdict() const { return verdict_; }
    PlotPanel* curves() const { return curves_; }
    PlotPanel* positions() const { return positions_; }
    const std::vector<report::PositionSeries>& positionSeries() const { return position_series_; }
    ParetoPlot* pareto() const { return pareto_; }
    QTabWidget* details() const { return details_; }
    QTableView* table() const { return table_; }
    QTableView* differenceTable() const { return difference_table_; }
    QTableView* kvTable() const { return kv_table_; }
    QComboBox* reference() const { return reference_; }

  public slots:
    void refreshChoices();
    void exportDialog();  // "Export CSV…" (also the File menu's)

  private slots:
    void compareChosen();

  private:
    QHBoxLayout* buildChoices();
    QWidget* buildTables();
    void show(const report::Comparison& c);
    void showDesigns(const report::DesignComparison& c);
    void drawDesignCurves(const report::DesignComparison& c);
    void showVerdict(const std::vector<std::string>& not_learned,
                     const std::vector<std::string>& barely_learned = {});
    workspace::Workspace* workspace_ = nullptr;
    QComboBox *mode_, *experiment_, *run_a_, *run_b_;
    // The column the ratios and paired differences are to (its key as data); Pythia by default,
    // and again whenever another experiment is shown.
    QComboBox* reference_;
    QLabel* reference_label_;
    std::optional<qint64> shown_experiment_;
    QTableView *table_, *difference_table_, *kv_table_;
    QSplitter* split_;
    QTabWidget* details_;
    ComparisonTableModel* model_;
    TextTableModel *design_model_, *difference_model_, *kv_model_;
    QLabel *heading_, *differences_, *verdict_;
    PlotPanel* curves_;
    PlotPanel* positions_;
    std::vector<report::PositionSeries> position_series_;
    ParetoPlot* pareto_;
    std::optional<report::Comparison> comparison_;
    std::optional<report::DesignComparison> designs_;
};

}  // namespace cp::widgets
