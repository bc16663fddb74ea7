#include "experiment/param_builders.h"

#include <cmath>
#include <limits>

#include "common/numbers.h"

namespace cp::train {
using nlohmann::json;

// A whole number from JSON, refused by name when it is not one or does not fit 64 bits (a float
// like 3e75 would otherwise be converted with undefined behaviour: found by fuzz_params).
std::int64_t whole_number(const json& v, const std::string& key) {
    if (v.is_number_unsigned() &&
        v.get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw Error("experiment parameters: " + key + " is too large");
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::trunc(d) == d && std::abs(d) < 9.2e18) return static_cast<std::int64_t>(d);
    }
    throw Error("experiment parameters: " + key + " must be a whole number (got " + v.dump() + ")");
}

double real_number(const json& v, const std::string& key) {
    if (!v.is_number())
        throw Error("experiment parameters: " + key + " must be a number (got " + v.dump() + ")");
    return v.get<double>();
}

std::string text_value(const json& v, const std::string& key) {
    if (!v.is_string())
        throw Error("experiment parameters: " + key + " must be text (got " + v.dump() + ")");
    return v.get<std::string>();
}

// The single-field rule of a real parameter: a problem message, or "".
std::string real_problem(double v, const std::string& k, RealRule rule, bool float32) {
    const std::string got = " (got " + short_number(v) + ")";
    switch (rule) {
        case RealRule::positive:
            if (!(v > 0)) return k + " must be positive" + got;
            break;
        case RealRule::non_negative:
            if (!(v >= 0)) return k + " must be zero or positive" + got;
            break;
        case RealRule::fraction_open:
            if (!(v > 0 && v < 1)) return k + " must be between 0 and 1" + got;
            break;
        case RealRule::fraction_half_open:
            if (!(v > 0 && v <= 1)) return k + " must be in (0, 1]" + got;
            break;
    }
    // The optimizers hold their hyper-parameters as float32.
    if (float32 && std::isfinite(v) && std::abs(v) > std::numeric_limits<float>::max())
        return k + " " + short_number(v) + " is beyond float32's range (3.4e38)";
    return "";
}

// "a, b or c": the valid values in a message.
std::string or_list(const std::vector<std::string>& choices) {
    std::string t;
    for (std::size_t i = 0; i < choices.size(); ++i)
        t += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    return t;
}

}  // namespace cp::train
