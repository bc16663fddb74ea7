// Numbers typed by a user (command line, form fields): the whole text must be the number, read
// in the classic locale whatever the user's, so "3.5" is never a whole number and "1,5" never a
// number. Shared by the parameter schema and the CLI's other options. And the one clock format.
#pragma once

#include <cstdint>
#include <locale>
#include <optional>
#include <sstream>
#include <string>

namespace cp {

inline std::optional<std::int64_t> parse_whole_number(const std::string& text) {
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (text.empty() || used != text.size()) return std::nullopt;
    return static_cast<std::int64_t>(v);
}

inline std::optional<double> parse_number(const std::string& text) {
    std::istringstream in(text);
    in.imbue(std::locale::classic());
    double v = 0;
    in >> v;
    if (text.empty() || in.fail() || !in.eof()) return std::nullopt;
    return v;
}

// The one place numbers become text: always in the classic locale ("0.25" under a German locale
// too), in three notations.
// `digits` significant digits, no trailing zeros: significant_text(0.125, 6) is "0.125".
inline std::string significant_text(double v, int digits) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.precision(digits);
    out << v;
    return out.str();
}
// `digits` after the point: fixed_text(2.5, 2) is "2.50".
inline std::string fixed_text(double v, int digits) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.setf(std::ios::fixed, std::ios::floatfield);
    out.precision(digits);
    out << v;
    return out.str();
}
// `digits` after the point of the mantissa: scientific_text(12345, 2) is "1.23e+04".
inline std::string scientific_text(double v, int digits) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.setf(std::ios::scientific, std::ios::floatfield);
    out.precision(digits);
    out << v;
    return out.str();
}

// Up to 6 significant digits, no trailing zeros: "0.25", "0.125", "1".
inline std::string short_number(double v) { return significant_text(v, 6); }

// A duration as a clock, "4:05" or "1:02:03" ("--:--" when unknown, negative): the ETA and wall
// times of the CLI and the workbench alike.
inline std::string clock_text(double seconds) {
    if (seconds < 0) return "--:--";
    const long s = static_cast<long>(seconds + 0.5);
    const auto two = [](long v) { return (v < 10 ? "0" : "") + std::to_string(v); };
    return s >= 3600 ? std::to_string(s / 3600) + ":" + two((s / 60) % 60) + ":" + two(s % 60)
                     : std::to_string(s / 60) + ":" + two(s % 60);
}

}  // namespace cp
