// Shared by the libFuzzer targets: the input as a file (the readers under test take paths), and
// the rule that a cp::Error is the expected answer to bad input while anything else escaping is
// a finding (libFuzzer reports the uncaught exception as a crash).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace cp::fuzz {

// A folder of this process's own under the system's temporary folder, emptied per input.
inline std::filesystem::path scratch() {
    static const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("cp-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

inline std::filesystem::path write_file(const std::filesystem::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

// Splits at the first occurrence of `separator`: (before, after); no separator: (all, "").
inline std::pair<std::string_view, std::string_view> split(std::string_view s, char separator) {
    const auto at = s.find(separator);
    if (at == std::string_view::npos) return {s, {}};
    return {s.substr(0, at), s.substr(at + 1)};
}

[[noreturn]] inline void finding(const char* what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

}  // namespace cp::fuzz
