// `context-pythia runs ...`, `experiments ...` and `db import`: the run store from the command
// line. The tables come from core/report, so they equal what the workbench shows and exports.
#include <chrono>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/db_option.h"
#include "common/error.h"
#include "common/files.h"
#include "report/comparison.h"
#include "report/design_comparison.h"
#include "report/experiment_report.h"
#include "report/kv_anatomy.h"
#include "report/stamp.h"
#include "report/csv.h"
#include "report/exports.h"
#include "store/run_store.h"
#include "experiment/experiment_params.h"

namespace cp::cli {
using nlohmann::json;

namespace {

std::int64_t id_argument(const Args& args, std::size_t index, const std::string& what) {
    if (args.positional().size() <= index) throw Error("missing " + what + " (see --help)");
    return parse_int_option(what, args.positional()[index]);
}

void write_csv(const std::string& path, const std::function<void(std::ostream&)>& body) {
    report::CsvFile file(path);  // fails here, before any work, for an unwritable path
    body(file.stream());
    file.commit();
}

int runs_list(int argc, char** argv, int first) {
    Args args("context-pythia runs list [--json] [--db FILE]",
              "Lists every run in the database with its key results.",
              {db_option(), {"json", "", "one JSON array on stdout"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    store::RunStore store(existing_db_path(args));
    const auto runs = report::list_runs(store);
    if (args.has("json")) {
        json out = json::array();
        for (const auto& r : runs) out.push_back(report::run_listing_json(r));
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << report::runs_text(runs);
    }
    return 0;
}

int runs_show(int argc, char** argv, int first) {
    Args args("context-pythia runs show ID [--json] [--db FILE]",
              "Shows one run: its record, every result and how many points each metric has.",
              {db_option(), {"json", "", "one JSON object on stdout"}}, "ID  the run", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t id = id_argument(args, 0, "run ID");
    store::RunStore store(existing_db_path(args));
    report::RunListing l{store.run(id), "", {}};
    l.experiment_name = store.experiment(l.run.experiment_id).name;
    for (const auto& [k, v] : store.results(id)) l.results[k] = v;
    std::map<std::string, std::int64_t> series;
    store.for_each_metric(id, [&](const store::MetricPoint& p) { ++series[p.name]; });
    json j = report::run_listing_json(l);
    j["metric_points"] = series;
    j["stamp"] = json::parse(store.experiment(l.run.experiment_id).params_json, nullptr, false)
                     .value("stamp", json::object());
    if (args.has("json")) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    const store::RunRow& r = l.run;
    std::cout << "run " << r.id << "  " << model::design_key(r.model) << " "
              << store::phase_key(r.phase) << "  "
              << store::status_display_name(r.status) << "\n"
              << "experiment  " << r.experiment_id << " '" << l.experiment_name << "'\n"
              << "started     " << r.started_at << "\nfinished    " << r.finished_at << "\n"
              << "device      " << r.device << "\n";
    if (!r.name.empty()) std::cout << "name        " << r.name << "\n";
    if (r.context_block_run_id)
        std::cout << "block from  Phase 1 run " << *r.context_block_run_id << "\n";
    if (!r.error.empty()) std::cout << "message     " << r.error << "\n";
    if (const std::string files = report::run_files_text(store, id); !files.empty())
        std::cout << "files (checked against these before every read):\n" << files;
    if (!r.notes.empty()) std::cout << "notes       " << r.notes << "\n";
    std::cout << "\nreproducibility stamp of experiment " << r.experiment_id << ":\n"
              << report::stamp_text(report::stamp_of(store, r.experiment_id));
    std::cout << "\nresults:\n";
    for (const auto& [k, v] : l.results)
        std::cout << "  " << k << " = " << report::format_number(v) << "\n";
    std::cout << "\nmetric series (points):\n";
    for (const auto& [k, n] : series) std::cout << "  " << k << "  " << n << "\n";
    return 0;
}

// A comparison (of two runs, an experiment or a seed group) on the terminal and, with --csv, as
// CSV. The CSV file is opened before the comparison is computed: an unwritable path fails first.
template <typename Table>
int print_comparison(const Args& args, const std::function<Table()>& compare,
                     void (*write_csv)(const Table&, std::ostream&),
                     std::string (*text)(const Table&)) {
    std::optional<report::CsvFile> csv;
    if (args.has("csv")) csv.emplace(args.get("csv"));
    const Table c = compare();
    if (csv) {
        write_csv(c, csv->stream());
        csv->commit();
        std::cerr << "wrote " << args.get("csv") << "\n";
    }
    std::cout << text(c);
    return 0;
}

int print_comparison(const Args& args, const std::function<report::Comparison()>& compare) {
    return print_comparison<report::Comparison>(args, compare, &report::write_comparison_csv,
                                                &report::comparison_text);
}

int runs_compare(int argc, char** argv, int first) {
    Args args("context-pythia runs compare A B [--csv FILE] [--db FILE]",
              "Compares two runs, measure by measure: A, B, A - B and A / B.",
              {db_option(), {"csv", "FILE", "also write the table as CSV"}}, "A B  the two run ids",
              2);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t a = id_argument(args, 0, "run ID A"), b = id_argument(args, 1, "run ID B");
    store::RunStore store(existing_db_path(args));
    return print_comparison(args, [&] { return report::compare_runs(store, a, b); });
}

int runs_export_metrics(int argc, char** argv, int first) {
    Args args("context-pythia runs export-metrics ID --csv FILE [--db FILE]",
              "Writes every metric point of a run as CSV in long format.",
              {db_option(), {"csv", "FILE", "the CSV file to write (required)"}}, "ID  the run", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t id = id_argument(args, 0, "run ID");
    if (!args.has("csv")) throw Error("runs export-metrics needs --csv FILE");
    store::RunStore store(existing_db_path(args));
    store.run(id);  // unknown id: refused before the file is created
    const auto started = std::chrono::steady_clock::now();
    std::int64_t rows = 0;
    write_csv(args.get("csv"),
              [&](std::ostream& out) { rows = report::write_metrics_csv(store, id, out); });
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << "wrote " << rows << " points to " << args.get("csv") << " in " << s << " s\n";
    return 0;
}

int runs_delete(int argc, char** argv, int first) {
    Args args("context-pythia runs delete ID [--yes] [--db FILE]",
              "Deletes a run with its metric points and results (its checkpoint file stays).",
              {db_option(), {"yes", "", "do not ask"}}, "ID  the run", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t id = id_argument(args, 0, "run ID");
    store::RunStore store(existing_db_path(args));
    const store::RunRow r = store.run(id);
    if (const std::string why = store::RunStore::deletion_refusal(r); !why.empty())
        throw Error(why);
    if (!args.has("yes")) {
        std::cerr << "Delete run " << id << " (" << r.model << " " << r.phase << ", " << r.status
                  << ", " << store.metric_count(id) << " metric points)? [y/N] " << std::flush;
        std::string answer;
        if (!std::getline(std::cin, answer) ||
            (answer != "y" && answer != "Y" && answer != "yes")) {
            std::cerr << "not deleted\n";
            return 1;
        }
    }
    store.delete_run(id);
    std::cerr << "deleted run " << id << "\n";
    return 0;
}

int experiments_list(int argc, char** argv, int first) {
    Args args("context-pythia experiments list [--json] [--db FILE]",
              "Lists the experiments with their runs.",
              {db_option(), {"json", "", "one JSON array on stdout"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    store::RunStore store(existing_db_path(args));
    json out = json::array();
    std::map<std::int64_t, std::vector<store::RunRow>> runs;
    for (auto& r : store.runs()) runs[r.experiment_id].push_back(r);
    for (const store::ExperimentRow& e : store.experiments()) {
        json run_ids = json::array();
        for (const auto& r : runs[e.id])
            run_ids.push_back(
                {{"id", r.id},
                 {"model", model::design_key(r.model)},
                 {"phase", store::phase_key(r.phase)},
                 {"status", store::status_key(r.status)},
                 {"cache_policy", r.cache_policy}});
        json params = json::parse(e.params_json, nullptr, false);
        out.push_back({{"id", e.id},
                       {"name", e.name},
                       {"created_at", e.created_at},
                       {"params", params.is_discarded() ? json(e.params_json) : params},
                       {"seed_group", e.group_uid},
                       {"runs", run_ids}});
    }
    if (args.has("json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (out.empty()) std::cout << "(no experiments yet: start one with 'context-pythia run')\n";
    for (const json& e : out) {
        const std::string group = e["seed_group"].get<std::string>();
        std::cout << e["id"].get<std::int64_t>() << "  " << e["created_at"].get<std::string>()
                  << "  " << e["name"].get<std::string>()
                  << (group.empty() ? "" : "  [seed group " + group.substr(0, 8) + "]") << "\n";
        for (const json& r : e["runs"])
            std::cout << "     run " << r["id"].get<std::int64_t>() << "  "
                      << r["model"].get<std::string>() << " " << r["phase"].get<std::string>()
                      << "  " << r["status"].get<std::string>()
                      << (r["cache_policy"].get<std::string>().empty()
                              ? ""
                              : "  under " + r["cache_policy"].get<std::string>())
                      << "\n";
    }
    return 0;
}

int experiments_compare(int argc, char** argv, int first) {
    Args args("context-pythia experiments compare ID [--this-seed] [--reference KEY] [--csv FILE] "
              "[--db FILE]",
              "Compares the designs an experiment trained: one column per design, each measure\n"
              "beside the design's parameters, tokens trained and measured KV bytes per token,\n"
              "with its ratio to Pythia; then each design's KV cache against Pythia's: the\n"
              "claim, the measurement and the formula of its config, flagged when they differ.\n"
              "An experiment of a seed group (run --seeds N) shows the whole group: mean ± sd,\n"
              "95% t-intervals and each design's paired difference to Pythia over the seeds.\n"
              "--reference puts another column in Pythia's place for the ratios and the\n"
              "paired differences (the KV check stays against Pythia).",
              {db_option(),
               {"csv", "FILE", "also write the table as CSV"},
               {"reference", "KEY",
                "the column the ratios and paired differences are to: a design "
                "(projection-256) or a design under a policy (pythia+int8:...); default pythia"},
               {"this-seed", "", "only this experiment, not its seed group"}},
              "ID  the experiment", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t id = id_argument(args, 0, "experiment ID");
    store::RunStore store(existing_db_path(args));
    return print_comparison<report::DesignComparison>(
        args,
        [&] {
            return report::compare_designs(store, id, args.has("this-seed"),
                                           args.has("reference") ? args.get("reference") : "");
        },
        &report::write_design_csv, &report::design_comparison_text);
}

int experiments_report(int argc, char** argv, int first) {
    Args args("context-pythia experiments report ID --out FILE.html|FILE.pdf [--db FILE]",
              "Writes the experiment's report: the question and parameters, the comparison\n"
              "table with intervals and verdicts, the loss curves, the measured KV memory, the\n"
              "Pareto view, the context-diversity plots and the reproducibility stamp. HTML is\n"
              "one self-contained file (plots inline as SVG); PDF draws the plots as vectors.",
              {db_option(), {"out", "FILE", "the report to write: .html or .pdf (required)"}},
              "ID  the experiment (a seed group's member: the whole group)", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t id = id_argument(args, 0, "experiment ID");
    const std::string out = args.get("out");
    const auto ends_with = [&](const char* ext) {
        return out.size() > 5 && out.compare(out.size() - 5, 5, ext) == 0;
    };
    if (out.empty()) throw Error("experiments report needs --out FILE.html or FILE.pdf");
    if (ends_with(".pdf"))
        throw Error("PDF reports are written by context-pythia-report (the Qt build): build it "
                    "with scripts/build.sh, or ask for --out FILE.html");
    if (!ends_with(".html")) throw Error("--out must end in .html or .pdf (got '" + out + "')");
    store::RunStore store(existing_db_path(args));
    write_file_atomic(out, report::report_html(report::build_report(store, id)));
    std::cerr << "wrote " << out << "\n";
    return 0;
}

int experiments_export(int argc, char** argv, int first) {
    Args args("context-pythia experiments export --csv FILE [--sweep UID] [--db FILE]",
              "Writes the sweep summary: one row per experiment x model, its parameters as\n"
              "columns, then its key results; with --sweep, that sweep's cells alone.",
              {db_option(), {"csv", "FILE", "the CSV file to write (required)"},
               {"sweep", "UID", "only the cells of this sweep ('context-pythia sweep' prints it)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (!args.has("csv")) throw Error("experiments export needs --csv FILE");
    store::RunStore store(existing_db_path(args));
    write_csv(args.get("csv"),
              [&](std::ostream& out) { report::write_sweep_summary_csv(store, out, args.get("sweep")); });
    std::cerr << "wrote " << args.get("csv") << "\n";
    return 0;
}

int db_import(int argc, char** argv, int first) {
    Args args("context-pythia db import OTHER.db [--link] [--db FILE]",
              "Merges another machine's database into this one: new experiments and runs get new\n"
              "ids; runs already here are skipped, so importing twice adds nothing. The runs'\n"
              "checkpoints and side files are copied into this database's folder (FILE.files),\n"
              "each checked against the SHA-256 the other database recorded.",
              {db_option(),
               {"link", "",
                "record the other database's files where they are (checked now and before every "
                "read) instead of copying them"}},
              "OTHER.db  the database to import", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (args.positional().empty()) throw Error("missing OTHER.db (see --help)");
    store::RunStore store(db_path(args));
    const store::ImportCounts c = store.import_database(
        args.positional()[0], args.has("link") ? store::ImportFiles::link : store::ImportFiles::copy);
    std::cout << "imported " << c.experiments << " experiments, " << c.runs << " runs, "
              << c.metric_points << " metric points and " << c.results << " results from "
              << args.positional()[0] << "\n";
    if (c.files_copied > 0)
        std::cout << "copied " << c.files_copied << " files into " << store.files_folder().string()
                  << "\n";
    if (c.files_linked > 0) std::cout << "linked " << c.files_linked << " files where they are\n";
    for (const std::string& m : c.files_missing) std::cerr << "Warning: " << m << "\n";
    return 0;
}

int dispatch(const char* group, int argc, char** argv, int first,
             const std::vector<std::pair<std::string, int (*)(int, char**, int)>>& commands) {
    const std::string sub = first < argc ? argv[first] : "";
    for (const auto& [name, f] : commands)
        if (sub == name) return f(argc, argv, first + 1);
    std::string list;
    for (const auto& [name, f] : commands) list += (list.empty() ? "" : ", ") + name;
    const bool help = sub == "--help" || sub == "-h";
    (help ? std::cout : std::cerr)
        << "usage: context-pythia " << group << " COMMAND [options]\n"
        << "commands: " << list << "\n"
        << "'context-pythia " << group << " COMMAND --help' describes each.\n";
    if (!help && !sub.empty()) std::cerr << "unknown command '" << sub << "'\n";
    return help ? 0 : 2;
}

}  // namespace

int runs_anatomy(int argc, char** argv, int first) {
    Args args("context-pythia runs anatomy ID [--csv FILE] [--db FILE]",
              "The K/V anatomy of a trained run (recorded by cache-eval): per layer the spread\n"
              "(largest / median eigenvalue) of the cached K and V, and with --csv every\n"
              "eigenvalue. ID is the trained run or the anatomy's own run.",
              {db_option(), {"csv", "FILE", "also write the spectra as CSV"}}, "ID  the run", 1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    const std::int64_t id = id_argument(args, 0, "run ID");
    std::optional<report::CsvFile> csv;
    if (args.has("csv")) csv.emplace(args.get("csv"));
    store::RunStore store(existing_db_path(args));
    const store::RunRow run = store.run(id);
    std::int64_t anatomy = id;
    if (run.phase == store::Phase::phase2) {
        const auto found = report::latest_anatomy_of_run(store, id);
        if (!found)
            throw Error("run " + std::to_string(id) +
                        " has no K/V anatomy yet: record one with 'context-pythia cache-eval --run " +
                        std::to_string(id) + " --policy full'");
        anatomy = *found;
    }
    const report::KvAnatomy a = report::load_anatomy(store, anatomy);
    if (csv) {
        report::write_anatomy_csv(a, csv->stream());
        csv->commit();
        std::cerr << "wrote " << args.get("csv") << "\n";
    }
    std::cout << report::anatomy_text(a);
    return 0;
}

int runs_command(int argc, char** argv, int first) {
    return dispatch("runs", argc, argv, first,
                    {{"list", runs_list},
                     {"show", runs_show},
                     {"compare", runs_compare},
                     {"export-metrics", runs_export_metrics},
                     {"anatomy", runs_anatomy},
                     {"delete", runs_delete}});
}

int experiments_command(int argc, char** argv, int first) {
    return dispatch("experiments", argc, argv, first,
                    {{"list", experiments_list},
                     {"compare", experiments_compare},
                     {"report", experiments_report},
                     {"export", experiments_export}});
}

int db_command(int argc, char** argv, int first) {
    return dispatch("db", argc, argv, first, {{"import", db_import}});
}

}  // namespace cp::cli
