#include "workbench/database_files.h"

#include <QFileInfo>
#include <QSettings>

#include "common/error.h"
#include "common/files.h"
#include "report/experiment_report.h"
#include "report/report_pdf.h"
#include "workspace/workspace.h"

namespace cp::workbench {

QStringList recent_databases() { return QSettings().value("recent/databases").toStringList(); }

void remember_recent_database(const QString& path) {
    QStringList recent = recent_databases();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > 8) recent.removeLast();
    QSettings().setValue("recent/databases", recent);
}

QString import_database(workspace::Workspace& workspace, const QString& path, bool* ok) {
    if (ok) *ok = false;
    try {
        const store::ImportCounts c = workspace.import_database(path.toStdString());
        if (ok) *ok = true;
        return QString("Imported %1 experiments, %2 runs, %3 metric points and %4 results from '%5'.")
            .arg(c.experiments)
            .arg(c.runs)
            .arg(c.metric_points)
            .arg(c.results)
            .arg(path);
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
}

QString export_report(workspace::Workspace& workspace, qint64 experiment_id, const QString& path) {
    try {
        const report::ExperimentReport r = workspace.build_report(experiment_id);
        if (path.endsWith(".pdf", Qt::CaseInsensitive)) return reportpdf::write_report_pdf(r, path);
        write_file_atomic(path.toStdString(), report::report_html(r));
        return {};
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
}

QString export_metrics(workspace::Workspace& workspace, qint64 run_id, const QString& path) {
    try {
        workspace.export_metrics_csv(run_id, path.toStdString());
        return {};
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    }
}

}  // namespace cp::workbench
