// The names of metric series and run results, shared by the code that records them (Phase 1,
// Phase 2, evaluation) and the code that reads them (plots, comparison, run table, exports), so
// that a renamed metric is a compile error rather than an empty plot.
#pragma once

#include <cstdint>
#include <string>

namespace cp::names {

// ---- per-step / per-epoch / per-iteration series (metrics table) ----
inline constexpr const char* train_loss = "train_loss";
inline constexpr const char* train_loss_epoch = "train_loss_epoch";
inline constexpr const char* train_accuracy = "train_accuracy";
inline constexpr const char* val_loss = "val_loss";
inline constexpr const char* val_ppl = "val_ppl";
inline constexpr const char* val_accuracy = "val_accuracy";
inline constexpr const char* seconds_per_epoch = "seconds_per_epoch";
inline constexpr const char* train_tokens_per_second = "train_tokens_per_second";
inline constexpr const char* kv_bytes = "kv_bytes";  // step = cache length
// Mean cross-entropy of the scored test chunks at each position (step = the position, 1-based;
// past position 64 the first position of a bucket, every bucket's mean): does a design or a
// policy use its context?
inline constexpr const char* loss_by_position = "loss_by_position";
// Each test chunk's mean loss (step = the chunk's index) and the held-out document it begins in:
// what the comparison resamples for its intervals over documents.
inline constexpr const char* test_chunk_loss = "test_chunk_loss";
inline constexpr const char* test_chunk_document = "test_chunk_document";
// Each test chunk's token accuracy (step = the chunk's index), resampled like its loss.
inline constexpr const char* test_chunk_accuracy = "test_chunk_accuracy";
// Each last-word passage's outcome, 1 right or 0 wrong (step = the passage's index): the unit
// the comparison resamples for last-word accuracy (every passage its own text).
inline constexpr const char* last_word_passage_correct = "last_word_passage_correct";
// Each last-word passage's target negative log-likelihood, summed over the target's tokens (step =
// the passage's index): resampled by passage for the per-passage perplexity's interval.
inline constexpr const char* last_word_passage_nll = "last_word_passage_nll";
// Phase 1
inline constexpr const char* oacd_loss = "oacd_loss";
inline constexpr const char* dispersion_term = "dispersion_term";
inline constexpr const char* centroid_term = "centroid_term";
inline constexpr const char* convergence_rate = "convergence_rate";
// Two effective ranks, named apart (MODEL_SPEC §3): of the noisy parallel fixed-point iterate
// the loss sees, and of the contexts Phase 2 reads (the block run as a recurrence over a fixed
// held-out sample, no noise). Claims about diversity use context_rank.
inline constexpr const char* iterate_rank = "iterate_rank";
inline constexpr const char* iterate_rank_pct = "iterate_rank_pct";
inline constexpr const char* context_rank = "context_rank";
inline constexpr const char* context_rank_pct = "context_rank_pct";
inline constexpr const char* skipped_batches = "skipped_batches";  // non-finite OACD loss
// Before Phase 2 runs: earlier databases logged the iterate's rank under this name.
inline constexpr const char* effective_rank = "effective_rank";
inline constexpr const char* effective_rank_pct = "effective_rank_pct";
inline constexpr const char* mean_pairwise_cosine = "mean_pairwise_cosine";
inline constexpr const char* dispersion = "dispersion";
inline constexpr const char* seconds = "seconds";

// ---- results (one value per run) ----
inline constexpr const char* parameters_total = "parameters_total";
inline constexpr const char* parameters_trainable = "parameters_trainable";
inline constexpr const char* epochs_run = "epochs_run";
inline constexpr const char* best_epoch = "best_epoch";
inline constexpr const char* best_val_ppl = "best_val_ppl";
inline constexpr const char* best_val_loss = "best_val_loss";
inline constexpr const char* best_val_accuracy = "best_val_accuracy";
inline constexpr const char* wall_seconds = "wall_seconds";
inline constexpr const char* test_loss = "test_loss";
inline constexpr const char* test_ppl = "test_ppl";
inline constexpr const char* test_accuracy = "test_accuracy";
inline constexpr const char* test_tokens = "test_tokens";
inline constexpr const char* last_word_accuracy = "last_word_accuracy";
inline constexpr const char* last_word_ppl = "last_word_ppl";
// lm-eval-harness's lambada perplexity: exp of the mean over passages of the whole target's
// negative log-likelihood (MODEL_SPEC §5); last_word_ppl is per target token.
inline constexpr const char* last_word_ppl_per_passage = "last_word_ppl_per_passage";
// The lines of the LAMBADA file the passages came from (eval.lambada_file), when one was given.
inline constexpr const char* lambada_file_lines = "lambada_file_lines";
inline constexpr const char* last_word_passages = "last_word_passages";  // n
inline constexpr const char* last_word_correct = "last_word_correct";
// 95% Wilson score interval of the last-word accuracy.
inline constexpr const char* last_word_accuracy_low = "last_word_accuracy_low";
inline constexpr const char* last_word_accuracy_high = "last_word_accuracy_high";
// Baselines on the same test tokens (common/ngram_baselines.h): the unigram and bigram
// distributions of the run's training tokens, each smoothed with the value (additive alpha;
// interpolation lambda with the unigram) that did best on the validation chunks, and the uniform
// distribution over the model's vocabulary rows. Runs before #26 stored an add-one unigram.
inline constexpr const char* unigram_test_ppl = "unigram_test_ppl";
inline constexpr const char* unigram_alpha = "unigram_alpha";
inline constexpr const char* bigram_test_ppl = "bigram_test_ppl";
inline constexpr const char* bigram_lambda = "bigram_lambda";
// The baselines' perplexity on the validation chunks their smoothing was chosen on: what a
// validation-only criterion (the step warning's derivation) compares best_val_ppl with.
// A run started from a pretrained checkpoint (init_from): its parameters copied, derived and new.
inline constexpr const char* init_copied_parameters = "init_copied_parameters";
inline constexpr const char* init_derived_parameters = "init_derived_parameters";
inline constexpr const char* init_new_parameters = "init_new_parameters";
// 1 on the run that evaluated the pretrained checkpoint as it is, without training (#27): the
// comparison's "pretrained, no training" column.
inline constexpr const char* pretrained_as_is = "pretrained_as_is";
inline constexpr const char* unigram_val_ppl = "unigram_val_ppl";
inline constexpr const char* bigram_val_ppl = "bigram_val_ppl";
// What the test chunks span: drawn evenly across the held-out stream (data/test_chunks.h), the
// held-out documents and genres they begin in.
inline constexpr const char* test_documents = "test_documents";
// The sliding-window perplexity (eval.stride > 0): its value, the tokens it scored, the stride.
inline constexpr const char* test_ppl_strided = "test_ppl_strided";
inline constexpr const char* test_tokens_strided = "test_tokens_strided";
inline constexpr const char* eval_stride = "eval_stride";
inline constexpr const char* test_genres = "test_genres";
inline constexpr const char* uniform_ppl = "uniform_ppl";
inline constexpr const char* generation_tokens_per_second = "generation_tokens_per_second";
inline constexpr const char* iterations = "iterations";
inline constexpr const char* final_convergence_rate = "final_convergence_rate";
inline constexpr const char* converged = "converged";
inline constexpr const char* context_rank_initial = "context_rank_initial";  // untrained block
inline constexpr const char* context_rank_initial_pct = "context_rank_initial_pct";
inline constexpr const char* phase1_tokens = "phase1_tokens";  // tokens Phase 1 read
// Phase 2: target tokens the optimizer stepped on (every epoch run, the early-stopped one too).
inline constexpr const char* tokens_trained = "tokens_trained";
// The tokens trained on up to the end of the best epoch (the evaluated weights' share of them).
inline constexpr const char* tokens_to_best = "tokens_to_best";

// Evaluation under a cache policy (train/cache_eval.h): the perplexity of the positions after
// each chunk's prompt alone, the prompt's length, and the calibration the bases came from.
inline constexpr const char* test_ppl_continuation = "test_ppl_continuation";
// How the chunks were fed: `policy_prefill` tokens at once uncompressed first (0: none, the
// default), then `policy_prefill_chunk` tokens per step, each step attending to the compressed
// cache of the ones before.
inline constexpr const char* policy_prefill = "policy_prefill";
inline constexpr const char* policy_prefill_chunk = "policy_prefill_chunk";
// Against the full cache on the same tokens and steps (MODEL_SPEC §5): mean KL(p_full || p_policy)
// per scored token in nats with its 95% t-interval over chunks, and top-1 agreement; for last
// words the paired flips (full right and policy wrong, and back) with McNemar's exact p-value.
inline constexpr const char* kl_to_full = "kl_to_full";
inline constexpr const char* kl_to_full_low = "kl_to_full_low";
inline constexpr const char* kl_to_full_high = "kl_to_full_high";
inline constexpr const char* top1_agreement_to_full = "top1_agreement_to_full";
inline constexpr const char* last_word_flips_lost = "last_word_flips_lost";
inline constexpr const char* last_word_flips_gained = "last_word_flips_gained";
inline constexpr const char* last_word_mcnemar_p = "last_word_mcnemar_p";
// The bytes the cache held while the quality beside it was scored (MODEL_SPEC §5): the mean over
// the scored positions t of B(t)/t, B(L)/L at the last, and L, the scored length.
inline constexpr const char* scored_kv_bytes_per_token = "scored_kv_bytes_per_token";
inline constexpr const char* scored_kv_bytes_per_token_last = "scored_kv_bytes_per_token_last";
inline constexpr const char* scored_length = "scored_length";
// A policy given as a budget: the fraction of the full cache's scored bytes asked, and reached.
inline constexpr const char* budget_fraction = "budget_fraction";
inline constexpr const char* budget_reached = "budget_reached";
// The process's peak resident memory while it decoded the scored chunks (bytes): what
// dequantizing or rebuilding K/V costs beside the tensors kept.
inline constexpr const char* peak_rss_decoding = "peak_rss_decoding";
inline constexpr const char* calibration_tokens = "calibration_tokens";

// KV cache measured at a cache length: kv_bytes_per_token_at_512, kv_bytes_at_512, ...
inline constexpr const char* kv_bytes_per_token_at_prefix = "kv_bytes_per_token_at_";
inline constexpr const char* kv_bytes_at_prefix = "kv_bytes_at_";
inline constexpr const char* kv_state_bytes_at_prefix = "kv_state_bytes_at_";
// KV_METHODS.md's formula for the same cache, from the model's config (values per token, not
// bytes): shown beside the measurement, never instead of it.
inline constexpr const char* kv_formula_values_per_token_at_prefix = "kv_formula_values_per_token_at_";
inline std::string kv_formula_values_per_token_at(std::int64_t tokens) {
    return kv_formula_values_per_token_at_prefix + std::to_string(tokens);
}
inline std::string kv_bytes_per_token_at(std::int64_t tokens) {
    return kv_bytes_per_token_at_prefix + std::to_string(tokens);
}
inline std::string kv_bytes_at(std::int64_t tokens) {
    return kv_bytes_at_prefix + std::to_string(tokens);
}
inline std::string kv_state_bytes_at(std::int64_t tokens) {
    return kv_state_bytes_at_prefix + std::to_string(tokens);
}

}  // namespace cp::names
