// Evaluation after Phase 2, the same for both models: held-out perplexity and token accuracy,
// LAMBADA-style last-word accuracy, KV bytes measured from a real cache, generation speed.
#pragma once

#include <vector>

#include "data/last_word.h"
#include "model/inference.h"
#include "model/cache_layers.h"
#include "model/models.h"
#include "experiment/experiment_params.h"
#include "experiment/progress.h"

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
    std::vector<double> chunk_loss;      // each test chunk's mean loss, in order
    std::vector<double> chunk_accuracy;  // each test chunk's token accuracy, in order
};

// The loss at each position of scored chunks, summed over the chunks (loss_by_position).
struct PositionLosses {
    std::vector<double> sum;
    std::vector<std::int64_t> count;
    std::vector<double> chunk_loss;      // each whole chunk's mean loss, when added with add_chunks
    std::vector<double> chunk_accuracy;  // each whole chunk's token accuracy, when given to it
    // losses: (B, n) cross-entropies of positions first .. first + n - 1 (0-based).
    void add(const torch::Tensor& losses, std::int64_t first);
    // losses: (B, seq) of B whole chunks: add(losses, 0) and each chunk's mean; right: (B, seq)
    // whether each position's greedy choice was the target, for each chunk's accuracy.
    void add_chunks(const torch::Tensor& losses, const torch::Tensor& right);
};
// Records each test chunk's mean loss, its token accuracy and the held-out document it begins in
// (series, step = the chunk's index), for the comparison's intervals over documents.
void record_chunk_outcomes(const std::vector<double>& chunk_loss,
                           const std::vector<double>& chunk_accuracy,
                           const std::vector<std::size_t>& chunk_document, RunLogger& log);
// Each last-word passage's outcome and its target's negative log-likelihood (summed over the
// target's tokens): what the comparison resamples for the intervals of last-word accuracy and
// of lm-eval's per-passage perplexity.
struct PassageOutcomes {
    std::vector<bool> right;
    std::vector<double> nll;
    void add(bool passage_right, const std::vector<double>& token_nll);
};
void record_passage_outcomes(const PassageOutcomes& o, RunLogger& log);
// Records the means as the loss_by_position series: positions 1..64 one point each, later ones
// in buckets of ceil((L - 64) / 64) positions (a point at each bucket's first position).
void record_loss_by_position(const PositionLosses& p, RunLogger& log);

// The bytes a cache held while it scored a chunk (MODEL_SPEC §5): the chunk's inputs (1, L) fed
// under `policy` as the scored chunks were (`uncompressed` tokens at once first when > 0, then
// `step` at a time); after each step the cache's bytes B over the t tokens read so far, B(t)/t,
// weighted by the step's positions. Every byte from the cache's tensors.
struct ScoredBytes {
    double mean_per_token = 0;  // mean over positions of B(t)/t
    double last_per_token = 0;  // B(L)/L
    std::int64_t length = 0;    // L
};
ScoredBytes scored_kv_bytes(model::CausalLm& net, const torch::Tensor& inputs,
                            const model::CachePolicy& policy, const model::KvBases* bases,
                            std::int64_t uncompressed, std::int64_t step);
void record_scored_bytes(const ScoredBytes& b, RunLogger& log);

// Hugging Face's sliding-window perplexity over each span (token ids): windows of `length`
// tokens moved `stride` at a time (data::strided_windows), each target scored once.
struct StridedPerplexity {
    double ppl = 0;
    std::int64_t tokens = 0;
};
StridedPerplexity strided_perplexity(model::CausalLm& model,
                                     const std::vector<std::vector<std::int64_t>>& spans,
                                     std::int64_t length, std::int64_t stride);

// test_chunks: (n, seq_length + 1) from the held-out documents; prompt: real text ids for the
// cache measurement. Results go to `log` as results: beside the perplexity, the loss by position
// and the bytes a full cache holds over the same chunks (scored_kv_bytes_per_token).
EvalResult evaluate_model(model::CausalLm& model, const torch::Tensor& test_chunks,
                          const std::vector<LastWordItem>& last_words,
                          const std::vector<std::int64_t>& prompt, const EvalParams& params,
                          std::int64_t batch_size, RunLogger& log, const std::atomic<bool>& stop);

}  // namespace cp::train
