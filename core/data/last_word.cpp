#include "data/last_word.h"

#include <cctype>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

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

std::vector<LastWordPassage> lambada_file_passages(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error("cannot read the LAMBADA file '" + file.string() + "' (check the path)");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    while (!lines.empty() && lines.back().find_first_not_of(" \t") == std::string::npos)
        lines.pop_back();
    std::vector<LastWordPassage> out;
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string where = file.string() + ":" + std::to_string(n + 1);
        std::string text = lines[n];
        const std::size_t first = text.find_first_not_of(" \t");
        if (first != std::string::npos && text[first] == '{') {
            const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
            if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
                throw Error(where + ": not a JSON object with a \"text\" string (the "
                                    "lambada_openai format is one {\"text\": ...} per line)");
            text = j["text"].get<std::string>();
        }
        if (!is_valid_utf8(text)) throw Error(where + ": not valid UTF-8");
        if (text.find_first_not_of(" \t") == std::string::npos)
            throw Error(where + ": the line has no text (one passage per line)");
        const std::size_t space = text.rfind(' ');
        if (space == std::string::npos || space == 0 || space + 1 == text.size() ||
            text.find_first_not_of(" \t") >= space)
            throw Error(where + ": the passage has one word only, so it has no context before "
                                "its last word");
        out.push_back({text.substr(0, space), text.substr(space + 1)});
    }
    if (out.empty()) throw Error("the LAMBADA file '" + file.string() + "' holds no passage");
    return out;
}

}  // namespace cp::data
