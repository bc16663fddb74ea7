// What the CLI asks of a model, without torch in the interface: initialise a checkpoint, count
// parameters and measure the KV cache, score a text, generate.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace cp::model {

// Writes a freshly initialised model of `preset` (MODEL_SPEC.md's init) for `seed`.
void init_checkpoint(const std::string& preset, std::uint64_t seed,
                     const std::filesystem::path& out);

struct ModelInfo {
    ModelConfig config;
    ParameterCounts parameters;
    std::vector<KvMeasurement> kv;  // one per requested length
};

// Builds the preset's model and measures its cache after decoding `prompt_ids` and then its own
// greedy continuation one token at a time, up to each length in `lengths` (ascending).
ModelInfo model_info(const std::string& preset, const std::vector<std::int64_t>& prompt_ids,
                     const std::vector<std::int64_t>& lengths);

struct ScoreResult {
    std::vector<std::int64_t> ids;
    std::vector<double> logprobs;  // logprobs[i] = ln p(ids[i+1] | ids[0..i])
    double nll = 0;                // mean of -logprobs
    double ppl = 0;                // exp(nll)
};
ScoreResult score(const std::filesystem::path& checkpoint, const std::vector<std::int64_t>& ids);

struct SamplingOptions {
    std::int64_t max_tokens = 64;
    double temperature = 0.0;  // 0: greedy
    std::int64_t top_k = 0;    // 0: the whole vocabulary
    std::uint64_t seed = 0;
    bool stop_at_end_of_text = true;
};
// The continuation's ids (prompt not included), decoded with the KV cache.
std::vector<std::int64_t> generate(const std::filesystem::path& checkpoint,
                                   const std::vector<std::int64_t>& prompt_ids,
                                   const SamplingOptions& options);

}  // namespace cp::model
