// What `context-pythia bench` is asked to measure (train/benchmark.h runs it), torch-free, with
// its parameter schema: the options, their help and defaults, and their checks are made with the
// same entry makers as the experiment's (experiment/param_builders.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/param_schema.h"
#include "experiment/experiment_params.h"
#include "model/design.h"

namespace cp::train {

struct BenchOptions {
    model::ModelSize size = model::ModelSize::tiny;
    // The designs measured side by side (Pythia always, first: the ratios are to it).
    std::vector<model::Design> models = {model::Design::pythia, model::Design::context_pythia};
    DeviceChoice device = DeviceChoice::automatic;
    model::Precision precision = model::Precision::fp32;  // bf16: autocast
    std::int64_t batch = 8;
    std::int64_t seq_length = 128;
    std::int64_t steps = 10;             // timed training steps per model
    std::int64_t warmup_steps = 2;       // untimed, first (allocator, kernels, caches)
    std::int64_t generate_tokens = 512;  // cache length reached by greedy decoding
    double peak_tflops = 0;              // 0: stated for known GPUs, measured matmul peak on a CPU
    std::int64_t threads = 0;            // torch CPU threads; 0: torch's choice
    // fused: libtorch 2.x's scaled_dot_product_attention (1.13 has none: always explicit);
    // explicit: the softmax(QK^T)V path, to measure what the fused kernel changes.
    std::string attention = "fused";
    std::string command;  // the command line, recorded in the JSON
    // A folder: each model's timed training steps are traced with libtorch's profiler into
    // <folder>/<design>-trace.json (Chrome trace format; tests/benchmarks/profile_summary.py
    // sums it by operator). Empty: no profiling.
    std::string profile_dir;

    // Every problem (each field's own check, then the limits of the 70m presets); throws
    // cp::Error listing them.
    void validate() const;
};

const std::vector<BasicParamSpec<BenchOptions>>& bench_schema();

}  // namespace cp::train
