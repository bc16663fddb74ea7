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

// Up to 6 significant digits in the classic locale, no trailing zeros: "0.25", "0.125", "1".
inline std::string short_number(double v) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out << v;
    return out.str();
}

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
