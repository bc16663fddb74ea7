// Deterministic document-level splits: every 10th document of a corpus (in natural file order)
// is held out for testing and never trained on.
#pragma once

#include <cstddef>

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

}  // namespace cp::data
