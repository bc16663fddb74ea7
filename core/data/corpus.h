// Corpus readers: the Brown Corpus, nlp-corpus JSON files, and user folders of .txt, .jsonl and
// .jsonl.zst; every document comes out as valid UTF-8 text, in a deterministic order.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace cp::data {

struct Document {
    std::string name;  // file name, or "file:line" for JSONL documents
    std::string text;  // valid UTF-8
};

enum class CorpusKind { brown, nlp_corpus, user_folder, jsonl_file };
const char* to_string(CorpusKind kind);

// What a malformed JSONL line does: stop with an error naming file and line, or be skipped
// and counted.
enum class BadLinePolicy { fail, skip };

struct Corpus {
    CorpusKind kind = CorpusKind::user_folder;
    std::filesystem::path root;                  // the folder or file it was read from
    std::vector<std::filesystem::path> sources;  // files read, in document order
    std::vector<Document> documents;             // in natural sort order of their files
    std::size_t invalid_utf8_replaced = 0;       // byte sequences replaced by U+FFFD
    std::size_t skipped_lines = 0;               // malformed JSONL lines (BadLinePolicy::skip)
    std::size_t empty_documents = 0;             // documents without text, left out
};

// The corpus's kind and its source files in document order, without reading them: Brown when
// the folder holds `ca01`-style files, nlp-corpus when it holds `doc-N.json` files, otherwise a
// user folder of .txt/.jsonl/.jsonl.zst files; a single .jsonl(.zst) file is one corpus.
// Throws cp::Error naming the path when it is missing or holds nothing readable.
CorpusKind detect_corpus(const std::filesystem::path& path,
                         std::vector<std::filesystem::path>* sources);

Corpus read_corpus(const std::filesystem::path& path, BadLinePolicy policy = BadLinePolicy::fail);

// "a2" < "a10": numbers inside names compare by value (doc-9 before doc-10).
bool natural_less(const std::string& a, const std::string& b);

}  // namespace cp::data
