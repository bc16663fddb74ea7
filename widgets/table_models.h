// Qt table models over core's objects: the comparison (report::Comparison) and the run listing
// (report::RunListing). They adapt, they do not decide: every number and every row comes from
// core, so what a view shows is what the CLI prints and the CSV carries.
//
// Roles: DisplayRole is the text shown; Qt::UserRole the exact value (numbers as double, ids as
// qlonglong, text as text) for sorting and for tests; ToolTipRole the shortest exact form.
#pragma once

#include <QAbstractTableModel>
#include <vector>

#include "report/comparison.h"
#include "report/exports.h"

namespace cp::widgets {

class ComparisonTableModel : public QAbstractTableModel {
    Q_OBJECT
  public:
    enum Column { kMeasure, kA, kB, kDifference, kRatio, kColumns };
    using QAbstractTableModel::QAbstractTableModel;
    void setComparison(const report::Comparison& c);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation o, int role) const override;

  private:
    std::vector<report::ComparisonRow> rows_;
};

// Rows of text cells made by core (a header row first), shown as they are: the seed group's
// comparison, whose cells (mean ± sd, intervals, "excludes 0") the terminal prints too.
class TextTableModel : public QAbstractTableModel {
    Q_OBJECT
  public:
    using QAbstractTableModel::QAbstractTableModel;
    void setCells(std::vector<std::vector<std::string>> cells);  // cells[0]: the header
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation o, int role) const override;

  private:
    std::vector<std::vector<std::string>> cells_;
};

class RunTableModel : public QAbstractTableModel {
    Q_OBJECT
  public:
    enum Column {
        kId,
        kExperiment,
        kName,
        kStarted,
        kModel,
        kPhase,
        kStatus,
        kBestVal,
        kTest,
        kKv,
        kSpeed,
        kColumns
    };
    using QAbstractTableModel::QAbstractTableModel;
    void setRuns(std::vector<report::RunListing> runs);
    const std::vector<report::RunListing>& runs() const { return runs_; }
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation o, int role) const override;

  private:
    std::vector<report::RunListing> runs_;
};

// How the views write a number: integers plainly, otherwise 4 decimals or 5 significant digits.
QString display_number(double v);

}  // namespace cp::widgets
