#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"

namespace cp::model {
using nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this reader maps it as host order");

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // as the reference implementation

bool parse_dtype(const std::string& s, DType* d) {
    static const std::map<std::string, DType> names = {
        {"F64", DType::F64}, {"F32", DType::F32},  {"F16", DType::F16}, {"BF16", DType::BF16},
        {"I64", DType::I64}, {"I32", DType::I32},  {"I16", DType::I16}, {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::BOOL}};
    const auto it = names.find(s);
    if (it == names.end()) return false;
    *d = it->second;
    return true;
}

}  // namespace

const char* to_string(DType d) {
    switch (d) {
        case DType::F64:
            return "F64";
        case DType::F32:
            return "F32";
        case DType::F16:
            return "F16";
        case DType::BF16:
            return "BF16";
        case DType::I64:
            return "I64";
        case DType::I32:
            return "I32";
        case DType::I16:
            return "I16";
        case DType::I8:
            return "I8";
        case DType::U8:
            return "U8";
        case DType::BOOL:
            return "BOOL";
    }
    return "?";
}

std::size_t dtype_bytes(DType d) {
    switch (d) {
        case DType::F64:
        case DType::I64:
            return 8;
        case DType::F32:
        case DType::I32:
            return 4;
        case DType::F16:
        case DType::BF16:
        case DType::I16:
            return 2;
        case DType::I8:
        case DType::U8:
        case DType::BOOL:
            return 1;
    }
    return 1;
}

std::int64_t TensorEntry::numel() const {
    std::int64_t n = 1;
    for (std::int64_t s : shape) n *= s;
    return n;
}

namespace {

// One tensor's entry of the header, every field checked (dtype, a shape that cannot overflow,
// offsets inside the data that hold exactly the shape's bytes).
TensorEntry parse_entry(const std::string& what, const std::string& name, const json& value,
                        std::uint64_t data_size) {
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
        !value.contains("data_offsets"))
        throw Error(what + " lacks dtype, shape or data_offsets");
    TensorEntry e;
    e.name = name;
    if (!value["dtype"].is_string() ||
        !parse_dtype(value["dtype"].get<std::string>(), &e.dtype))
        throw Error(what + " has unknown dtype " + value["dtype"].dump());
    const json& shape = value["shape"];
    if (!shape.is_array()) throw Error(what + ": shape is not an array");
    // Element count with overflow checks: a hostile shape must not wrap around to a small size.
    std::uint64_t numel = 1;
    for (const json& s : shape) {
        if (!s.is_number_unsigned())
            throw Error(what + ": shape has a negative or non-integer size");
        const std::uint64_t dim = s.get<std::uint64_t>();
        if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
            (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / dim))
            throw Error(what + ": shape is too large");
        numel *= dim;
        e.shape.push_back(static_cast<std::int64_t>(dim));
    }
    const json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        throw Error(what + ": data_offsets must be two non-negative integers");
    e.begin = offsets[0].get<std::uint64_t>();
    e.end = offsets[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > data_size)
        throw Error(what + ": data_offsets [" + std::to_string(e.begin) + ", " +
                    std::to_string(e.end) + "] fall outside the " + std::to_string(data_size) +
                    " data bytes of the file (truncated?)");
    const std::uint64_t bytes = e.end - e.begin;
    if (numel > std::numeric_limits<std::uint64_t>::max() / dtype_bytes(e.dtype) ||
        numel * dtype_bytes(e.dtype) != bytes)
        throw Error(what + ": shape " + shape.dump() + " of " + to_string(e.dtype) + " needs " +
                    std::to_string(numel * dtype_bytes(e.dtype)) +
                    " bytes but its offsets hold " + std::to_string(bytes));
    return e;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
    const std::string where = "safetensors file '" + path.string() + "'";
    file_ = data::MappedFile(path);
    const std::uint64_t size = file_.size();
    if (size < 8)
        throw Error(where + " is truncated: " + std::to_string(size) +
                    " bytes, not even a header length");
    std::uint64_t header_len = 0;
    for (int b = 0; b < 8; ++b) header_len |= std::uint64_t{file_.data()[b]} << (8 * b);
    if (header_len > size - 8)
        throw Error(where + ": header length " + std::to_string(header_len) +
                    " is larger than the file (" + std::to_string(size) +
                    " bytes): truncated or not safetensors");
    if (header_len > kMaxHeaderBytes)
        throw Error(where + ": header of " + std::to_string(header_len) +
                    " bytes exceeds the 100 MiB limit");
    data_start_ = 8 + header_len;
    const std::uint64_t data_size = size - data_start_;

    json header;
    try {
        header = json::parse(reinterpret_cast<const char*>(file_.data()) + 8,
                             reinterpret_cast<const char*>(file_.data()) + data_start_);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
        throw Error(where + ": header is not valid JSON (" + e.what() + ")");
    }
    if (!header.is_object()) throw Error(where + ": header is not a JSON object");

    std::vector<const TensorEntry*> by_offset;
    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__") {
            if (!value.is_object()) throw Error(where + ": __metadata__ is not an object");
            for (const auto& [k, v] : value.items()) {
                if (!v.is_string())
                    throw Error(where + ": __metadata__ value '" + k + "' is not a string");
                metadata_[k] = v.get<std::string>();
            }
            continue;
        }
        tensors_[name] = parse_entry(where + ": tensor '" + name + "'", name, value, data_size);
    }
    for (const auto& [name, e] : tensors_) by_offset.push_back(&e);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i]->begin < by_offset[i - 1]->end)
            throw Error(where + ": tensors '" + by_offset[i - 1]->name + "' and '" +
                        by_offset[i]->name + "' overlap");
}

const TensorEntry& SafetensorsFile::at(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end())
        throw Error("safetensors file '" + path_.string() + "' has no tensor '" + name + "'");
    return it->second;
}

const unsigned char* SafetensorsFile::data(const TensorEntry& entry) const {
    return file_.data() + data_start_ + entry.begin;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<const TensorBytes*> sorted;
    for (const auto& t : tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(),
              [](const TensorBytes* a, const TensorBytes* b) { return a->name < b->name; });
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const TensorBytes* t : sorted) {
        std::uint64_t numel = 1;
        for (std::int64_t s : t->shape) numel *= static_cast<std::uint64_t>(s);
        const std::uint64_t bytes = numel * dtype_bytes(t->dtype);
        header[t->name] = {{"dtype", to_string(t->dtype)},
                           {"shape", t->shape},
                           {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string head = header.dump();
    head.append((8 - head.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as HF writes it
    std::string out;
    out.reserve(8 + head.size() + offset);
    for (int b = 0; b < 8; ++b)
        out += static_cast<char>((std::uint64_t{head.size()} >> (8 * b)) & 0xFF);
    out += head;
    for (const TensorBytes* t : sorted) {
        std::uint64_t numel = 1;
        for (std::int64_t s : t->shape) numel *= static_cast<std::uint64_t>(s);
        out.append(static_cast<const char*>(t->data), numel * dtype_bytes(t->dtype));
    }
    write_file_atomic(path, out);
}

}  // namespace cp::model
