// A sweep as one table and one plot (report/sweep_table.h): pick a sweep of the database and a
// parameter to group by; the table lists each cell's designs with the varying parameters as
// columns; the Pareto plane shows each (cell, design) as a point, coloured by the chosen
// parameter's value. Export the table as CSV (the same as `experiments export --sweep`).
// Above them, a new sweep: the grid (one parameter and its values per line) over the experiment
// form's parameters, run here on the worker or written as a Slurm job array; the window builds
// the sweep through core, which checks every cell.
#pragma once

#include <QWidget>
#include <optional>
#include <vector>

#include "report/sweep_table.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTableView;

namespace cp::workspace {
class Workspace;
}

namespace cp::widgets {

class PlotPanel;
class PointLabels;
class TextTableModel;

class SweepView : public QWidget {
    Q_OBJECT
  public:
    explicit SweepView(QWidget* parent = nullptr);
    // The open database it reads (MainWindow owns it); null: nothing to show.
    void setWorkspace(workspace::Workspace* workspace);
    QString showSweep(const QString& uid);  // error or ""
    const std::optional<report::SweepSummary>& summary() const { return summary_; }
    QComboBox* groupChoice() const { return group_; }
    PlotPanel* plot() const { return plot_; }
    QTableView* table() const { return table_; }
    // Per design, the cell selected on validation perplexity (core's select_on_validation).
    QTableView* selectionTable() const { return selection_table_; }
    QString exportCsv(const QString& path) const;

    // The new sweep's fields, as typed.
    QString gridText() const;
    QString sweepName() const;
    QString folder() const;       // empty: core's default, <data>/sweeps/<uid>
    QString sbatchFlags() const;  // whitespace-separated #SBATCH flags
    void setRunning(bool running);
    void setMessage(const QString& text);  // the outcome of the last request, or a problem

  signals:
    void runHereRequested();
    void slurmRequested();
    void stopRequested();

  public slots:
    void refreshChoices();

  private:
    QWidget* buildNewSweep();
    void redraw();
    PointLabels* labels_;
    QPlainTextEdit* grid_;
    QLineEdit *name_, *folder_, *sbatch_;
    QPushButton *run_here_, *stop_, *write_slurm_;
    QLabel* request_note_;
    workspace::Workspace* workspace_ = nullptr;
    QComboBox *sweep_, *group_;
    QLabel* note_;
    QTableView* table_;
    TextTableModel* model_;
    QTableView* selection_table_;
    TextTableModel* selection_model_;
    PlotPanel* plot_;
    std::optional<report::SweepSummary> summary_;
};

}  // namespace cp::widgets
