#include "data/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "common/error.h"

namespace cp::data {
namespace {

// The reference's pattern is `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
// ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` with JavaScript's `\s`. PCRE2's `\s` (UCP) is Unicode
// White_Space, which differs from JavaScript's on two characters (U+0085 is White_Space but not JS
// `\s`; U+FEFF is JS `\s` but not White_Space), so `\s` is spelled out as JavaScript defines it.
const std::string kJsSpace =
    "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}\\x{FEFF}";

std::string gpt2_pattern() {
    const std::string s = "[" + kJsSpace + "]";
    const std::string not_s = "[^" + kJsSpace + "]";
    return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + kJsSpace + "\\p{L}\\p{N}]+|" + s +
           "+(?!" + not_s + ")|" + s + "+";
}

}  // namespace

struct Pretokenizer::Impl {
    pcre2_code* code = nullptr;
    pcre2_match_data* match = nullptr;
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* jit_stack = nullptr;
    bool jit = false;
};

Pretokenizer::Pretokenizer() : impl_(std::make_unique<Impl>()) {
    const std::string pattern = gpt2_pattern();
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (!impl_->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof message);
        throw Error("internal error: the GPT-2 pre-tokenizer pattern does not compile at offset " +
                    std::to_string(error_offset) + ": " + reinterpret_cast<char*>(message));
    }
    // JIT makes matching several times faster; without it (e.g. a PCRE2 built without JIT)
    // the interpreter gives the same pieces.
    impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
    impl_->match = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
    if (impl_->jit) {
        // Long runs of one class (a megabyte of spaces) need more than the default 32 KiB stack.
        impl_->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
        impl_->context = pcre2_match_context_create(nullptr);
        pcre2_jit_stack_assign(impl_->context, nullptr, impl_->jit_stack);
    }
}

Pretokenizer::Pretokenizer(Pretokenizer&&) noexcept = default;
Pretokenizer& Pretokenizer::operator=(Pretokenizer&&) noexcept = default;

Pretokenizer::~Pretokenizer() {
    if (!impl_) return;  // moved from
    pcre2_match_data_free(impl_->match);
    pcre2_match_context_free(impl_->context);
    pcre2_jit_stack_free(impl_->jit_stack);
    pcre2_code_free(impl_->code);
}

std::size_t Pretokenizer::next_piece_end(std::string_view text, std::size_t start) const {
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    // The text was validated (or repaired) on the way in, so PCRE2's own UTF check is skipped.
    const int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, text.size(), start,
                                                PCRE2_NO_UTF_CHECK, impl_->match, impl_->context)
                              : pcre2_match(impl_->code, subject, text.size(), start,
                                            PCRE2_NO_UTF_CHECK, impl_->match, nullptr);
    if (rc < 0) {
        if (rc == PCRE2_ERROR_NOMATCH)
            return text.size();  // cannot happen: `\s+|[^\s..]+` cover all
        throw Error("pre-tokenizer failed at byte " + std::to_string(start) + " (PCRE2 error " +
                    std::to_string(rc) + ")");
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(impl_->match);
    // The alternatives cover every character, so a match always starts at `start`; an
    // empty or later match would mean the pattern is wrong, and would loop forever.
    if (ovector[0] != start || ovector[1] <= start)
        throw Error("internal error: pre-tokenizer skipped text at byte " + std::to_string(start));
    return ovector[1];
}

std::vector<std::string_view> Pretokenizer::split(std::string_view text) const {
    std::vector<std::string_view> pieces;
    for_each_piece(text, [&](std::string_view p) { pieces.push_back(p); });
    return pieces;
}

}  // namespace cp::data
