// Deterministic document-level splits: every 10th document of a corpus (in natural file order)
// is held out for testing and never trained on.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace cp::data {

enum class Split { train, test };

inline const char* to_string(Split split) {
    return split == Split::train ? "train" : "test";
}

// Documents 10, 20, 30, ... (1-based) are test documents: Brown ca10, ca20, ...;
// nlp-corpus doc-9, doc-19, ...
inline Split split_of_document(std::size_t index) {
    return index % 10 == 9 ? Split::test : Split::train;
}

// A half-open range of positions in the training token stream.
struct TokenRange {
    std::int64_t begin = 0, end = 0;
    std::int64_t size() const { return end - begin; }
};

// Where each phase reads in the training stream (DATA.md "Splits"): the stream is cut into
// `samples` chunks of seq_length + 1 tokens; the last `validation_fraction` of them (at least one)
// validate; Phase 1 reads exactly the Phase 2 training chunks' tokens, so no validation token
// (and, being a different stream, no test token) ever reaches it.
struct ChunkSplit {
    std::int64_t train_chunks = 0, validation_chunks = 0, chunk_tokens = 0;
    TokenRange phase2_train, validation, phase1;
};

inline ChunkSplit chunk_split(std::int64_t samples, std::int64_t seq_length,
                              double validation_fraction) {
    ChunkSplit s;
    s.chunk_tokens = seq_length + 1;
    s.validation_chunks = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(
               std::llround(static_cast<double>(samples) * validation_fraction)));
    s.train_chunks = samples - s.validation_chunks;
    s.phase2_train = {0, s.train_chunks * s.chunk_tokens};
    s.validation = {s.phase2_train.end, samples * s.chunk_tokens};
    s.phase1 = s.phase2_train;
    return s;
}

}  // namespace cp::data
