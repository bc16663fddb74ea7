// Evaluation after Phase 2, the same for both models: held-out perplexity and token accuracy,
// LAMBADA-style last-word accuracy, KV bytes measured from a real cache, generation speed.
#pragma once

#include <vector>

#include "data/last_word.h"
#include "model/inference.h"
#include "model/models.h"
#include "train/experiment_params.h"
#include "train/progress.h"

namespace cp::train {

using LastWordItem = data::LastWordItem;

struct EvalResult {
    double test_loss = 0, test_ppl = 0, test_accuracy = 0;
    std::int64_t test_tokens = 0;
    double last_word_accuracy = 0, last_word_ppl = 0;
    std::int64_t last_word_passages = 0, last_word_correct = 0;      // n, and how many right
    double last_word_accuracy_low = 0, last_word_accuracy_high = 0;  // 95% Wilson interval
    std::vector<model::KvMeasurement> kv;
    double generation_tokens_per_second = 0;
};

// test_chunks: (n, seq_length + 1) from the held-out documents; prompt: real text ids for the
// cache measurement. Results go to `log` as results.
EvalResult evaluate_model(model::CausalLm& model, const torch::Tensor& test_chunks,
                          const std::vector<LastWordItem>& last_words,
                          const std::vector<std::int64_t>& prompt, const EvalParams& params,
                          std::int64_t batch_size, RunLogger& log, const std::atomic<bool>& stop);

}  // namespace cp::train
