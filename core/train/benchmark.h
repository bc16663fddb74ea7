// `context-pythia bench`: measured training and generation speed of both models on real text,
// as one JSON object, so machines can be put side by side. Every number comes from timed steps
// or from the cache tensors (and, on CUDA, the caching allocator); the FLOP formula only turns a
// measured tokens/s into MFU against a stated or measured peak.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/design.h"

namespace cp::train {

struct BenchOptions {
    std::string size = "tiny";       // tiny | 70m
    // The designs measured side by side (Pythia always, first: the ratios are to it).
    std::vector<model::Design> models = {model::Design::pythia, model::Design::context_pythia};
    std::string device = "auto";     // auto | cpu | cuda
    std::string precision = "fp32";  // fp32 | bf16 (autocast)
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
    std::string command;                 // the command line, recorded in the JSON
    // A folder: each model's timed training steps are traced with libtorch's profiler into
    // <folder>/<design>-trace.json (Chrome trace format; tests/benchmarks/profile_summary.py
    // sums it by operator). Empty: no profiling.
    std::string profile_dir;

    // Problems naming each bad field; throws cp::Error listing them.
    void validate() const;
};

}  // namespace cp::train
namespace cp::model {
class CausalLm;
}
namespace cp::train {

// Training FLOPs per token (MODEL_SPEC §5): 6 x the weights of every Linear that trains (the
// output head included; the embed_in lookup is no matmul), 4 x those of a frozen Linear (forward
// and input gradient, no weight gradient), plus nanoGPT's attention term 12 x layers x width x
// seq_length. Biases and norms are not counted (they are not matmuls).
double training_flops_per_token(model::CausalLm& model, std::int64_t seq_length);

// Runs the benchmark (training steps of Pythia and Context-Pythia on Brown's real text, then
// cached generation), printing nothing; returns the JSON object.
nlohmann::json run_benchmark(const BenchOptions& options);

}  // namespace cp::train
