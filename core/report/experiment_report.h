// The experiment report a colleague reads without the workbench: the question and parameters,
// the comparison table with intervals and verdicts, the loss curves (with seed bands), the
// measured KV memory, the Pareto view, the context-diversity plots and the reproducibility
// stamp. Built from the store as blocks (headings, text, tables, SVG plots), written here as one
// self-contained HTML file (well-formed XHTML, plots inline as SVG); the workbench's PDF writer
// (app/report_pdf) draws the same blocks, plots as vectors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

struct ReportBlock {
    enum class Kind { heading, paragraph, banner, table, plot, code };
    Kind kind = Kind::paragraph;
    std::string id;    // tables and plots: the element's id ("comparison", "pareto-ppl")
    std::string text;  // heading, paragraph, banner, code; a table's or plot's caption
    std::vector<std::vector<std::string>> cells;  // table: header row first
    std::string svg;                              // plot
    int level = 2;                                // heading
};

struct ExperimentReport {
    std::string title;
    std::vector<ReportBlock> blocks;
    const ReportBlock* find(const std::string& id) const;
};

// The report of an experiment (its whole seed group when it is one). Throws naming the way out
// when the experiment has nothing to compare.
ExperimentReport build_report(store::RunStore& store, std::int64_t experiment_id);
std::string report_html(const ExperimentReport& report);

}  // namespace cp::report
