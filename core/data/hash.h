// Content hashes for cache keys: 64-bit FNV-1a over bytes and files (not cryptographic:
// it detects changed inputs, it does not defend against crafted ones).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cp::data {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ULL;

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t seed = kFnvOffset);
// Hash of a whole file; throws cp::Error naming the file when it cannot be read.
std::uint64_t hash_file(const std::filesystem::path& path, std::uint64_t seed = kFnvOffset);
std::string hex64(std::uint64_t value);

}  // namespace cp::data
