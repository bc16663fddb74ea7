#include "common/ngram_baselines.h"

#include <cmath>
#include <limits>
#include <unordered_map>

namespace cp {

namespace {

// The training counts, gathered once for every smoothing value searched.
struct NgramCounts {
    std::int64_t vocab = 0;
    std::vector<double> unigram;  // count of each id as a target
    double targets = 0;           // N
    std::vector<double> context;  // count of each id as the token before a target
    std::unordered_map<std::uint64_t, double> bigram;  // (s, t) -> count

    std::uint64_t key(std::int64_t s, std::int64_t t) const {
        return static_cast<std::uint64_t>(s) * static_cast<std::uint64_t>(vocab) +
               static_cast<std::uint64_t>(t);
    }
    bool valid(std::int64_t id) const { return id >= 0 && id < vocab; }
};

// Calls f(previous, target) for every target of the chunks (positions 1..width-1 of each row).
template <typename F>
void for_each_pair(const TokenChunks& chunks, F f) {
    if (chunks.width < 2) return;
    const std::size_t w = static_cast<std::size_t>(chunks.width);
    for (std::size_t row = 0; row + w <= chunks.tokens.size(); row += w)
        for (std::size_t i = 1; i < w; ++i) f(chunks.tokens[row + i - 1], chunks.tokens[row + i]);
}

NgramCounts count(const TokenChunks& training, std::int64_t vocab) {
    NgramCounts c;
    c.vocab = std::max<std::int64_t>(vocab, 1);
    c.unigram.assign(static_cast<std::size_t>(c.vocab), 0.0);
    c.context.assign(static_cast<std::size_t>(c.vocab), 0.0);
    for_each_pair(training, [&](std::int64_t s, std::int64_t t) {
        if (!c.valid(t)) return;
        c.unigram[static_cast<std::size_t>(t)] += 1;
        c.targets += 1;
        if (!c.valid(s)) return;
        c.context[static_cast<std::size_t>(s)] += 1;
        c.bigram[c.key(s, t)] += 1;
    });
    return c;
}

double unigram_p(const NgramCounts& c, std::int64_t t, double alpha) {
    return (c.unigram[static_cast<std::size_t>(t)] + alpha) /
           (c.targets + alpha * static_cast<double>(c.vocab));
}

double bigram_p(const NgramCounts& c, std::int64_t s, std::int64_t t, double alpha,
                double lambda) {
    const double uni = unigram_p(c, t, alpha);
    if (!c.valid(s) || c.context[static_cast<std::size_t>(s)] == 0) return uni;
    const auto it = c.bigram.find(c.key(s, t));
    const double pair = it == c.bigram.end() ? 0.0 : it->second;
    return lambda * pair / c.context[static_cast<std::size_t>(s)] + (1 - lambda) * uni;
}

// exp of the mean negative log-probability of the valid targets; vocab when there is none.
template <typename P>
double perplexity(const NgramCounts& c, const TokenChunks& targets, P p) {
    double nll = 0;
    std::int64_t n = 0;
    for_each_pair(targets, [&](std::int64_t s, std::int64_t t) {
        if (!c.valid(t)) return;
        nll -= std::log(p(s, t));
        ++n;
    });
    return n == 0 ? static_cast<double>(c.vocab) : std::exp(nll / static_cast<double>(n));
}

double unigram_ppl(const NgramCounts& c, const TokenChunks& targets, double alpha) {
    return perplexity(c, targets, [&](std::int64_t, std::int64_t t) { return unigram_p(c, t, alpha); });
}

double bigram_ppl(const NgramCounts& c, const TokenChunks& targets, double alpha, double lambda) {
    return perplexity(c, targets,
                      [&](std::int64_t s, std::int64_t t) { return bigram_p(c, s, t, alpha, lambda); });
}

}  // namespace

double unigram_chunk_perplexity(const TokenChunks& training, const TokenChunks& targets,
                                std::int64_t vocab, double alpha) {
    return unigram_ppl(count(training, vocab), targets, alpha);
}

double bigram_chunk_perplexity(const TokenChunks& training, const TokenChunks& targets,
                               std::int64_t vocab, double alpha, double lambda) {
    return bigram_ppl(count(training, vocab), targets, alpha, lambda);
}

std::vector<double> unigram_alpha_grid() {
    std::vector<double> grid;
    for (int i = 0; i < 25; ++i) grid.push_back(std::pow(10.0, -4.0 + 5.0 * i / 24.0));
    return grid;
}

std::vector<double> bigram_lambda_grid() {
    std::vector<double> grid;
    for (int i = 0; i < 20; ++i) grid.push_back(0.05 * i);
    return grid;
}

NgramBaselines ngram_baselines(const TokenChunks& training, const TokenChunks& validation,
                               const TokenChunks& test, std::int64_t vocab) {
    const NgramCounts c = count(training, vocab);
    NgramBaselines b;
    b.unigram_val_ppl = std::numeric_limits<double>::infinity();
    for (double alpha : unigram_alpha_grid())
        if (const double ppl = unigram_ppl(c, validation, alpha); ppl < b.unigram_val_ppl) {
            b.unigram_val_ppl = ppl;
            b.unigram_alpha = alpha;
        }
    b.unigram_test_ppl = unigram_ppl(c, test, b.unigram_alpha);
    b.bigram_val_ppl = std::numeric_limits<double>::infinity();
    for (double lambda : bigram_lambda_grid())
        if (const double ppl = bigram_ppl(c, validation, b.unigram_alpha, lambda);
            ppl < b.bigram_val_ppl) {
            b.bigram_val_ppl = ppl;
            b.bigram_lambda = lambda;
        }
    b.bigram_test_ppl = bigram_ppl(c, test, b.unigram_alpha, b.bigram_lambda);
    return b;
}

}  // namespace cp
