// UTF-8 validation and repair: every text that enters the workbench is valid UTF-8,
// with each invalid byte sequence replaced by U+FFFD and counted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cp::data {

// Returns `bytes` as valid UTF-8: each maximal invalid subsequence becomes U+FFFD (the
// WHATWG decoder's rule, which is what node's TextDecoder and fs.readFileSync do, so our
// text equals the reference's). `replaced` (if given) is incremented once per replacement.
std::string to_valid_utf8(std::string_view bytes, std::size_t* replaced = nullptr);

// True when `bytes` is valid UTF-8 (no surrogates, no overlongs, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// Number of whitespace-separated words (ASCII whitespace), as researchers count corpus words.
std::size_t count_words(std::string_view text);

}  // namespace cp::data
