#include "data/bpe_tokenizer.h"
#include "data/utf8.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "data/hash.h"

namespace cp::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint32_t kNoRank = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kMaxCachedWords = 1'000'000;
constexpr std::uint64_t kFormatSalt = 0x43502d42504531ULL;  // bump when encoding rules change

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Splits a UTF-8 symbol into its characters (the BPE alphabet is code points, not bytes).
std::vector<std::string_view> utf8_chars(std::string_view s) {
    std::vector<std::string_view> chars;
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        const std::size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        chars.push_back(s.substr(i, std::min(n, s.size() - i)));
        i += n;
    }
    return chars;
}

json parse_json_file(const fs::path& path, const char* what) {
    const std::string text = read_file(path);
    try {
        return json::parse(text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
        throw Error(std::string(what) + " '" + path.string() + "' is not valid JSON (" + e.what() +
                    "); re-download it or point --tokenizer at another file");
    }
}

}  // namespace

BpeTokenizer::BpeTokenizer() {
    init_byte_alphabet();
}

// GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes
// (controls, space, ...) are moved to U+0100 onwards, so every symbol is printable text.
void BpeTokenizer::init_byte_alphabet() {
    bool printable[256] = {};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    std::uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        byte_to_symbol_[b].clear();
        append_utf8(byte_to_symbol_[b], printable[b] ? static_cast<std::uint32_t>(b) : next++);
        symbol_to_byte_[byte_to_symbol_[b]] = static_cast<char>(b);
    }
}

void BpeTokenizer::add_token(const std::string& symbol, std::uint64_t id,
                             const std::string& source) {
    if (id > 16'000'000)
        throw Error(source + ": token id " + std::to_string(id) + " of '" + symbol +
                    "' is implausibly large; the file is corrupt");
    if (id >= id_to_bytes_.size()) {
        id_to_bytes_.resize(id + 1);
        id_known_.resize(id + 1, false);
    }
    // Map the symbol's characters back to bytes; a character outside the byte alphabet (an
    // added token's plain text) stands for its own UTF-8.
    std::string bytes;
    for (std::string_view ch : utf8_chars(symbol)) {
        const auto it = symbol_to_byte_.find(std::string(ch));
        if (it != symbol_to_byte_.end())
            bytes += it->second;
        else
            bytes += ch;
    }
    id_to_bytes_[id] = std::move(bytes);
    id_known_[id] = true;
    symbol_to_id_[symbol] = static_cast<TokenId>(id);
}

std::uint32_t BpeTokenizer::intern(const std::string& symbol) {
    if (auto it = symbol_to_id_.find(symbol); it != symbol_to_id_.end()) return it->second;
    if (auto it = extra_symbol_ids_.find(symbol); it != extra_symbol_ids_.end()) return it->second;
    const std::uint32_t id = kExtraBase + static_cast<std::uint32_t>(extra_symbols_.size());
    extra_symbols_.push_back(symbol);
    extra_symbol_ids_.emplace(symbol, id);
    return id;
}

void BpeTokenizer::add_merge(const std::string& first, const std::string& second,
                             std::uint32_t rank) {
    const std::uint64_t key = (std::uint64_t{intern(first)} << 32) | intern(second);
    merges_[key] = Merge{rank, intern(first + second)};  // a later duplicate wins, as in GPT-2
}

void BpeTokenizer::finish_loading() {
    for (int b = 0; b < 256; ++b) byte_symbol_[b] = intern(byte_to_symbol_[b]);
}

