// The experiment report (core's report/experiment_report.h) as a PDF: headings and text through
// QTextDocument, tables split across pages by rows, plots drawn as vectors from their SVG
// (QSvgRenderer). Used by the workbench's Export report… and by context-pythia-report.
#pragma once

#include <QString>

#include "report/experiment_report.h"

namespace cp::reportpdf {

// Writes `report` to `path`; returns an error message, or "" when written.
QString write_report_pdf(const report::ExperimentReport& report, const QString& path);

}  // namespace cp::reportpdf
