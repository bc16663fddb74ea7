#include "data/token_cache.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "data/hash.h"
#include "data/utf8.h"

namespace cp::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;
constexpr char kMagic[8] = {'C', 'P', 'T', 'O', 'K', 'E', 'N', 'S'};
constexpr std::size_t kHeaderBytes = 24;  // magic, u32 width, u32 version, u64 count

json describe_sources(const std::vector<fs::path>& sources) {
    json list = json::array();
    for (const fs::path& p : sources) {
        std::error_code ec;
        list.push_back({{"path", fs::absolute(p, ec).lexically_normal().string()},
                        {"size", fs::file_size(p, ec)},
                        {"hash", hex64(hash_file(p))}});
    }
    return list;
}

// Why the cache at `sidecar` cannot be used, or "" when it can.
std::string stale_reason(const fs::path& sidecar, const fs::path& tokens, const json& sources,
                         const BpeTokenizer& tokenizer, json* meta) {
    std::error_code ec;
    if (!fs::exists(sidecar, ec) || !fs::exists(tokens, ec)) return "no cache yet";
    try {
        *meta = json::parse(read_file(sidecar));
    } catch (const std::exception&) {
        return "the sidecar is unreadable";
    }
    if (meta->value("format", 0) != kFormatVersion) return "the cache format changed";
    if (meta->value("tokenizer_fingerprint", "") != hex64(tokenizer.fingerprint()))
        return "the tokenizer changed";
    const json& old = (*meta)["sources"];
    if (!old.is_array() || old.size() != sources.size()) return "the set of source files changed";
    for (std::size_t i = 0; i < sources.size(); ++i)
        if (old[i] != sources[i])
            return "'" + fs::path(sources[i]["path"].get<std::string>()).filename().string() +
                   "' changed";
    if (fs::file_size(tokens, ec) != meta->value("tokens_file_bytes", std::uint64_t{0}))
        return "the token file does not match its sidecar";
    return "";
}

// The token file: a header (magic, id width, format, count), then every document's ids,
// little-endian, in order; `docs` gets each document's place and split.
std::string encode_tokens(const Corpus& corpus, BpeTokenizer& tokenizer, std::uint32_t width,
                          json& docs, std::uint64_t& count) {
    std::string body(kHeaderBytes, '\0');
    count = 0;
    std::vector<TokenId> ids;
    for (std::size_t d = 0; d < corpus.documents.size(); ++d) {
        const Document& doc = corpus.documents[d];
        ids.clear();
        tokenizer.encode_append(doc.text, ids);
        for (TokenId id : ids) {  // little-endian ids, as the header says
            for (std::uint32_t b = 0; b < width; ++b)
                body += static_cast<char>((id >> (8 * b)) & 0xFF);
        }
        docs.push_back({{"name", doc.name},
                        {"split", to_string(split_of_document(d))},
                        {"offset", count},
                        {"tokens", ids.size()},
                        {"words", count_words(doc.text)},
                        {"bytes", doc.text.size()}});
        count += ids.size();
    }
    std::memcpy(&body[0], kMagic, 8);
    for (int b = 0; b < 4; ++b) body[8 + b] = static_cast<char>((width >> (8 * b)) & 0xFF);
    for (int b = 0; b < 4; ++b)
        body[12 + b] = static_cast<char>((kFormatVersion >> (8 * b)) & 0xFF);
    for (int b = 0; b < 8; ++b) body[16 + b] = static_cast<char>((count >> (8 * b)) & 0xFF);
    return body;
}

// Tokenizes the corpus and writes the token file and its sidecar; returns the sidecar.
json rebuild_cache(const fs::path& corpus_path, CorpusKind kind, const std::string& root_key,
                   const json& source_list, BpeTokenizer& tokenizer, const PrepareOptions& options,
                   PrepareReport& rep) {
    const Corpus corpus = read_corpus(corpus_path, options.bad_lines);  // throws before writing
    rep.invalid_utf8_replaced = corpus.invalid_utf8_replaced;
    rep.skipped_lines = corpus.skipped_lines;
    rep.empty_documents = corpus.empty_documents;
    if (tokenizer.vocab_size() > (1u << 24))
        throw Error("tokenizer vocabulary is too large for the token cache");
    const std::uint32_t width = tokenizer.vocab_size() <= 65536 ? 2 : 4;
    json docs = json::array();
    std::uint64_t count = 0;
    const std::string body = encode_tokens(corpus, tokenizer, width, docs, count);
    json meta = {{"format", kFormatVersion},
                 {"corpus", root_key},
                 {"kind", to_string(kind)},
                 {"tokenizer", tokenizer.description()},
                 {"tokenizer_fingerprint", hex64(tokenizer.fingerprint())},
                 {"token_width", width},
                 {"total_tokens", count},
                 {"tokens_file_bytes", body.size()},
                 {"invalid_utf8_replaced", corpus.invalid_utf8_replaced},
                 {"skipped_lines", corpus.skipped_lines},
                 {"sources", source_list},
                 {"documents", docs}};
    std::error_code ec;
    fs::create_directories(options.cache_dir, ec);
    if (ec)
        throw Error("cannot create the cache folder '" + options.cache_dir.string() +
                    "': " + ec.message() + " (choose another with --cache-dir)");
    // Token file first, sidecar last: a crash in between leaves a sidecar that does not
    // match the token file, which the next run rebuilds.
    write_file_atomic(rep.tokens_path, body);
    write_file_atomic(rep.sidecar_path, meta.dump(1));
    return meta;
}

