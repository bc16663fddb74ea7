#include "widgets/table_models.h"

#include <cmath>

#include "report/csv.h"
#include "store/metric_names.h"
#include "widgets/kinds_meta.h"

namespace cp::widgets {

QString display_number(double x) {
    if (x == std::floor(x) && std::fabs(x) < 1e15) return QString::number(x, 'f', 0);
    if (std::fabs(x) >= 1e6 || std::fabs(x) < 1e-3) return QString::number(x, 'g', 5);
    return QString::number(x, 'f', 4);
}

// ---- text cells ----

void TextTableModel::setCells(std::vector<std::vector<std::string>> cells) {
    beginResetModel();
    cells_ = std::move(cells);
    endResetModel();
}

int TextTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || cells_.empty() ? 0 : static_cast<int>(cells_.size() - 1);
}

int TextTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() || cells_.empty() ? 0 : static_cast<int>(cells_[0].size());
}

QVariant TextTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() + 1 >= static_cast<int>(cells_.size())) return {};
    const auto& row = cells_[static_cast<std::size_t>(index.row()) + 1];
    if (index.column() >= static_cast<int>(row.size())) return {};
    const QString text = QString::fromStdString(row[static_cast<std::size_t>(index.column())]);
    switch (role) {
        case Qt::DisplayRole:
        case Qt::UserRole:
        case Qt::ToolTipRole:
            return text;
        case Qt::TextAlignmentRole:
            return index.column() == 0 ? QVariant(Qt::AlignLeft | Qt::AlignVCenter)
                                       : QVariant(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return {};
    }
}

QVariant TextTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole || cells_.empty() || section < 0 ||
        section >= static_cast<int>(cells_[0].size()))
        return {};
    return QString::fromStdString(cells_[0][static_cast<std::size_t>(section)]);
}

// ---- comparison ----

void ComparisonTableModel::setComparison(const report::Comparison& c) {
    beginResetModel();
    rows_ = c.rows;
    endResetModel();
}

int ComparisonTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int ComparisonTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : kColumns;
}

QVariant ComparisonTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= static_cast<int>(rows_.size())) return {};
    const report::ComparisonRow& row = rows_[static_cast<std::size_t>(index.row())];
    if (index.column() == kMeasure)
        return role == Qt::DisplayRole || role == Qt::UserRole
                   ? QVariant(QString::fromStdString(row.measure))
                   : QVariant();
    const std::optional<double> cells[] = {row.a, row.b, row.difference(), row.ratio()};
    const std::optional<double>& v = cells[index.column() - kA];
    switch (role) {
        case Qt::DisplayRole:
            return v ? display_number(*v) : QString("–");
        case Qt::UserRole:  // the exact value the CSV carries
            return v ? QVariant(*v) : QVariant();
        case Qt::ToolTipRole:
            return v ? QVariant(QString::fromStdString(report::format_number(*v))) : QVariant();
        case Qt::TextAlignmentRole:
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return {};
    }
}

QVariant ComparisonTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* headers[] = {"Measure", "A", "B", "A − B", "A / B"};
    return section >= 0 && section < kColumns ? QString::fromUtf8(headers[section]) : QVariant();
}

// ---- runs ----

void RunTableModel::setRuns(std::vector<report::RunListing> runs) {
    beginResetModel();
    runs_ = std::move(runs);
    endResetModel();
}

int RunTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}

int RunTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : kColumns;
}

QVariant RunTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= static_cast<int>(runs_.size())) return {};
    const report::RunListing& l = runs_[static_cast<std::size_t>(index.row())];
    const store::RunRow& r = l.run;
    const auto text = [&](const QString& t) -> QVariant {
        return role == Qt::DisplayRole || role == Qt::UserRole ? QVariant(t) : QVariant();
    };
    const auto result = [&](const std::string& key, int decimals) -> QVariant {
        const auto it = l.results.find(key);
        if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        if (role == Qt::DisplayRole)
            return it == l.results.end() ? QString("–")
                                         : QString::number(it->second, 'f', decimals);
        if (role == Qt::UserRole) return it == l.results.end() ? -1.0 : it->second;  // sorts
        return {};
    };
    switch (index.column()) {
        case kId:
            if (role == Qt::UserRole) return static_cast<qlonglong>(r.id);
            return text(QString::number(r.id));
        case kExperiment:
            if (role == Qt::UserRole) return static_cast<qlonglong>(r.experiment_id);
            return text(QString::number(r.experiment_id));
        case kName:
            if (role == Qt::ToolTipRole)
                return QString::fromStdString(r.notes.empty() ? r.error : r.notes);
            return text(QString::fromStdString(r.name.empty() ? l.experiment_name : r.name));
        case kStarted:
            return text(QString::fromStdString(r.started_at));
        case kModel:
            return text(QString::fromUtf8(model::design_key(r.model)));
        case kPhase:
            return text(QString::fromUtf8(store::phase_key(r.phase)));
        case kStatus:
            if (role == Qt::ToolTipRole) return QString::fromStdString(r.error);
            return text(display_name(r.status));
        case kBestVal:
            return result(names::best_val_ppl, 1);
        case kTest:
            return result(names::test_ppl, 1);
        case kKv:
            return result(names::kv_bytes_per_token_at(512), 0);
        case kSpeed:
            return result(names::train_tokens_per_second, 0);
        default:
            return {};
    }
}

QVariant RunTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* headers[] = {
        "Run",    "Exp.",         "Name",     "Started (UTC)",   "Model",      "Phase",
        "Status", "Best val ppl", "Test ppl", "KV B/token @512", "Train tok/s"};
    return section >= 0 && section < kColumns ? QString::fromUtf8(headers[section]) : QVariant();
}

}  // namespace cp::widgets
