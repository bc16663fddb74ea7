// `context-pythia sweep`: a grid of experiments (core/experiment/sweep.h) run one after another here
// (--local, resumable) or as a Slurm job array (--slurm: the script is written, submitted with
// sbatch or printed with --dry-run), each cell a `context-pythia run`; `sweep collect` merges
// the Slurm tasks' database shards with db import and says which cells are missing or failed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/db_option.h"
#include "cli/run_options.h"
#include "common/error.h"
#include "common/files.h"
#include "data/data_paths.h"
#include "report/sweep_table.h"
#include "report/tables.h"
#include "store/run_store.h"
#include "experiment/param_schema.h"
#include "experiment/sweep.h"

namespace cp::cli {
namespace fs = std::filesystem;

namespace {

fs::path self_path(char** argv) {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::absolute(argv[0]) : self;
}

// Runs `program args...`, passing the terminal through; returns its exit status (128 + signal
// when a signal ended it).
int run_child(const fs::path& program, const std::vector<std::string>& args) {
    const pid_t child = ::fork();
    if (child < 0) throw Error(std::string("cannot start a cell: ") + std::strerror(errno));
    if (child == 0) {
        std::vector<char*> argv = {const_cast<char*>(program.c_str())};
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(program.c_str(), argv.data());
        std::cerr << "error: cannot start '" << program << "': " << std::strerror(errno) << "\n";
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The cell's `run` arguments, into `db`; its checkpoints go with that database (<db>.files, one
// folder per run uid), so shards whose ids all start at 1 never share a file, and `sweep
// collect` copies them into the merged database's folder.
std::vector<std::string> cell_arguments(const train::SweepCell& cell, const std::string& db) {
    train::ExperimentParams p = cell.params;
    p.db = db;
    std::vector<std::string> args = {"run"};
    for (const std::string& a : train::reproducing_arguments(p)) args.push_back(a);
    return args;
}

std::string db_of(const Args& args, const train::ExperimentParams& p) {
    if (!p.db.empty()) return p.db;
    return db_path(args);
}

int run_local(const train::Sweep& sweep, const std::string& db,
              bool quiet, char** argv) {
    std::int64_t ran = 0, skipped = 0, failed = 0;
    const std::vector<bool> finished_before = train::finished_cells(sweep, db);
    for (const train::SweepCell& cell : sweep.cells) {
        if (finished_before[static_cast<std::size_t>(cell.index)]) {
            std::cout << "cell " << cell.index << " (" << cell.label() << "): finished before, skipped\n";
            ++skipped;
            continue;
        }
        std::cout << "cell " << cell.index << " of " << sweep.cells.size() << " (" << cell.label()
                  << ")\n"
                  << std::flush;
        std::vector<std::string> cell_args = cell_arguments(cell, db);
        if (quiet) cell_args.push_back("--quiet");  // each cell's progress line, not its summary
        const int status = run_child(self_path(argv), cell_args);
        ++ran;
        if (status == 130 || status == 128 + SIGINT || status == 128 + SIGTERM) {
            std::cout << "stopped at cell " << cell.index
                      << ": run the same command again to go on (finished cells are skipped)\n";
            return 130;
        }
        if (status != 0) {
            ++failed;
            std::cout << "cell " << cell.index << " did not finish (exit " << status
                      << "); the next cells go on, and a re-run retries it\n";
        }
    }
    std::cout << "sweep " << sweep.uid << ": " << ran << " cells run, " << skipped
              << " skipped (finished before), " << failed << " failed; the table: "
              << "'context-pythia experiments export --sweep " << sweep.uid << " --csv FILE'\n";
    return failed ? 1 : 0;
}

int submit_slurm(const train::Sweep& sweep, const fs::path& folder, const Args& args, char** argv) {
    const fs::path path = train::write_slurm_job(sweep, folder, self_path(argv), args.all("sbatch"));
    if (args.has("dry-run")) {
        std::cout << read_file(path);
        std::cerr << "wrote " << path.string() << " (not submitted: --dry-run)\n";
        return 0;
    }
    std::cerr << "submitting " << path.string() << " with sbatch\n";
    const int status = run_child("/bin/sh", {"-c", "exec sbatch " + train::shell_quote(path.string())});
    if (status == 127)
        throw Error("sbatch was not found: is Slurm installed here? (--dry-run writes and prints "
                    "the script without submitting)");
    if (status != 0) throw Error("sbatch refused the job array (exit " + std::to_string(status) + ")");
    std::cout << "collect the shards when the array is done: context-pythia sweep collect "
                 "--sweep-dir "
              << train::shell_quote(fs::absolute(folder).string()) << "\n";
    return 0;
}

int sweep_run(int argc, char** argv, int first) {
    std::vector<Option> options = run_options();
    // --samples, --seq-length and --epochs may come from the grid: not required here.
    options.push_back({"grid", "KEY=V1,V2,...", "a parameter and its values (repeatable; a list's alternatives separated by ';')", true});
    options.push_back({"local", "", "run the cells one after another here (resumable)"});
    options.push_back({"slurm", "", "write a Slurm job array (one task per cell) and submit it"});
    options.push_back({"dry-run", "", "with --slurm: write and print the script, do not submit"});
    options.push_back({"sbatch", "FLAG", "with --slurm: an #SBATCH flag, e.g. --sbatch=--time=01:00:00 (repeatable)", true});
    options.push_back({"sweep-dir", "DIR", "the sweep's folder (default: <data>/sweeps/<uid>)"});
    options.push_back({"sweep-name", "NAME", "a name for the sweep (default: sweep <uid>)"});
    Args args("context-pythia sweep --grid KEY=V1,V2 [--grid ...] (--local | --slurm [--dry-run]) "
              "[run options]",
              "Expands the grid into experiments (with --seeds N, a seed group each) in one sweep.\n"
              "--local runs them here one after another; the same command again skips finished\n"
              "cells and retries failed ones. --slurm writes a job array, each task running its\n"
              "cell into its own database shard; 'sweep collect' merges the shards.\n"
              "Also: sweep run-cell (a Slurm task), sweep collect, sweep status, sweep select.",
              options);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (args.has("local") == args.has("slurm"))
        throw Error("choose where the sweep runs: --local (here) or --slurm (a job array)");
    std::vector<train::GridAxis> grid;
    for (const std::string& g : args.all("grid")) grid.push_back(train::parse_grid_axis(g));
    const train::ExperimentParams base = params_from(args);
    const train::Sweep sweep = train::make_sweep(base, grid, args.get("sweep-name"));
    const fs::path folder = args.has("sweep-dir") ? fs::path(args.get("sweep-dir"))
                                                  : train::default_sweep_folder(sweep);
    if (fs::exists(train::manifest_path(folder)) && train::read_manifest(folder).uid != sweep.uid)
        throw Error("'" + folder.string() + "' holds another sweep: choose another --sweep-dir");
    train::write_manifest(sweep, folder);
    std::cerr << "sweep " << sweep.uid << " ('" << sweep.name << "'): " << sweep.cells.size()
              << " cells, folder " << folder.string() << "\n";
    if (args.has("slurm")) return submit_slurm(sweep, folder, args, argv);
    return run_local(sweep, db_of(args, base), args.has("quiet"), argv);
}

int sweep_run_cell(int argc, char** argv, int first) {
    Args args("context-pythia sweep run-cell --sweep-dir DIR --cell I",
              "Runs one cell of a sweep into its database shard (what each Slurm task does).",
              {{"sweep-dir", "DIR", "the sweep's folder (required)"},
               {"cell", "I", "the cell (required)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (!args.has("sweep-dir") || !args.has("cell"))
        throw Error("sweep run-cell needs --sweep-dir DIR and --cell I");
    const fs::path folder = args.get("sweep-dir");
    const train::Sweep sweep = train::read_manifest(folder);
    const std::int64_t i = parse_int_option("cell", args.get("cell"));
    if (i < 0 || i >= static_cast<std::int64_t>(sweep.cells.size()))
        throw Error("--cell " + std::to_string(i) + " is outside 0.." +
                    std::to_string(sweep.cells.size() - 1));
    const train::SweepCell& cell = sweep.cells[static_cast<std::size_t>(i)];
    std::cout << "sweep " << sweep.uid << " cell " << i << " (" << cell.label() << ")\n" << std::flush;
    return run_child(self_path(argv),
                     cell_arguments(cell, train::shard_path(folder, i).string()));
}

void print_states(const train::Sweep& sweep, const std::vector<train::CellState>& states) {
    for (const train::CellState& s : states) {
        std::cout << "  cell " << s.cell << " (" << sweep.cells[static_cast<std::size_t>(s.cell)].label()
                  << "): ";
        if (s.finished) {
            std::cout << "finished, experiment";
            for (std::int64_t e : s.experiments) std::cout << " " << e;
        } else {
            std::cout << (s.experiments.empty() ? "MISSING" : "FAILED") << ": " << s.problem;
        }
        std::cout << "\n";
    }
}

int sweep_collect(int argc, char** argv, int first) {
    Args args("context-pythia sweep collect --sweep-dir DIR [--db FILE]",
              "Merges the sweep's database shards (one per Slurm task) into the database with\n"
              "db import (twice adds nothing), then says which cells are missing or failed.",
              {{"sweep-dir", "DIR", "the sweep's folder (required)"},
               {"db", "FILE", "the database to merge into (default: $CP_DB or the workbench's)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (!args.has("sweep-dir")) throw Error("sweep collect needs --sweep-dir DIR");
    const fs::path folder = args.get("sweep-dir");
    const train::Sweep sweep = train::read_manifest(folder);
    const std::string db = db_path(args);
    store::RunStore store(db);
    std::int64_t shards = 0;
    for (const train::SweepCell& cell : sweep.cells) {
        const fs::path shard = train::shard_path(folder, cell.index);
        if (!fs::exists(shard)) continue;
        const store::ImportCounts c = store.import_database(shard.string());
        ++shards;
        std::cout << "cell " << cell.index << ": imported " << c.experiments << " experiments, "
                  << c.runs << " runs\n";
    }
    const auto states = train::cell_states(sweep, store);
    std::int64_t missing = 0;
    for (const auto& s : states) missing += !s.finished;
    std::cout << "sweep " << sweep.uid << ": " << shards << " shards merged into " << db << "; "
              << (sweep.cells.size() - static_cast<std::size_t>(missing)) << " of " << sweep.cells.size()
              << " cells finished\n";
    print_states(sweep, states);
    return missing ? 1 : 0;
}

int sweep_status(int argc, char** argv, int first) {
    Args args("context-pythia sweep status --sweep-dir DIR [--db FILE]",
              "Says for each cell of the sweep whether the database holds it finished.",
              {{"sweep-dir", "DIR", "the sweep's folder (required)"},
               {"db", "FILE", "the database (default: $CP_DB or the workbench's)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (!args.has("sweep-dir")) throw Error("sweep status needs --sweep-dir DIR");
    const train::Sweep sweep = train::read_manifest(args.get("sweep-dir"));
    store::RunStore store(existing_db_path(args));
    const auto states = train::cell_states(sweep, store);
    print_states(sweep, states);
    for (const auto& s : states)
        if (!s.finished) return 1;
    return 0;
}

int sweep_select(int argc, char** argv, int first) {
    Args args("context-pythia sweep select --sweep UID --select-on val [--db FILE]",
              "Tuning on validation only: for each design, the cell of the sweep whose run\n"
              "reached the lowest best validation perplexity, with the values it was trained\n"
              "with and only that run's test numbers (no test number chooses a value).",
              {{"sweep", "UID", "the sweep (its uid: 'experiments export --sweep' and the Sweeps view "
                                "name it) (required)"},
               {"select-on", "val", "what selects: val, the best validation perplexity (required)"},
               {"db", "FILE", "the database (default: $CP_DB or the workbench's)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    if (!args.has("sweep")) throw Error("sweep select needs --sweep UID");
    if (!args.has("select-on") || args.get("select-on") != "val")
        throw Error("sweep select needs --select-on val (the validation perplexity; test numbers "
                    "never select)");
    store::RunStore store(existing_db_path(args));
    const report::SweepSelection s =
        report::select_on_validation(report::sweep_summary(store, args.get("sweep")));
    const auto cells = report::selection_table_cells(s);
    std::cout << "Selected on validation perplexity; test numbers of the selected runs only:\n"
              << report::text_table(cells, std::vector<bool>(cells.front().size(), false));
    return 0;
}

}  // namespace

int sweep_command(int argc, char** argv, int first) {
    if (argc > first) {
        const std::string sub = argv[first];
        if (sub == "run-cell") return sweep_run_cell(argc, argv, first + 1);
        if (sub == "collect") return sweep_collect(argc, argv, first + 1);
        if (sub == "status") return sweep_status(argc, argv, first + 1);
        if (sub == "select") return sweep_select(argc, argv, first + 1);
    }
    return sweep_run(argc, argv, first);
}

}  // namespace cp::cli
