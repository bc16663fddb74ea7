#include "data/last_word.h"

#include <cctype>
#include <cstring>

#include "data/utf8.h"

namespace cp::data {

std::vector<LastWordPassage> last_word_passages(const std::string& text, std::size_t min_words) {
    std::vector<LastWordPassage> out;
    std::size_t passage_start = 0, i = 0;
    while (i < text.size()) {
        const char c = text[i];
        const bool sentence_end =
            (c == '.' || c == '!' || c == '?') && (i + 1 == text.size() || text[i + 1] == ' ');
        ++i;
        if (!sentence_end) continue;
        const std::string passage = text.substr(passage_start, i - passage_start);
        if (count_words(passage) < min_words) continue;
        passage_start = i;
        // Drop closing punctuation and quotes, then take the last word.
        std::size_t end = passage.size();
        while (end > 0 && std::strchr(".!?\"')", passage[end - 1])) --end;
        std::size_t start = end;
        while (start > 0 && passage[start - 1] != ' ') --start;
        const std::string word = passage.substr(start, end - start);
        if (word.empty() || start == 0) continue;
        bool alphabetic = true;
        for (char w : word) alphabetic = alphabetic && std::isalpha(static_cast<unsigned char>(w));
        if (!alphabetic) continue;
        std::size_t context_begin = 0;
        while (context_begin < start && passage[context_begin] == ' ') ++context_begin;
        out.push_back({passage.substr(context_begin, start - 1 - context_begin), word});
    }
    return out;
}

}  // namespace cp::data
