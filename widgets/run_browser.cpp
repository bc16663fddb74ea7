#include "widgets/run_browser.h"

#include <QClipboard>
#include <QFileInfo>
#include <QGuiApplication>
#include <QItemSelectionModel>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "common/error.h"
#include "report/exports.h"
#include "report/stamp.h"
#include "store/run_store.h"
#include "workspace/workspace.h"
#include "widgets/table_models.h"

namespace cp::widgets {
namespace {
constexpr int kId = RunTableModel::kId;
}  // namespace

RunBrowser::RunBrowser(QWidget* parent)
    : QWidget(parent),
      model_(new RunTableModel(this)),
      proxy_(new QSortFilterProxyModel(this)),
      table_(new QTableView(this)),
      filter_(new QLineEdit(this)) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    filter_->setObjectName("runFilter");
    filter_->setPlaceholderText("Filter runs (any column: model, status, name…)");
    filter_->setClearButtonEnabled(true);
    top->addWidget(filter_, 1);
    auto* open = new QPushButton("Open curves", this);
    auto* rename = new QPushButton("Rename…", this);
    auto* notes = new QPushButton("Notes…", this);
    auto* remove = new QPushButton("Delete…", this);
    auto* refresh_button = new QPushButton("Refresh", this);
    auto* copy = new QPushButton("Copy command", this);
    copy->setObjectName("copyCommand");
    copy->setToolTip("Copy the command that reproduces the selected run's experiment");
    remove->setObjectName("deleteRun");
    for (QPushButton* b : {open, copy, rename, notes, remove, refresh_button}) top->addWidget(b);
    layout->addLayout(top);

    proxy_->setSourceModel(model_);
    proxy_->setFilterKeyColumn(-1);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setSortRole(Qt::UserRole);
    table_->setObjectName("runTable");
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->setVisible(false);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setWordWrap(false);
    table_->sortByColumn(kId, Qt::DescendingOrder);
    layout->addWidget(table_, 1);
    error_ = new QLabel(this);
    error_->setStyleSheet("color: #b00020;");
    layout->addWidget(error_);
    stamp_ = new QLabel(this);
    stamp_->setObjectName("runStamp");
    stamp_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    stamp_->setWordWrap(true);
    stamp_->setStyleSheet("font-family: monospace; font-size: 11px; background: #f6f6f6; padding: 4px;");
    layout->addWidget(stamp_);
    auto* hint = new QLabel(
        "Double-click a run to show its curves. Deleting a run removes its metric points and "
        "results from the database; its checkpoint file stays on disk.",
        this);
    hint->setWordWrap(true);
    layout->addWidget(hint);
    connect(copy, &QPushButton::clicked, this, [this] { copyCommand(); });
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &RunBrowser::showStamp);
    showStamp();

    connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);
    connect(table_, &QTableView::doubleClicked, this, [this] {
        if (selectedRun() >= 0) emit openRun(selectedRun());
    });
    connect(open, &QPushButton::clicked, this, [this] {
        if (selectedRun() >= 0) emit openRun(selectedRun());
    });
    connect(rename, &QPushButton::clicked, this, &RunBrowser::renameSelected);
    connect(notes, &QPushButton::clicked, this, &RunBrowser::editNotesSelected);
    connect(remove, &QPushButton::clicked, this, &RunBrowser::deleteSelected);
    connect(refresh_button, &QPushButton::clicked, this, &RunBrowser::refresh);
}

void RunBrowser::setWorkspace(workspace::Workspace* workspace) {
    workspace_ = workspace;
    refresh();
}

void RunBrowser::refresh() {
    const qint64 selected = selectedRun();
    error_->clear();
    if (!workspace_) {
        model_->setRuns({});
        return;
    }
    try {
        model_->setRuns(workspace_->run_listing());  // core's listing, adapted
    } catch (const Error& e) {
        model_->setRuns({});
        error_->setText(QString("Cannot read the database: ") + e.what());
    }
    table_->resizeColumnsToContents();
    if (selected >= 0) selectRun(selected);
    emit runsChanged();
}

int RunBrowser::rowCount() const {
    return model_->rowCount();
}

QList<qint64> RunBrowser::runIds() const {
    QList<qint64> ids;
    for (const report::RunListing& l : model_->runs()) ids << l.run.id;
    return ids;
}

QString RunBrowser::statusOf(qint64 run_id) const {
    for (const report::RunListing& l : model_->runs())
        if (l.run.id == run_id) return QString::fromUtf8(store::status_key(l.run.status));
    return {};
}

void RunBrowser::selectRun(qint64 run_id) {
    for (int r = 0; r < proxy_->rowCount(); ++r)
        if (proxy_->index(r, kId).data(Qt::UserRole).toLongLong() == run_id) table_->selectRow(r);
}

qint64 RunBrowser::selectedRun() const {
    const auto rows = table_->selectionModel()->selectedRows(kId);
    if (rows.isEmpty()) return -1;
    return rows.front().data(Qt::UserRole).toLongLong();
}

void RunBrowser::renameSelected() {
    const qint64 id = selectedRun();
    if (id < 0) return;
    bool ok = false;
    const QString name = QInputDialog::getText(
        this, "Rename run", "Name of run " + QString::number(id), QLineEdit::Normal, {}, &ok);
    if (!ok || !workspace_) return;
    try {
        workspace_->rename_run(id, name.toStdString());
    } catch (const Error& e) {
        QMessageBox::warning(this, "Rename failed", e.what());
    }
    refresh();
}

void RunBrowser::editNotesSelected() {
    const qint64 id = selectedRun();
    if (id < 0 || !workspace_) return;
    try {
        bool ok = false;
        const QString notes =
            QInputDialog::getMultiLineText(this, "Notes", "Notes on run " + QString::number(id),
                                           QString::fromStdString(workspace_->run(id).notes), &ok);
        if (ok) workspace_->set_notes(id, notes.toStdString());
    } catch (const Error& e) {
        QMessageBox::warning(this, "Notes not saved", e.what());
    }
    refresh();
}

bool RunBrowser::deleteRun(qint64 run_id, QString* error) {
    try {
        if (!workspace_) throw Error("no database is open");
        workspace_->delete_run(run_id);  // the store refuses a running run
    } catch (const Error& e) {
        if (error) *error = e.what();
        return false;
    }
    refresh();
    return true;
}

void RunBrowser::deleteSelected() {
    const qint64 id = selectedRun();
    if (id < 0) return;
    const auto answer = QMessageBox::question(
        this, "Delete run",
        QString("Delete run %1 with its metric points and results? This cannot be undone.").arg(id),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Yes) return;
    QString error;
    if (!deleteRun(id, &error)) QMessageBox::warning(this, "Run not deleted", error);
}

QString RunBrowser::stampText() const {
    return stamp_->text();
}

QString RunBrowser::reproducingCommand() const {
    const qint64 run = selectedRun();
    if (run < 0 || !workspace_) return {};
    try {
        return QString::fromStdString(workspace_->reproducing_command(run));
    } catch (const Error&) {
        return {};
    }
}

QString RunBrowser::copyCommand() {
    const QString command = reproducingCommand();
    if (!command.isEmpty()) QGuiApplication::clipboard()->setText(command);
    return command;
}

void RunBrowser::showStamp() {
    const qint64 run = selectedRun();
    if (run < 0 || !workspace_) {
        stamp_->setText("Select a run to see how its experiment can be reproduced.");
        return;
    }
    try {
        stamp_->setText(QString::fromStdString(workspace_->stamp_and_files_text(run)));
    } catch (const Error& e) {
        stamp_->setText(e.what());
    }
}

}  // namespace cp::widgets
