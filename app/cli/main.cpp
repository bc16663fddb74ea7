// context-pythia: the workbench's experiments from the command line, into the same database.
#include <cstring>
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
    "  info           parameter counts and measured KV-cache bytes of a preset\n"
    "  score          log-probabilities of a text under a checkpoint\n"
    "  generate       continue a prompt with a checkpoint (KV-cached decoding)\n"
    "  run            one experiment: Phase 1, Phase 2 of both models, evaluation\n"
    "\n"
    "'context-pythia COMMAND --help' describes each command's options.\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace cp::cli;
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    try {
        if (command == "tokenize") return tokenize_command(argc, argv, 2);
        if (command == "run") return run_command(argc, argv, 2);
        if (command == "init") return init_command(argc, argv, 2);
        if (command == "info") return info_command(argc, argv, 2);
        if (command == "score") return score_command(argc, argv, 2);
        if (command == "generate") return generate_command(argc, argv, 2);
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
    } catch (const cp::Error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "internal error: " << e.what() << "\n";
        return 3;
    }
}
