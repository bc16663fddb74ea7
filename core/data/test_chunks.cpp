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

std::vector<StridedWindow> strided_windows(std::size_t n, std::size_t length, std::size_t stride) {
    std::vector<StridedWindow> out;
    if (n < 2 || length < 2 || stride == 0 || stride > length) return out;
    std::size_t previous_end = 0;
    for (std::size_t begin = 0; begin < n; begin += stride) {
        const std::size_t end = std::min(begin + length, n);
        out.push_back({begin, end, std::max(begin + 1, previous_end)});
        previous_end = end;
        if (end == n) break;
    }
    return out;
}

std::vector<std::pair<std::size_t, std::size_t>> strided_spans(const TestChunkChoice& chunks,
                                                               std::size_t stream_tokens,
                                                               std::size_t span) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t i = 0; i < chunks.starts.size(); ++i) {
        const std::size_t begin = chunks.starts[i];
        std::size_t end = std::min(begin + span, stream_tokens);
        if (i + 1 < chunks.starts.size()) end = std::min(end, chunks.starts[i + 1]);
        if (end > begin) out.push_back({begin, end});
    }
    return out;
}

std::string genre_of(const std::string& document_name, bool brown, const std::string& corpus) {
    if (brown && document_name.size() >= 2 && document_name[0] == 'c')
        return std::string(1, document_name[1]);
    return corpus;
}

}  // namespace cp::data