BpeTokenizer BpeTokenizer::from_gpt2_files(const fs::path& encoder_json,
                                           const fs::path& vocab_bpe) {
    BpeTokenizer tok;
    const json encoder = parse_json_file(encoder_json, "GPT-2 encoder file");
    if (!encoder.is_object() || encoder.empty())
        throw Error("GPT-2 encoder file '" + encoder_json.string() +
                    "' must be a JSON object of token -> id");
    for (const auto& [symbol, id] : encoder.items()) {
        if (!id.is_number_unsigned())
            throw Error("GPT-2 encoder file '" + encoder_json.string() + "': the id of '" + symbol +
                        "' is not a non-negative integer");
        tok.add_token(symbol, id.get<std::uint64_t>(), encoder_json.string());
    }

    const std::string merges = read_file(vocab_bpe);
    std::size_t line_start = 0, line_number = 0;
    std::uint32_t rank = 0;
    while (line_start < merges.size()) {
        std::size_t line_end = merges.find('\n', line_start);
        if (line_end == std::string::npos) line_end = merges.size();
        std::string_view line(merges.data() + line_start, line_end - line_start);
        line_start = line_end + 1;
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line_number == 1) {
            if (line.rfind("#version", 0) != 0)
                throw Error("merges file '" + vocab_bpe.string() +
                            "' does not start with a '#version' line: is it a GPT-2 vocab.bpe?");
            continue;
        }
        if (line.empty()) continue;
        const std::size_t space = line.find(' ');
        if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
            line.find(' ', space + 1) != std::string_view::npos)
            throw Error("merges file '" + vocab_bpe.string() + "' line " +
                        std::to_string(line_number) +
                        ": expected two symbols separated by a space");
        tok.add_merge(std::string(line.substr(0, space)), std::string(line.substr(space + 1)),
                      rank++);
    }
    if (rank == 0) throw Error("merges file '" + vocab_bpe.string() + "' holds no merges");
    tok.finish_loading();

    if (auto it = tok.symbol_to_id_.find("<|endoftext|>"); it != tok.symbol_to_id_.end())
        tok.end_of_text_ = it->second;
    tok.fingerprint_ = hash_file(vocab_bpe, hash_file(encoder_json, kFormatSalt));
    tok.description_ = "GPT-2 BPE (" + encoder_json.filename().string() + " + " +
                       vocab_bpe.filename().string() + "), " +
                       std::to_string(tok.symbol_to_id_.size()) + " tokens, " +
                       std::to_string(rank) + " merges";
    return tok;
}

namespace {

// The pre-tokenizer must be byte-level with GPT-2's pattern, alone or inside a Sequence; the
// normalizer none or NFC. Throws naming what is not supported; returns the warnings.
std::vector<std::string> check_hf_text_handling(const json& root, const std::string& where) {
    bool byte_level = false;
    const auto check_pre = [&](const json& p) {
        if (p.is_object() && p.value("type", "") == "ByteLevel") {
            byte_level = true;
            if (p.value("add_prefix_space", false))
                throw Error(where + ": ByteLevel with add_prefix_space is not supported");
        }
    };
    if (root.contains("pre_tokenizer")) {
        const json& pre = root["pre_tokenizer"];
        check_pre(pre);
        if (pre.is_object() && pre.contains("pretokenizers"))
            for (const json& p : pre["pretokenizers"]) check_pre(p);
    }
    if (!byte_level)
        throw Error(where +
                    ": the pre-tokenizer is not ByteLevel (only GPT-2-style byte-level "
                    "BPE tokenizers such as GPT-2's and Pythia's are supported)");
    std::vector<std::string> warnings;
    if (root.contains("normalizer") && !root["normalizer"].is_null()) {
        const std::string norm = root["normalizer"].value("type", "?");
        if (norm != "NFC")
            throw Error(where + ": normalizer '" + norm + "' is not supported (none or NFC)");
        // Pythia's GPT-NeoX-20B tokenizer declares NFC. Text that is already NFC (nearly all
        // corpus text) encodes identically; text in other forms is encoded as it is.
        warnings.push_back(where +
                           " declares an NFC normalizer, which is not applied: "
                           "text is encoded as given");
    }
    return warnings;
}

// One entry of model.merges: "a b" (older files) or ["a", "b"] (newer files).
std::pair<std::string, std::string> hf_merge_pair(const json& merge, const std::string& where,
                                                  std::uint32_t rank) {
    if (merge.is_string()) {
        const std::string m = merge.get<std::string>();
        const std::size_t space = m.find(' ');
        if (space == std::string::npos)
            throw Error(where + ": merge " + std::to_string(rank) + " '" + m +
                        "' is not two symbols separated by a space");
        return {m.substr(0, space), m.substr(space + 1)};
    }
    if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
        return {merge[0].get<std::string>(), merge[1].get<std::string>()};
    throw Error(where + ": merge " + std::to_string(rank) + " is neither \"a b\" nor [a, b]");
}

}  // namespace

