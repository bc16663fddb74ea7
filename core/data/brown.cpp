#include "data/brown.h"

#include <vector>

namespace cp::data {
namespace {

bool attaches_left(std::string_view w) {  // punctuation that hugs the word before it
    return w == "," || w == "." || w == ";" || w == ":" || w == "?" || w == "!" || w == ")" ||
           w == "]" || w == "}" || w == "..." || w == "'s";
}

bool attaches_right(std::string_view w) {
    return w == "(" || w == "[" || w == "{" || w == "$";
}

}  // namespace

std::string detokenize_brown(std::string_view tagged) {
    std::string out;
    out.reserve(tagged.size());
    bool glue_next = true;         // no space before the next word (start, after '(' or '"')
    bool in_single_quote = false;  // Brown writes both ends as ', so parity decides (per sentence)

    std::size_t line_start = 0;
    while (line_start <= tagged.size()) {
        std::size_t line_end = tagged.find('\n', line_start);
        if (line_end == std::string_view::npos) line_end = tagged.size();
        const std::string_view line = tagged.substr(line_start, line_end - line_start);
        line_start = line_end + 1;
        in_single_quote = false;

        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
            if (i >= line.size()) break;
            std::size_t j = i;
            while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
            std::string_view token = line.substr(i, j - i);
            i = j;
            const std::size_t slash = token.rfind('/');
            std::string_view word =
                slash == std::string_view::npos || slash == 0 ? token : token.substr(0, slash);
            if (word.empty()) continue;

            bool space_before = !glue_next;
            glue_next = false;
            if (word == "``") {
                word = "\"";  // Brown marks both ends of double quotes: `` opens
                glue_next = true;
            } else if (word == "''") {
                word = "\"";  // '' closes
                space_before = false;
            } else if (word == "'") {
                if (in_single_quote) {
                    space_before = false;
                } else {
                    glue_next = true;
                }
                in_single_quote = !in_single_quote;
            } else if (attaches_left(word)) {
                space_before = false;
            } else if (attaches_right(word)) {
                glue_next = true;
            }
            if (space_before && !out.empty()) out += ' ';
            out += word;
        }
    }
    return out;
}

}  // namespace cp::data
