// Small, exact statistics for reports: a binomial proportion's 95% Wilson score interval (used
// beside every accuracy measured on n items) and the mean of repeated seeds with its standard
// deviation and 95% Student t-interval (MODEL_SPEC §5).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

namespace cp {

struct Interval {
    double low = 0, high = 0;
    bool excludes_zero() const { return low > 0 || high < 0; }
};

// Wilson score interval of `successes` out of `n` at the normal quantile z (1.96 for 95%);
// {0, 0} when n is 0. Unlike p ± z·se it stays within [0, 1] and is not empty at p = 0 or 1.
inline Interval wilson_interval(std::int64_t successes, std::int64_t n,
                                double z = 1.959963984540054) {
    if (n <= 0) return {};
    const double nn = static_cast<double>(n), p = static_cast<double>(successes) / nn;
    const double z2 = z * z, denominator = 1.0 + z2 / nn;
    const double centre = (p + z2 / (2.0 * nn)) / denominator;
    const double half = z * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denominator;
    // At 0 or n successes the bound is exactly 0 or 1 (the formula leaves rounding residue).
    return {successes <= 0 ? 0.0 : std::max(0.0, centre - half),
            successes >= n ? 1.0 : std::min(1.0, centre + half)};
}

// The quantile of Student's t distribution with `df` degrees of freedom at probability p
// (0 < p < 1): t such that P(T <= t) = p. Exact to about 1e-9 (the incomplete beta function,
// solved by bisection); df must be positive.
double student_t_quantile(double p, double df);

// n values summarised: mean, sample standard deviation (n - 1) and the 95% t-interval of the
// mean, mean ± t(0.975, n - 1) · sd / sqrt(n). With one value the sd and interval are absent:
// one seed says nothing about the spread.
struct SeedEstimate {
    std::int64_t n = 0;
    double mean = 0;
    std::optional<double> sd;
    std::optional<Interval> interval;
    // Whether the interval lies wholly above or below zero (false without an interval).
    bool excludes_zero() const;
};
// Absent when `values` is empty.
std::optional<SeedEstimate> estimate(const std::vector<double>& values);

// McNemar's exact two-sided test of paired binary outcomes from the discordant pairs alone: `b`
// pairs right under A and wrong under B, `c` the reverse; under the null each discordant pair is
// a fair coin, p = min(1, 2 · P(Binomial(b + c, 1/2) <= min(b, c))). 1 when there is no
// discordant pair.
double mcnemar_exact_p(std::int64_t b, std::int64_t c);

// A paired difference of perplexities judged against the variation of the text (#26): the 95%
// percentile interval, over `resamples` resamplings of the held-out documents with replacement,
// of mean over seeds s of exp(mean loss of a[s]) - exp(mean loss of b[s]), each mean taken over
// the chunks of the drawn documents (a document drawn twice counts twice). a[s][i] and b[s][i]
// are chunk i's mean loss under the two sides in seed s; document[i] the document chunk i
// begins in. The same draws for every pair compared (the generator starts from `seed` each
// call), so two designs are judged on the same resampled texts. {0, 0} without chunks.
// `scale` says what a side's value is: exp of the mean (a perplexity, from chunk losses) or the
// mean itself (a loss, an accuracy, a passage's 0/1 outcome).
enum class BootstrapScale { exp_of_mean, mean };
Interval document_bootstrap_interval(const std::vector<std::vector<double>>& a,
                                     const std::vector<std::vector<double>>& b,
                                     const std::vector<std::int64_t>& document,
                                     std::int64_t resamples = 2000, std::uint64_t seed = 20261206,
                                     BootstrapScale scale = BootstrapScale::exp_of_mean);

// The perplexity on `targets` of the unigram distribution of `training` tokens, add-one smoothed
// over a vocabulary of `vocab` ids (so an unseen token costs log(N + vocab), not infinity): the
// baseline a language model must beat to have learned anything beyond token frequencies. The
// uniform distribution's perplexity is `vocab` itself. Ids outside [0, vocab) are ignored.
double unigram_perplexity(const std::vector<std::int64_t>& training,
                          const std::vector<std::int64_t>& targets, std::int64_t vocab);

}  // namespace cp
