// Which held-out chunks the evaluation scores: drawn evenly across the whole held-out stream, so
// that every held-out document and genre is represented (the first chunks alone are the first
// few documents: in Brown, one genre of press reportage), with the document each chunk begins in,
// for the counts the comparison states and the resampling of documents.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
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

// Hugging Face's sliding-window perplexity (its "Perplexity of fixed-length models" guide): over
// a text of n tokens, windows of `length` tokens whose starts move `stride` at a time; each window
// predicts only the tokens the windows before it did not, each from up to length - 1 tokens
// before it in the window. Every token but the text's first is scored once when stride < length;
// with stride == length the windows are disjoint and each window's first token is not scored,
// as in the guide. Window k covers [begin, end) and scores the targets first_scored .. end - 1.
struct StridedWindow {
    std::size_t begin = 0, end = 0, first_scored = 0;
};
// Empty when n < 2, length < 2, or stride is 0 or above length.
std::vector<StridedWindow> strided_windows(std::size_t n, std::size_t length, std::size_t stride);

// The held-out spans the sliding-window perplexity reads: from each test chunk's start, up to
// `span` tokens, cut where the next chunk starts (the chunks' own evenly drawn places, longer).
std::vector<std::pair<std::size_t, std::size_t>> strided_spans(const TestChunkChoice& chunks,
                                                               std::size_t stream_tokens,
                                                               std::size_t span);

// The genre a document of a corpus counts under: a Brown document's category letter (its name's
// second character: "ca01" is "a"), the corpus otherwise.
std::string genre_of(const std::string& document_name, bool brown, const std::string& corpus);

}  // namespace cp::data
