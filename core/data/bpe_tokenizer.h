// Byte-level BPE tokenizer (GPT-2 style): loads GPT-2's encoder.json + vocab.bpe or a Hugging Face
// tokenizer.json (BPE + ByteLevel, the format of Pythia's own tokenizer); exact encode and decode.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/pretokenizer.h"

namespace cp::data {

using TokenId = std::uint32_t;

class BpeTokenizer {
  public:
    // `path` is a folder holding encoder.json + vocab.bpe (or tokenizer.json), or a
    // tokenizer.json file. Errors name the file and what is wrong with it.
    static BpeTokenizer load(const std::filesystem::path& path);
    static BpeTokenizer from_gpt2_files(const std::filesystem::path& encoder_json,
                                        const std::filesystem::path& vocab_bpe);
    static BpeTokenizer from_hf_tokenizer_json(const std::filesystem::path& tokenizer_json);

    // Encodes text; bytes that are not valid UTF-8 are first repaired as utf8.h does (each
    // invalid sequence becomes U+FFFD). Not thread-safe: the word cache is shared; give each
    // thread its own tokenizer.
    std::vector<TokenId> encode(std::string_view text);
    void encode_append(std::string_view text, std::vector<TokenId>& out);

    // Exact inverse of encode for valid UTF-8. Ids outside the vocabulary are an error;
    // byte sequences that do not form UTF-8 (possible for arbitrary id lists) are returned raw.
    std::string decode(const std::vector<TokenId>& ids) const;

    // One past the largest id: the embedding needs at least this many rows.
    std::uint32_t vocab_size() const { return static_cast<std::uint32_t>(id_to_bytes_.size()); }
    // The end-of-text token that separates documents, when the vocabulary has one.
    std::optional<TokenId> end_of_text() const { return end_of_text_; }
    // Content hash of the files the tokenizer was loaded from (token caches key on it).
    std::uint64_t fingerprint() const { return fingerprint_; }
    // Human-readable origin, e.g. "GPT-2 BPE (encoder.json + vocab.bpe), 50257 tokens".
    const std::string& description() const { return description_; }
    // Loader notes for the user (e.g. a normalizer that is not applied).
    const std::vector<std::string>& warnings() const { return warnings_; }
    std::size_t cached_words() const { return cache_.size(); }

  private:
    BpeTokenizer();
    void init_byte_alphabet();
    void add_token(const std::string& symbol, std::uint64_t id, const std::string& source);
    void add_merge(const std::string& first, const std::string& second, std::uint32_t rank);
    std::uint32_t intern(const std::string& symbol);  // vocabulary id, or an extra symbol's
    void finish_loading();
    void bpe(std::string_view piece, std::vector<TokenId>& out);

    Pretokenizer pretokenizer_;
    std::string byte_to_symbol_[256];                        // GPT-2's printable stand-in per byte
    std::unordered_map<std::string, char> symbol_to_byte_;   // and back
    std::unordered_map<std::string, TokenId> symbol_to_id_;  // vocabulary, symbols in that alphabet
    std::vector<std::string> id_to_bytes_;                   // decoded bytes per id
    std::vector<bool> id_known_;
    // BPE runs on integer symbols: a vocabulary symbol's number is its token id; a symbol that
    // only a merge produces (a vocabulary lacking a merge's result) is numbered from kExtraBase.
    static constexpr std::uint32_t kExtraBase = 1u << 31;
    std::vector<std::string> extra_symbols_;
    std::unordered_map<std::string, std::uint32_t> extra_symbol_ids_;
    std::uint32_t byte_symbol_[256] = {};
    // Merges keyed by the exact pair (first << 32 | second). (The reference encoder keys by the
    // string "first,second", which can collide; a search of all punctuation strings up to 7
    // characters and of both corpora found no input where that changes an id.)
    struct Merge {
        std::uint32_t rank, result;
    };
    std::unordered_map<std::uint64_t, Merge> merges_;
    std::unordered_map<std::string, std::vector<TokenId>> cache_;  // piece bytes -> ids
    std::optional<TokenId> end_of_text_;
    std::uint64_t fingerprint_ = 0;
    std::string description_;
    std::vector<std::string> warnings_;
};

}  // namespace cp::data
