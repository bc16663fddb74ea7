// Whole-file reads and all-or-nothing writes, with errors that name the path.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace cp {

// Reads a whole file; throws cp::Error naming the path when it is missing or unreadable.
std::string read_file(const std::filesystem::path& path);

// Writes `bytes` to a temporary file beside `path`, flushes it, then renames it over `path`,
// so readers see the old file or the new one, never half of one.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace cp
