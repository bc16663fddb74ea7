// The File menu's work on database files, without dialogs: the recent list, the import's summary,
// the report and metrics exports. The window calls these; each returns "" or what went wrong.
#pragma once

#include <QString>
#include <QStringList>

namespace cp::workspace {
class Workspace;
}

namespace cp::workbench {

// The databases opened last, newest first (QSettings "recent/databases", at most 8).
QStringList recent_databases();
void remember_recent_database(const QString& path);

// Merges `path` into the workspace's database: a summary of what came in, or the error.
QString import_database(workspace::Workspace& workspace, const QString& path, bool* ok);
// An experiment's report as HTML, or as PDF when `path` ends in .pdf.
QString export_report(workspace::Workspace& workspace, qint64 experiment_id, const QString& path);
QString export_metrics(workspace::Workspace& workspace, qint64 run_id, const QString& path);

}  // namespace cp::workbench
