// `context-pythia bench`: one JSON object of measured speeds (core/train/benchmark.h).
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "train/benchmark.h"
#include "experiment/param_schema.h"

namespace cp::cli {

int bench_command(int argc, char** argv, int first) {
    const train::BenchOptions defaults;
    Args args(
        "context-pythia bench [options]",
        "Trains each design for a few steps on real text (Brown) and decodes with the KV cache,\n"
        "then prints one JSON object: device, dtype, batch, seq, train tokens/s and MFU of each\n"
        "model, cached generation tokens/s, and KV bytes per token from the cache tensors (and,\n"
        "on CUDA, from the caching allocator). Keep results under docs/benchmarks/.",
        {{"size", "tiny|70m", "every design's presets (default: tiny)"},
         {"models", "DESIGN,...",
          "designs side by side, Pythia always first (default: pythia,context-pythia; all)"},
         {"device", "auto|cpu|cuda", "(default: auto = cuda when available)"},
         {"dtype", "fp32|bf16", "bf16: autocast, weights fp32 (default: fp32)"},
         {"batch", "B", "sequences per step (default: 8)"},
         {"seq-length", "L", "tokens per sequence (default: 128)"},
         {"steps", "N", "timed training steps per model (default: 10)"},
         {"warmup", "N", "untimed steps first (default: 2)"},
         {"generate-tokens", "N", "cache length reached by decoding (default: 512)"},
         {"peak-tflops", "T",
          "peak for MFU (default: stated for H100/H200, measured matmul peak on a CPU)"},
         {"threads", "N", "torch CPU threads (default: torch's choice)"},
         {"attention", "fused|explicit",
          "fused: libtorch 2.x's scaled-dot-product attention kernel; explicit: softmax(QK^T)V "
          "(default: fused; libtorch 1.13 always runs explicit)"},
         {"out", "FILE", "also write the JSON to FILE"},
         {"profile", "DIR",
          "trace each model's timed steps with libtorch's profiler into DIR (slows them)"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    train::BenchOptions o;
    o.size = args.get("size", defaults.size);
    if (args.has("models")) {
        // The experiment's own reading of design lists (keys, 'all'), so both commands agree.
        train::ExperimentParams designs;
        train::param("models").set(designs, train::param("models").parse_text(args.get("models")));
        o.models = designs.models;
    }
    o.device = args.get("device", defaults.device);
    o.precision = args.get("dtype", defaults.precision);
    const auto integer = [&](const char* name, std::int64_t fallback) {
        return args.has(name) ? parse_int_option(name, args.get(name)) : fallback;
    };
    o.batch = integer("batch", defaults.batch);
    o.seq_length = integer("seq-length", defaults.seq_length);
    o.steps = integer("steps", defaults.steps);
    o.warmup_steps = integer("warmup", defaults.warmup_steps);
    o.generate_tokens = integer("generate-tokens", defaults.generate_tokens);
    o.threads = integer("threads", defaults.threads);
    if (args.has("peak-tflops"))
        o.peak_tflops = parse_double_option("peak-tflops", args.get("peak-tflops"));
    o.attention = args.get("attention", defaults.attention);
    o.profile_dir = args.get("profile");
    o.command = "context-pythia";
    for (int i = first - 1; i < argc; ++i) o.command += std::string(" ") + argv[i];
    o.validate();  // before any work
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
