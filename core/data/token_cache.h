// The token cache: a corpus tokenised once per (source files, tokenizer) into a binary id file
// plus a JSON sidecar, read back memory-mapped; a changed source or tokenizer rebuilds it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/bpe_tokenizer.h"
#include "data/corpus.h"
#include "data/mapped_file.h"
#include "data/splits.h"

namespace cp::data {

struct TokenizedDocument {
    std::string name;
    Split split = Split::train;
    std::uint64_t offset = 0;  // first token in the cache
    std::uint64_t tokens = 0;
    std::uint64_t words = 0;
    std::uint64_t bytes = 0;  // UTF-8 bytes of the text
};

struct SplitStats {
    std::uint64_t documents = 0, words = 0, tokens = 0, bytes = 0;
};

struct PrepareOptions {
    std::filesystem::path cache_dir;  // created when missing
    BadLinePolicy bad_lines = BadLinePolicy::fail;
};

struct PrepareReport {
    bool rebuilt = false;
    std::string reason;  // why it was (re)built: "no cache yet", "'ca01' changed", ...
    std::size_t invalid_utf8_replaced = 0;
    std::size_t skipped_lines = 0;
    std::size_t empty_documents = 0;
    std::filesystem::path tokens_path, sidecar_path;
};

class TokenizedCorpus {
  public:
    // Opens the valid cache of `corpus_path` under `tokenizer`, or reads, tokenises and writes it
    // (all-or-nothing: a failure leaves any previous cache as it was).
    static TokenizedCorpus prepare(const std::filesystem::path& corpus_path,
                                   BpeTokenizer& tokenizer, const PrepareOptions& options,
                                   PrepareReport* report = nullptr);

    CorpusKind kind() const { return kind_; }
    const std::filesystem::path& root() const { return root_; }
    const std::vector<TokenizedDocument>& documents() const { return documents_; }
    std::uint64_t total_tokens() const { return count_; }
    TokenId token(std::uint64_t i) const;
    std::vector<TokenId> document_tokens(std::size_t document) const;
    // The documents of one split in order, each followed by `end_of_text` when given.
    std::vector<TokenId> stream(Split split, std::optional<TokenId> end_of_text) const;
    SplitStats stats(Split split) const;

  private:
    CorpusKind kind_ = CorpusKind::user_folder;
    std::filesystem::path root_;
    std::vector<TokenizedDocument> documents_;
    MappedFile file_;
    std::uint32_t width_ = 2;  // bytes per id
    std::uint64_t count_ = 0;
};

}  // namespace cp::data
