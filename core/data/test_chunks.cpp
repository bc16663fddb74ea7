#include "data/test_chunks.h"

#include <algorithm>
#include <set>

#include "data/last_word.h"

namespace cp::data {

TestChunkChoice choose_test_chunks(std::size_t stream_tokens, std::size_t width,
                                   std::size_t count, const std::vector<HeldOutDocument>& docs) {
    TestChunkChoice c;
    if (width == 0) return c;
    std::set<std::size_t> documents;
    std::set<std::string> genres;
    for (std::size_t i : evenly_spaced(stream_tokens / width, count)) {
        const std::size_t start = i * width;
        c.starts.push_back(start);
        // The last document that starts at or before the chunk.
        const auto after = std::upper_bound(
            docs.begin(), docs.end(), start,
            [](std::size_t s, const HeldOutDocument& d) { return s < d.start; });
        const std::size_t d = after == docs.begin() ? 0 : static_cast<std::size_t>(after - docs.begin() - 1);
        c.documents.push_back(d);
        documents.insert(d);
        if (d < docs.size()) genres.insert(docs[d].genre);
    }
    c.distinct_documents = documents.size();
    c.distinct_genres = genres.size();
    return c;
}

std::string genre_of(const std::string& document_name, bool brown, const std::string& corpus) {
    if (brown && document_name.size() >= 2 && document_name[0] == 'c')
        return std::string(1, document_name[1]);
    return corpus;
}

}  // namespace cp::data
