// The LAMBADA-style last-word task built from held-out documents: passages of whole sentences
// (at least 50 words) whose final word is alphabetic; predict that word from the rest.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cp::data {

struct LastWordPassage {
    std::string context;  // the passage without " " + word
    std::string word;     // the alphabetic final word (the target is " " + word)
};

// Cuts `text` into sentences (after . ! ? followed by a space), gathers consecutive sentences
// until they hold at least `min_words` words, drops the final sentence's closing punctuation and
// keeps the passage when its last word is alphabetic.
std::vector<LastWordPassage> last_word_passages(const std::string& text,
                                                std::size_t min_words = 50);

}  // namespace cp::data
