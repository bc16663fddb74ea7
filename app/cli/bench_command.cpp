// `context-pythia bench`: one JSON object of measured speeds (core/train/benchmark.h).
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/run_options.h"
#include "common/error.h"
#include "train/benchmark.h"

namespace cp::cli {

int bench_command(int argc, char** argv, int first) {
    std::vector<Option> options = options_of(train::bench_schema());
    options.push_back({"out", "FILE", "also write the JSON to FILE"});
    Args args(
        "context-pythia bench [options]",
        "Trains each design for a few steps on real text (Brown) and decodes with the KV cache,\n"
        "then prints one JSON object: device, dtype, batch, seq, train tokens/s and MFU of each\n"
        "model, cached generation tokens/s, and KV bytes per token from the cache tensors (and,\n"
        "on CUDA, from the caching allocator). Keep results under docs/benchmarks/.",
        options);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    // Every option read and checked by the schema (experiment/bench_options.h), all named at once.
    train::BenchOptions o = params_from(args, train::bench_schema(), train::BenchOptions{}, true);
    o.command = "context-pythia";
    for (int i = first - 1; i < argc; ++i) o.command += std::string(" ") + argv[i];
    o.validate();  // the limits of the presets too, before any work
    const std::string out = args.get("out");
    const nlohmann::json result = train::run_benchmark(o);
    const std::string text = result.dump(2);
    std::cout << text << "\n";
    if (!out.empty()) {
        std::ofstream file(out);
        if (!(file << text << "\n"))
            throw Error("cannot write '" + out + "' (the JSON is printed above)");
    }
    return 0;
}

}  // namespace cp::cli
