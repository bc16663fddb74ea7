// SHA-256 (FIPS 180-4) of bytes and of files: the store records one for every checkpoint and
// side file it depends on, so a read can tell the file it wrote from one that was changed or
// replaced since (by another database, by hand, by a half-finished copy).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cp {

class Sha256 {
  public:
    Sha256();
    void update(std::string_view bytes);
    // The digest as 64 lowercase hex digits; the object is spent afterwards.
    std::string hex_digest();

  private:
    void compress(const unsigned char* block);
    std::array<std::uint32_t, 8> state_;
    std::array<unsigned char, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;  // bytes seen
};

std::string sha256_hex(std::string_view bytes);
// Streams the file (1 MiB at a time); throws cp::Error naming it when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace cp
