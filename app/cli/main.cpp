// context-pythia: the workbench's experiments from the command line, into the same database.
// This executable never loads libtorch, so listing, comparing and exporting start at once; the
// commands that train or run a model are handed to context-pythia-engine beside it (execv keeps
// the pid, the terminal and the signals, so Ctrl-C and kill reach the training process).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "common/error.h"

namespace {

const char* kUsage =
    "usage: context-pythia COMMAND [options]\n"
    "\n"
    "Context-Pythia workbench, headless.\n"
    "\n"
    "commands:\n"
    "  tokenize       print the token ids of a text as a JSON array\n"
    "  data prepare   build or verify the token caches and print split statistics\n"
    "  init           write a freshly initialised model checkpoint\n"
    "  info           parameter counts and measured KV-cache bytes of a preset; a\n"
    "                 converted checkpoint's record (--checkpoint)\n"
    "  score          log-probabilities of a text under a checkpoint\n"
    "  generate       continue a prompt with a checkpoint (KV-cached decoding)\n"
    "  run            one experiment: Phase 1, Phase 2 of each design, evaluation\n"
    "  bench          measured training and generation speed of the designs, as JSON\n"
    "  cache-eval     a trained model under KV-cache policies (int8, lowrank, h2o, ...)\n"
    "  convert        a design initialised from a pretrained checkpoint, with its record\n"
    "  runs           list, show, compare, export-metrics, delete the stored runs\n"
    "  experiments    list, compare (one column per design), report (HTML/PDF), export\n"
    "  db import      merge another machine's database into this one\n"
    "  sweep          a grid of experiments, here (--local) or as a Slurm job array\n"
    "\n"
    "'context-pythia COMMAND --help' describes each command's options.\n";

bool is_engine_command(const std::string& c) {
    return c == "init" || c == "info" || c == "score" || c == "generate" || c == "run" ||
           c == "bench" || c == "cache-eval" || c == "convert";
}

// A PDF report needs Qt (QPdfWriter, QSvgRenderer): context-pythia-report does it.
bool is_pdf_report(int argc, char** argv) {
    if (argc < 3 || std::strcmp(argv[1], "experiments") || std::strcmp(argv[2], "report"))
        return false;
    for (int i = 3; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.size() > 4 && a.compare(a.size() - 4, 4, ".pdf") == 0) return true;
    }
    return false;
}

[[noreturn]] void exec_helper(char** argv, const char* program) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::string engine =
        (ec ? std::filesystem::path(argv[0]).parent_path() : self.parent_path()) / program;
    argv[0] = const_cast<char*>(engine.c_str());
    ::execv(engine.c_str(), argv);
    std::cerr << "error: cannot start '" << engine << "': " << std::strerror(errno)
              << " (build it with scripts/build.sh; it belongs beside context-pythia)\n";
    std::exit(3);
}

[[noreturn]] void exec_engine(char** argv) {
    exec_helper(argv, "context-pythia-engine");
}

}  // namespace

int main(int argc, char** argv) {
    using namespace cp::cli;
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    if (is_engine_command(command)) exec_engine(argv);
    if (is_pdf_report(argc, argv)) exec_helper(argv, "context-pythia-report");
    return guarded([&] {
        if (command == "tokenize") return tokenize_command(argc, argv, 2);
        if (command == "runs") return runs_command(argc, argv, 2);
        if (command == "experiments") return experiments_command(argc, argv, 2);
        if (command == "db") return db_command(argc, argv, 2);
        if (command == "sweep") return sweep_command(argc, argv, 2);
        if (command == "data") {
            if (argc >= 3 && !std::strcmp(argv[2], "prepare"))
                return data_prepare_command(argc, argv, 3);
            std::cerr << "usage: context-pythia data prepare [options]  (see 'context-pythia data "
                         "prepare --help')\n";
            return (argc >= 3 && (!std::strcmp(argv[2], "--help") || !std::strcmp(argv[2], "-h")))
                       ? 0
                       : 2;
        }
        std::cerr << "context-pythia: unknown command '" << command << "'\n\n" << kUsage;
        return 2;
    });
}