// A function-try-block: a value of the wrong JSON type anywhere below (model.type as an array,
// found by fuzz_tokenizer_files) is refused by name, never a terminate.
BpeTokenizer BpeTokenizer::from_hf_tokenizer_json(const fs::path& tokenizer_json) try {
    const std::string where = "tokenizer file '" + tokenizer_json.string() + "'";
    const json root = parse_json_file(tokenizer_json, "tokenizer file");
    BpeTokenizer tok;
    if (!root.is_object() || !root.contains("model") || !root["model"].is_object())
        throw Error(where + " has no \"model\" object: is it a Hugging Face tokenizer.json?");
    const json& model = root["model"];
    const std::string type = model.value("type", "");
    if (type != "BPE")
        throw Error(where + ": model type '" + type + "' is not supported (byte-level BPE only)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
            throw Error(where + ": BPE with a " + key + " is not supported (byte-level BPE only)");

    for (std::string& w : check_hf_text_handling(root, where))
        tok.warnings_.push_back(std::move(w));

    if (!model.contains("vocab") || !model["vocab"].is_object())
        throw Error(where + ": model.vocab must be an object of token -> id");
    for (const auto& [symbol, id] : model["vocab"].items()) {
        if (!id.is_number_unsigned())
            throw Error(where + ": the id of '" + symbol + "' is not a non-negative integer");
        tok.add_token(symbol, id.get<std::uint64_t>(), where);
    }
    if (!model.contains("merges") || !model["merges"].is_array())
        throw Error(where + ": model.merges must be an array");
    std::uint32_t rank = 0;
    for (const json& merge : model["merges"]) {
        const auto [first, second] = hf_merge_pair(merge, where, rank);
        tok.add_merge(first, second, rank++);
    }
    if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
        for (const json& added : root["added_tokens"]) {
            if (!added.is_object() || !added.contains("id") || !added.contains("content") ||
                !added["id"].is_number_unsigned() || !added["content"].is_string())
                throw Error(where + ": an added_tokens entry lacks an integer id or a content");
            const std::string content = added["content"].get<std::string>();
            tok.add_token(content, added["id"].get<std::uint64_t>(), where);
            if (content == "<|endoftext|>") tok.end_of_text_ = added["id"].get<TokenId>();
        }
    }
    tok.finish_loading();
    if (!tok.end_of_text_)
        if (auto it = tok.symbol_to_id_.find("<|endoftext|>"); it != tok.symbol_to_id_.end())
            tok.end_of_text_ = it->second;
    tok.fingerprint_ = hash_file(tokenizer_json, kFormatSalt);
    tok.description_ = "Hugging Face BPE (" + tokenizer_json.filename().string() + "), " +
                       std::to_string(tok.symbol_to_id_.size()) + " tokens, " +
                       std::to_string(rank) + " merges";
    return tok;
} catch (const json::exception& e) {
    throw Error("tokenizer file '" + tokenizer_json.string() +
                "' has a value of the wrong type: " + e.what());
}

BpeTokenizer BpeTokenizer::load(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error("tokenizer not found: '" + path.string() +
                    "' (give a folder with encoder.json + vocab.bpe, or a tokenizer.json; "
                    "scripts/setup.sh installs GPT-2's)");
    if (fs::is_directory(path, ec)) {
        if (fs::exists(path / "tokenizer.json"))
            return from_hf_tokenizer_json(path / "tokenizer.json");
        if (fs::exists(path / "encoder.json") && fs::exists(path / "vocab.bpe"))
            return from_gpt2_files(path / "encoder.json", path / "vocab.bpe");
        throw Error("folder '" + path.string() +
                    "' holds no tokenizer: expected encoder.json + vocab.bpe, or tokenizer.json");
    }
    if (path.filename() == "encoder.json" || path.filename() == "vocab.bpe") {
        const fs::path dir = path.parent_path();
        return from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe");
    }
    return from_hf_tokenizer_json(path);
}

