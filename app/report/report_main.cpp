// context-pythia-report: `context-pythia experiments report ID --out FILE.pdf` (context-pythia
// execs this for PDF reports, which need Qt's PDF writer and SVG renderer); HTML works too.
// Runs without a display (Qt's offscreen platform).
#include <QGuiApplication>
#include <cstdlib>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/files.h"
#include "report/experiment_report.h"
#include "report/report_pdf.h"
#include "store/run_store.h"
#include "experiment/experiment_params.h"

int main(int argc, char** argv) {
    if (!std::getenv("DISPLAY") && !std::getenv("QT_QPA_PLATFORM"))
        setenv("QT_QPA_PLATFORM", "offscreen", 1);
    QGuiApplication app(argc, argv);
    using namespace cp;
    return cli::guarded([&] {
        if (argc < 3 || std::string(argv[1]) != "experiments" || std::string(argv[2]) != "report") {
            std::cerr << "usage: context-pythia experiments report ID --out FILE.pdf|FILE.html\n";
            return 2;
        }
        cli::Args args("context-pythia experiments report ID --out FILE.html|FILE.pdf [--db FILE]",
                       "Writes the experiment's report as HTML or PDF (see 'context-pythia "
                       "experiments report --help').",
                       {{"db", "FILE", "the database (default: $CP_DB or the workbench's)"},
                        {"out", "FILE", "the report to write: .html or .pdf (required)"}},
                       "ID  the experiment", 1);
        if (args.parse_and_print_help(argc, argv, 3)) return 0;
        if (args.positional().empty()) throw Error("experiments report needs the experiment ID");
        const std::int64_t id = cli::parse_int_option("ID", args.positional()[0]);
        const std::string out = args.get("out");
        if (out.empty()) throw Error("experiments report needs --out FILE.html or FILE.pdf");
        const std::string db = args.has("db") ? args.get("db") : train::default_database_path();
        if (!std::filesystem::exists(db)) throw Error("no database at '" + db + "'");
        store::RunStore store(db);
        const report::ExperimentReport r = report::build_report(store, id);
        if (out.size() > 4 && out.compare(out.size() - 4, 4, ".pdf") == 0) {
            const QString error = reportpdf::write_report_pdf(r, QString::fromStdString(out));
            if (!error.isEmpty()) throw Error(error.toStdString());
        } else {
            write_file_atomic(out, report::report_html(r));
        }
        std::cerr << "wrote " << out << "\n";
        return 0;
    });
}
