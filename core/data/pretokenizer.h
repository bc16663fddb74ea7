// GPT-2 pre-tokenisation: splits text into the pieces that byte-level BPE encodes one by one,
// with the exact pattern of the reference (`gpt-3-encoder`'s JavaScript regex) on PCRE2's JIT.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

namespace cp::data {

class Pretokenizer {
  public:
    Pretokenizer();
    ~Pretokenizer();
    // The compiled pattern is fixed, so a copy compiles its own (PCRE2 match state is per object).
    Pretokenizer(const Pretokenizer&) : Pretokenizer() {}
    Pretokenizer& operator=(const Pretokenizer&) { return *this; }
    Pretokenizer(Pretokenizer&&) noexcept;
    Pretokenizer& operator=(Pretokenizer&&) noexcept;

    // Calls `piece(std::string_view)` for each piece of `text` (valid UTF-8), in order.
    // The pieces concatenate back to `text` exactly.
    template <typename F>
    void for_each_piece(std::string_view text, F&& piece) const {
        std::size_t start = 0;
        while (start < text.size()) {
            const std::size_t end = next_piece_end(text, start);
            piece(text.substr(start, end - start));
            start = end;
        }
    }

    std::vector<std::string_view> split(std::string_view text) const;

  private:
    // End offset of the piece that starts at `start`.
    std::size_t next_piece_end(std::string_view text, std::size_t start) const;

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cp::data
