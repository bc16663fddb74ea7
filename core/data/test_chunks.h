// Which held-out chunks the evaluation scores: drawn evenly across the whole held-out stream, so
// that every held-out document and genre is represented (the first chunks alone are the first
// few documents: in Brown, one genre of press reportage), with the document each chunk begins in,
// for the counts the comparison states and the resampling of documents.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cp::data {

// A held-out document as it lies in the held-out stream.
struct HeldOutDocument {
    std::size_t start = 0;  // its first token in the stream
    std::string genre;      // Brown's category letter ("a" press reportage, ...); else the corpus
};

struct TestChunkChoice {
    std::vector<std::size_t> starts;     // first token of each chosen chunk in the stream
    std::vector<std::size_t> documents;  // the document each chunk begins in (an index of docs)
    std::size_t distinct_documents = 0, distinct_genres = 0;
};

// `count` chunks of `width` tokens out of the stream's stream_tokens / width whole chunks,
// evenly spaced (all of them when count is larger). `docs` in stream order, the first at 0.
TestChunkChoice choose_test_chunks(std::size_t stream_tokens, std::size_t width,
                                   std::size_t count, const std::vector<HeldOutDocument>& docs);

// The genre a document of a corpus counts under: a Brown document's category letter (its name's
// second character: "ca01" is "a"), the corpus otherwise.
std::string genre_of(const std::string& document_name, bool brown, const std::string& corpus);

}  // namespace cp::data
