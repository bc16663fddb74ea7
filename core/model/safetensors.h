// safetensors: read (memory-mapped, every offset, shape and dtype checked against the file
// before any data is touched) and write (8-byte little-endian header length, JSON header,
// raw little-endian data). No torch here: tensors are raw bytes plus dtype and shape.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/mapped_file.h"

namespace cp::model {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };
const char* to_string(DType d);
std::size_t dtype_bytes(DType d);

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0;  // byte offsets into the data section
    std::int64_t numel() const;
};

class SafetensorsFile {
  public:
    // Throws cp::Error naming the file and the first problem found (truncated file, header
    // larger than the file, unknown dtype, shape that does not match its bytes, offsets out of
    // range or overlapping, ...). Nothing is allocated from sizes the file claims.
    explicit SafetensorsFile(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return path_; }
    const std::map<std::string, TensorEntry>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
    const TensorEntry& at(const std::string& name) const;
    // The raw little-endian bytes of a tensor, inside the mapping.
    const unsigned char* data(const TensorEntry& entry) const;

  private:
    std::filesystem::path path_;
    data::MappedFile file_;
    std::uint64_t data_start_ = 0;
    std::map<std::string, TensorEntry> tensors_;
    std::map<std::string, std::string> metadata_;
};

struct TensorBytes {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    const void* data = nullptr;  // numel * dtype_bytes bytes, little-endian
};

// Writes all-or-nothing (temporary file, then rename). Names are written in sorted order.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace cp::model
