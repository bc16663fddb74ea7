#include "data/hash.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include "common/error.h"

namespace cp::data {

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t seed) {
    std::uint64_t h = seed;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

std::uint64_t hash_file(const std::filesystem::path& path, std::uint64_t seed) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot read '" + path.string() + "': check that it exists and is readable");
    std::vector<char> buffer(1 << 20);
    std::uint64_t h = seed;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        h = fnv1a(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())), h);
    }
    if (in.bad()) throw Error("error while reading '" + path.string() + "'");
    return h;
}

std::string hex64(std::uint64_t value) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return text;
}

}  // namespace cp::data
