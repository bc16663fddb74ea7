// The baselines a language model must beat to have learned anything: the unigram and bigram
// distributions of its training tokens, each smoothed with the value that does best on the
// validation chunks and then evaluated on the test chunks (MODEL_SPEC §5). Choosing the smoothing
// on validation keeps the bar honest: add-one smoothing over a 50,304-id vocabulary on a few
// thousand training tokens puts the unigram far above what it reaches when tuned, and a model
// can "beat" that bar without having learned even the token frequencies.
#pragma once

#include <cstdint>
#include <vector>

namespace cp {

// Chunks as the model reads them, row-major: each row `width` tokens; position 0 is context
// only, positions 1..width-1 are the targets (each predicted from the one before).
struct TokenChunks {
    std::vector<std::int64_t> tokens;
    std::int64_t width = 0;
};

// Perplexity of `targets` (their positions 1..width-1) under the unigram of `training`'s targets,
// additively smoothed: p(t) = (count(t) + alpha) / (N + alpha * vocab). Ids outside [0, vocab)
// are ignored; `vocab` itself when there is no target.
double unigram_chunk_perplexity(const TokenChunks& training, const TokenChunks& targets,
                                std::int64_t vocab, double alpha);

// Perplexity of `targets` under the bigram of `training` (pairs within a row), interpolated with
// the smoothed unigram: p(t | s) = lambda * count(s, t) / count(s) + (1 - lambda) * p_unigram(t),
// and p_unigram(t) alone when s never preceded a training target.
double bigram_chunk_perplexity(const TokenChunks& training, const TokenChunks& targets,
                               std::int64_t vocab, double alpha, double lambda);

// The values searched: alpha on a log grid from 1e-4 to 10 (25 values), lambda from 0 to 0.95 in
// steps of 0.05.
std::vector<double> unigram_alpha_grid();
std::vector<double> bigram_lambda_grid();

struct NgramBaselines {
    double unigram_alpha = 1, unigram_val_ppl = 0, unigram_test_ppl = 0;
    double bigram_lambda = 0, bigram_val_ppl = 0, bigram_test_ppl = 0;
};

// alpha chosen by the lowest unigram perplexity on `validation`, then lambda by the lowest bigram
// perplexity on `validation` at that alpha (the first of equals); both evaluated on `test`.
NgramBaselines ngram_baselines(const TokenChunks& training, const TokenChunks& validation,
                               const TokenChunks& test, std::int64_t vocab);

}  // namespace cp
