#include "common/stats.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace cp {
namespace {

// The continued fraction of the regularised incomplete beta function I_x(a, b) (modified Lentz),
// converging fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
    constexpr double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 500; ++m) {
        const double m2 = 2.0 * m;
        // The even step, then the odd step, of the fraction's terms.
        for (const double term : {m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
                                  -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))}) {
            d = 1.0 + term * d;
            if (std::fabs(d) < tiny) d = tiny;
            c = 1.0 + term / c;
            if (std::fabs(c) < tiny) c = tiny;
            d = 1.0 / d;
            f *= c * d;
        }
        if (std::fabs(c * d - 1.0) < 1e-15) break;
    }
    return f;
}

double regularized_incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                             a * std::log(x) + b * std::log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
    return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

// P(T <= t) for Student's t with df degrees of freedom.
double student_t_cdf(double t, double df) {
    const double tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    return t >= 0 ? 1.0 - tail : tail;
}

}  // namespace

double student_t_quantile(double p, double df) {
    if (p == 0.5) return 0;
    if (p < 0.5) return -student_t_quantile(1.0 - p, df);
    double low = 0, high = 1;
    while (student_t_cdf(high, df) < p && high < 1e12) high *= 2;
    for (int i = 0; i < 200 && high - low > 1e-12 * high; ++i) {
        const double mid = 0.5 * (low + high);
        (student_t_cdf(mid, df) < p ? low : high) = mid;
    }
    return 0.5 * (low + high);
}

bool SeedEstimate::excludes_zero() const {
    return interval && interval->excludes_zero();
}

std::optional<SeedEstimate> estimate(const std::vector<double>& values) {
    if (values.empty()) return std::nullopt;
    SeedEstimate e;
    e.n = static_cast<std::int64_t>(values.size());
    e.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(e.n);
    if (e.n < 2) return e;
    double squares = 0;
    for (const double v : values) squares += (v - e.mean) * (v - e.mean);
    e.sd = std::sqrt(squares / static_cast<double>(e.n - 1));
    const double half = student_t_quantile(0.975, static_cast<double>(e.n - 1)) * *e.sd /
                        std::sqrt(static_cast<double>(e.n));
    e.interval = Interval{e.mean - half, e.mean + half};
    return e;
}

Interval document_bootstrap_interval(const std::vector<std::vector<double>>& a,
                                     const std::vector<std::vector<double>>& b,
                                     const std::vector<std::int64_t>& document,
                                     std::int64_t resamples, std::uint64_t seed,
                                     BootstrapScale scale) {
    const auto value = [scale](double mean) {
        return scale == BootstrapScale::exp_of_mean ? std::exp(mean) : mean;
    };
    // The chunks of each document.
    std::map<std::int64_t, std::vector<std::size_t>> chunks_of;
    for (std::size_t i = 0; i < document.size(); ++i) chunks_of[document[i]].push_back(i);
    std::vector<const std::vector<std::size_t>*> docs;
    for (const auto& [d, chunks] : chunks_of) docs.push_back(&chunks);
    if (docs.empty() || a.empty() || a.size() != b.size() || resamples < 1) return {};
    std::mt19937_64 rng(seed);
    std::vector<double> differences;
    differences.reserve(static_cast<std::size_t>(resamples));
    std::vector<std::int64_t> weight(docs.size());
    for (std::int64_t r = 0; r < resamples; ++r) {
        std::fill(weight.begin(), weight.end(), 0);
        for (std::size_t k = 0; k < docs.size(); ++k) ++weight[rng() % docs.size()];
        double difference = 0;
        for (std::size_t s = 0; s < a.size(); ++s) {
            double sum_a = 0, sum_b = 0, n = 0;
            for (std::size_t d = 0; d < docs.size(); ++d) {
                if (weight[d] == 0) continue;
                const double w = static_cast<double>(weight[d]);
                for (std::size_t i : *docs[d]) {
                    sum_a += w * a[s][i];
                    sum_b += w * b[s][i];
                    n += w;
                }
            }
            difference += value(sum_a / n) - value(sum_b / n);
        }
        differences.push_back(difference / static_cast<double>(a.size()));
    }
    std::sort(differences.begin(), differences.end());
    const double last = static_cast<double>(differences.size() - 1);
    return {differences[static_cast<std::size_t>(std::floor(0.025 * last))],
            differences[static_cast<std::size_t>(std::ceil(0.975 * last))]};
}

double unigram_perplexity(const std::vector<std::int64_t>& training,
                          const std::vector<std::int64_t>& targets, std::int64_t vocab) {
    std::vector<double> counts(static_cast<std::size_t>(std::max<std::int64_t>(vocab, 1)), 1.0);
    double total = static_cast<double>(counts.size());
    for (const std::int64_t t : training)
        if (t >= 0 && t < vocab) {
            counts[static_cast<std::size_t>(t)] += 1.0;
            total += 1.0;
        }
    double nll = 0;
    std::int64_t n = 0;
    for (const std::int64_t t : targets)
        if (t >= 0 && t < vocab) {
            nll -= std::log(counts[static_cast<std::size_t>(t)] / total);
            ++n;
        }
    return n == 0 ? static_cast<double>(vocab) : std::exp(nll / static_cast<double>(n));
}

double mcnemar_exact_p(std::int64_t b, std::int64_t c) {
    const std::int64_t n = b + c, k = std::min(b, c);
    if (n <= 0) return 1.0;
    // P(X <= k) for X ~ Binomial(n, 1/2), each term exp(log C(n, i) - n log 2).
    double tail = 0;
    for (std::int64_t i = 0; i <= k; ++i)
        tail += std::exp(std::lgamma(static_cast<double>(n) + 1) -
                         std::lgamma(static_cast<double>(i) + 1) -
                         std::lgamma(static_cast<double>(n - i) + 1) -
                         static_cast<double>(n) * std::log(2.0));
    return std::min(1.0, 2.0 * tail);
}

}  // namespace cp
