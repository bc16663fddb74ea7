// Small, exact statistics for reports: a binomial proportion's 95% Wilson score interval (used
// beside every accuracy measured on n items, MODEL_SPEC §5).
#pragma once

#include <cmath>
#include <cstdint>

namespace cp {

struct Interval {
    double low = 0, high = 0;
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
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

}  // namespace cp