TokenizedDocument document_of(const json& d) {
    TokenizedDocument doc;
    doc.name = d["name"].get<std::string>();
    doc.split = d["split"].get<std::string>() == "test" ? Split::test : Split::train;
    doc.offset = d["offset"].get<std::uint64_t>();
    doc.tokens = d["tokens"].get<std::uint64_t>();
    doc.words = d["words"].get<std::uint64_t>();
    doc.bytes = d["bytes"].get<std::uint64_t>();
    return doc;
}

}  // namespace

TokenizedCorpus TokenizedCorpus::prepare(const fs::path& corpus_path, BpeTokenizer& tokenizer,
                                         const PrepareOptions& options, PrepareReport* report) {
    PrepareReport local;
    PrepareReport& rep = report ? *report : local;
    std::vector<fs::path> sources;
    const CorpusKind kind = detect_corpus(corpus_path, &sources);
    const json source_list = describe_sources(sources);

    std::error_code ec;
    const std::string root_key = fs::absolute(corpus_path, ec).lexically_normal().string();
    const std::string stem =
        std::string(to_string(kind)) + "-" + hex64(fnv1a(root_key, tokenizer.fingerprint()));
    rep.tokens_path = options.cache_dir / (stem + ".tokens");
    rep.sidecar_path = options.cache_dir / (stem + ".json");

    json meta;
    rep.reason = stale_reason(rep.sidecar_path, rep.tokens_path, source_list, tokenizer, &meta);
    rep.rebuilt = !rep.reason.empty();
    if (rep.rebuilt)
        meta = rebuild_cache(corpus_path, kind, root_key, source_list, tokenizer, options, rep);

    TokenizedCorpus out;
    out.kind_ = kind;
    out.root_ = corpus_path;
    out.file_ = MappedFile(rep.tokens_path);
    out.width_ = meta["token_width"].get<std::uint32_t>();
    out.count_ = meta["total_tokens"].get<std::uint64_t>();
    if (out.file_.size() != kHeaderBytes + out.count_ * out.width_ ||
        std::memcmp(out.file_.data(), kMagic, 8) != 0)
        throw Error("token cache '" + rep.tokens_path.string() +
                    "' is damaged: delete it and run again");
    for (const json& d : meta["documents"]) {
        TokenizedDocument doc = document_of(d);
        if (doc.offset + doc.tokens > out.count_)
            throw Error("token cache sidecar '" + rep.sidecar_path.string() +
                        "' is damaged: delete it and run again");
        out.documents_.push_back(std::move(doc));
    }
    return out;
}

TokenId TokenizedCorpus::token(std::uint64_t i) const {
    const unsigned char* p = file_.data() + kHeaderBytes + i * width_;
    TokenId id = 0;
    for (std::uint32_t b = 0; b < width_; ++b) id |= static_cast<TokenId>(p[b]) << (8 * b);
    return id;
}

std::vector<TokenId> TokenizedCorpus::document_tokens(std::size_t document) const {
    const TokenizedDocument& doc = documents_.at(document);
    std::vector<TokenId> ids(doc.tokens);
    for (std::uint64_t k = 0; k < doc.tokens; ++k) ids[k] = token(doc.offset + k);
    return ids;
}

std::vector<TokenId> TokenizedCorpus::stream(Split split,
                                             std::optional<TokenId> end_of_text) const {
    std::vector<TokenId> ids;
    ids.reserve(stats(split).tokens + documents_.size());
    for (const TokenizedDocument& doc : documents_) {
        if (doc.split != split) continue;
        for (std::uint64_t k = 0; k < doc.tokens; ++k) ids.push_back(token(doc.offset + k));
        if (end_of_text) ids.push_back(*end_of_text);
    }
    return ids;
}

SplitStats TokenizedCorpus::stats(Split split) const {
    SplitStats s;
    for (const TokenizedDocument& doc : documents_) {
        if (doc.split != split) continue;
        ++s.documents;
        s.words += doc.words;
        s.tokens += doc.tokens;
        s.bytes += doc.bytes;
    }
    return s;
}

}  // namespace cp::data
