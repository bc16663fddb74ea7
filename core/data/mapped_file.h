// A read-only memory map of a whole file (token caches are read this way: no copy, no parse).
#pragma once

#include <cstddef>
#include <filesystem>

namespace cp::data {

class MappedFile {
  public:
    MappedFile() = default;
    // Throws cp::Error naming the path when it cannot be opened or mapped.
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const unsigned char* data() const { return data_; }
    std::size_t size() const { return size_; }

  private:
    void release();
    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace cp::data