void BpeTokenizer::bpe(std::string_view piece, std::vector<TokenId>& out) {
    // Symbols start as one byte-alphabet character per byte of the piece.
    std::vector<std::uint32_t> word(piece.size());
    for (std::size_t i = 0; i < piece.size(); ++i)
        word[i] = byte_symbol_[static_cast<unsigned char>(piece[i])];

    while (word.size() > 1) {
        // The lowest-ranked pair present; every occurrence of it merges, left to right.
        std::uint32_t best_rank = kNoRank, first = 0, second = 0, result = 0;
        for (std::size_t i = 0; i + 1 < word.size(); ++i) {
            const auto it = merges_.find((std::uint64_t{word[i]} << 32) | word[i + 1]);
            if (it != merges_.end() && it->second.rank < best_rank) {
                best_rank = it->second.rank;
                first = word[i];
                second = word[i + 1];
                result = it->second.result;
            }
        }
        if (best_rank == kNoRank) break;
        std::size_t kept = 0;
        for (std::size_t i = 0; i < word.size();) {
            if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
                word[kept++] = result;
                i += 2;
            } else {
                word[kept++] = word[i++];
            }
        }
        word.resize(kept);
    }

    // A bound on the cache keeps memory flat on endless text with ever new words.
    if (cache_.size() >= kMaxCachedWords) cache_.clear();
    std::vector<TokenId>& ids = cache_[std::string(piece)];
    for (std::uint32_t symbol : word) {
        if (symbol < kExtraBase) {
            ids.push_back(symbol);
            continue;
        }
        // Only reachable through a vocabulary that lacks a merge's result: fall back to the
        // symbol's single characters, which every byte-level vocabulary holds.
        for (std::string_view ch : utf8_chars(extra_symbols_[symbol - kExtraBase])) {
            const auto c = symbol_to_id_.find(std::string(ch));
            if (c == symbol_to_id_.end())
                throw Error("tokenizer vocabulary lacks the byte symbol '" + std::string(ch) +
                            "': the tokenizer file is incomplete");
            ids.push_back(c->second);
        }
    }
    out.insert(out.end(), ids.begin(), ids.end());
}

void BpeTokenizer::encode_append(std::string_view text, std::vector<TokenId>& out) {
    // The pre-tokenizer's regex runs without PCRE2's own UTF check (it costs a pass per match),
    // so text that is not valid UTF-8 is repaired here first (U+FFFD per invalid sequence, as
    // the corpus readers do): found by fuzz_encode, where such bytes read past the subject.
    std::string repaired;
    if (!is_valid_utf8(text)) {
        repaired = to_valid_utf8(text);
        text = repaired;
    }
    pretokenizer_.for_each_piece(text, [&](std::string_view piece) {
        // Heterogeneous lookup would avoid this key copy; C++17's unordered_map lacks it,
        // and the copy is small next to the regex match.
        thread_local std::string key;
        key.assign(piece.data(), piece.size());
        if (auto it = cache_.find(key); it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
        bpe(piece, out);
    });
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text) {
    std::vector<TokenId> ids;
    ids.reserve(text.size() / 3 + 1);
    encode_append(text, ids);
    return ids;
}

std::string BpeTokenizer::decode(const std::vector<TokenId>& ids) const {
    std::string text;
    for (TokenId id : ids) {
        if (id >= id_to_bytes_.size() || !id_known_[id])
            throw Error("token id " + std::to_string(id) +
                        " is not in the vocabulary (ids are 0.." +
                        std::to_string(id_to_bytes_.size() - 1) + ")");
        text += id_to_bytes_[id];
    }
    return text;
}

}  // namespace cp::data
