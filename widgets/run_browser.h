// The runs in the database: a sortable, filterable table with each run's key results; open a
// run to see its curves; rename, annotate or delete (after confirmation).
#pragma once

#include <QWidget>

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace cp::workspace {
class Workspace;
}

namespace cp::widgets {

class RunTableModel;

class RunBrowser : public QWidget {
    Q_OBJECT
  public:
    explicit RunBrowser(QWidget* parent = nullptr);
    // The open database it reads (MainWindow owns it); null: nothing to show.
    void setWorkspace(workspace::Workspace* workspace);
    int rowCount() const;
    QList<qint64> runIds() const;
    QString statusOf(qint64 run_id) const;  // the stored status key: "finished", ...
    void selectRun(qint64 run_id);
    qint64 selectedRun() const;  // -1 when none
    // Without asking: the confirmation dialog's "yes" (used by tests and the dialog itself).
    bool deleteRun(qint64 run_id, QString* error = nullptr);
    // The selected run's experiment: its reproducibility stamp as shown, and the command that
    // reproduces it ("" when none is selected or the experiment predates the stamp).
    QString stampText() const;
    QString reproducingCommand() const;
    // Puts reproducingCommand() on the clipboard; returns it.
    QString copyCommand();

  public slots:
    void refresh();

  signals:
    void openRun(qint64 run_id);
    void runsChanged();

  private slots:
    void renameSelected();
    void editNotesSelected();
    void deleteSelected();

  private:
    workspace::Workspace* workspace_ = nullptr;
    RunTableModel* model_;  // core's run listing, adapted
    QSortFilterProxyModel* proxy_;
    QTableView* table_;
    QLineEdit* filter_;
    QLabel* error_ = nullptr;
    QLabel* stamp_ = nullptr;
    void showStamp();
};

}  // namespace cp::widgets
