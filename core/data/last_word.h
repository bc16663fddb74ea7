// The LAMBADA-style last-word task built from held-out documents: passages of whole sentences
// (at least 50 words) whose final word is alphabetic; predict that word from the rest.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cp::data {

// One scored passage as ids: the context, and the ids of " " + word to predict after it.
struct LastWordItem {
    std::vector<std::int64_t> context, target;
};

struct LastWordPassage {
    std::string context;  // the passage without " " + word
    std::string word;     // the alphabetic final word (the target is " " + word)
};

// Cuts `text` into sentences (after . ! ? followed by a space), gathers consecutive sentences
// until they hold at least `min_words` words, drops the final sentence's closing punctuation and
// keeps the passage when its last word is alphabetic.
// LAMBADA's own passages (#26), as lm-eval-harness's lambada_openai reads them: one passage per
// line of a JSONL file ({"text": "..."} per line) or of a plain text file (a line that starts with
// '{' is read as JSON). The target is what follows the line's last space (" " + word), the
// context everything before that space, unchanged. Throws cp::Error naming the file and line for
// a line with no text, one word only, or JSON without a "text" string; blank lines at the end
// are ignored.
std::vector<LastWordPassage> lambada_file_passages(const std::filesystem::path& file);

std::vector<LastWordPassage> last_word_passages(const std::string& text,
                                                std::size_t min_words = 50);

// `k` of `n` indices spread evenly (0, n/k, 2n/k, ...; all of them when k >= n): last-word
// passages drawn across every held-out document, not the first documents' only.
inline std::vector<std::size_t> evenly_spaced(std::size_t n, std::size_t k) {
    std::vector<std::size_t> out;
    const std::size_t take = k < n ? k : n;
    for (std::size_t i = 0; i < take; ++i) out.push_back(i * n / take);
    return out;
}

// The context's last tokens such that context + target fit `positions` (the trained
// seq_length), so every model is scored on positions it was trained on; `fits` is false when
// the target alone leaves no context.
struct CutContext {
    std::vector<std::int64_t> context;
    bool fits = false;
};
inline CutContext cut_left(const std::vector<std::int64_t>& context, std::size_t target_tokens,
                           std::size_t positions) {
    CutContext c;
    if (target_tokens + 1 > positions || context.empty()) return c;
    const std::size_t keep = std::min(context.size(), positions - target_tokens);
    c.context.assign(context.end() - static_cast<std::ptrdiff_t>(keep), context.end());
    c.fits = true;
    return c;
}

}  // namespace cp::data
