// `context-pythia bench`: measured training and generation speed of both models on real text,
// as one JSON object, so machines can be put side by side. Every number comes from timed steps
// or from the cache tensors (and, on CUDA, the caching allocator); the FLOP formula only turns a
// measured tokens/s into MFU against a stated or measured peak.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/bench_options.h"
#include "model/design.h"

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
