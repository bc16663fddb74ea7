#include "data/utf8.h"

namespace cp::data {
namespace {

// Length of the valid UTF-8 sequence starting at `i`, or 0 when it is invalid. On invalid
// input, `bad_len` is the length of the maximal prefix of a valid sequence (at least 1):
// WHATWG replaces exactly that prefix with one U+FFFD.
std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t* bad_len) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    *bad_len = 1;
    if (b0 < 0x80) return 1;
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;  // no overlongs
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;  // no overlongs
        if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
        return 0;
    }
    for (std::size_t k = 1; k <= need; ++k) {
        if (i + k >= s.size()) return 0;
        const unsigned char b = byte(i + k);
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) return 0;
        *bad_len = k + 1;
    }
    return need + 1;
}

}  // namespace

std::string to_valid_utf8(std::string_view bytes, std::size_t* replaced) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t i = 0;
    while (i < bytes.size()) {
        std::size_t bad_len;
        const std::size_t n = sequence_length(bytes, i, &bad_len);
        if (n > 0) {
            out.append(bytes.data() + i, n);
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");  // U+FFFD
            if (replaced) ++*replaced;
            i += bad_len;
        }
    }
    return out;
}

bool is_valid_utf8(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size();) {
        std::size_t bad_len;
        const std::size_t n = sequence_length(bytes, i, &bad_len);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::size_t count_words(std::string_view text) {
    std::size_t words = 0;
    bool in_word = false;
    for (char c : text) {
        const bool space =
            c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return words;
}

}  // namespace cp::data
