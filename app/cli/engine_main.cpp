// context-pythia-engine: the CLI commands that need libtorch. Users call `context-pythia`, which
// execs this with the same arguments; it can also be run directly.
#include <iostream>
#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
    using namespace cp::cli;
    const std::string command = argc >= 2 ? argv[1] : "";
    return guarded([&] {
        if (command == "run") return run_command(argc, argv, 2);
        if (command == "init") return init_command(argc, argv, 2);
        if (command == "info") return info_command(argc, argv, 2);
        if (command == "score") return score_command(argc, argv, 2);
        if (command == "generate") return generate_command(argc, argv, 2);
        if (command == "bench") return bench_command(argc, argv, 2);
        if (command == "cache-eval") return cache_eval_command(argc, argv, 2);
        if (command == "convert") return convert_command(argc, argv, 2);
        std::cerr << "context-pythia-engine: unknown command '" << command
                  << "' (this program runs init, info, score, generate, run, bench, cache-eval and convert; see "
                     "'context-pythia --help')\n";
        return 2;
    });
}
