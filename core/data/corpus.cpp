#include "data/corpus.h"

#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/error.h"
#include "common/files.h"
#include "data/brown.h"
#include "data/utf8.h"

namespace cp::data {
namespace fs = std::filesystem;
using nlohmann::json;

const char* to_string(CorpusKind kind) {
    switch (kind) {
        case CorpusKind::brown:
            return "brown";
        case CorpusKind::nlp_corpus:
            return "nlp-corpus";
        case CorpusKind::user_folder:
            return "folder";
        case CorpusKind::jsonl_file:
            return "jsonl";
    }
    return "?";
}

bool natural_less(const std::string& a, const std::string& b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (std::isdigit(static_cast<unsigned char>(a[i])) &&
            std::isdigit(static_cast<unsigned char>(b[j]))) {
            std::size_t ie = i, je = j;
            while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
            while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
            // Compare by value: strip leading zeros, then longer is larger, then digit by digit.
            std::size_t is = i, js = j;
            while (is + 1 < ie && a[is] == '0') ++is;
            while (js + 1 < je && b[js] == '0') ++js;
            if (ie - is != je - js) return ie - is < je - js;
            const int c = a.compare(is, ie - is, b, js, je - js);
            if (c != 0) return c < 0;
            i = ie;
            j = je;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_jsonl(const fs::path& p) {
    const std::string n = p.filename().string();
    return ends_with(n, ".jsonl") || ends_with(n, ".jsonl.zst");
}

std::vector<fs::path> sorted_files(const fs::path& dir,
                                   const std::function<bool(const fs::path&)>& keep) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file() && keep(it->path())) files.push_back(it->path());
    if (ec) throw Error("cannot list folder '" + dir.string() + "': " + ec.message());
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
        return natural_less(a.filename().string(), b.filename().string());
    });
    return files;
}

// Calls `line(text, number)` for each line of a plain or zstd-compressed file, streaming, so a
// multi-gigabyte Pile shard never sits in memory whole.
void for_each_line(const fs::path& path,
                   const std::function<void(std::string&, std::size_t)>& line) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot read '" + path.string() + "' (check that it exists and is readable)");
    const bool zst = ends_with(path.filename().string(), ".zst");
    std::string pending;
    std::size_t number = 0;
    const auto feed = [&](const char* data, std::size_t size) {
        std::size_t start = 0;
        for (std::size_t k = 0; k < size; ++k) {
            if (data[k] != '\n') continue;
            pending.append(data + start, k - start);
            line(pending, ++number);
            pending.clear();
            start = k + 1;
        }
        pending.append(data + start, size - start);
    };
    std::vector<char> input(1 << 17);
    if (!zst) {
        while (in) {
            in.read(input.data(), static_cast<std::streamsize>(input.size()));
            feed(input.data(), static_cast<std::size_t>(in.gcount()));
        }
    } else {
        std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> stream(ZSTD_createDStream(),
                                                                          &ZSTD_freeDStream);
        ZSTD_initDStream(stream.get());
        std::vector<char> output(ZSTD_DStreamOutSize());
        std::size_t last_result = 0;
        bool any = false;
        while (in) {
            in.read(input.data(), static_cast<std::streamsize>(input.size()));
            ZSTD_inBuffer src{input.data(), static_cast<std::size_t>(in.gcount()), 0};
            any = any || src.size > 0;
            while (src.pos < src.size) {
                ZSTD_outBuffer dst{output.data(), output.size(), 0};
                last_result = ZSTD_decompressStream(stream.get(), &dst, &src);
                if (ZSTD_isError(last_result))
                    throw Error("'" + path.string() + "' is not valid zstd data (" +
                                ZSTD_getErrorName(last_result) +
                                "): re-download or re-compress it");
                feed(output.data(), dst.pos);
            }
        }
        if (!any || last_result != 0)
            throw Error("'" + path.string() +
                        "' ends in the middle of a zstd frame: the file is truncated");
    }
    if (in.bad()) throw Error("error while reading '" + path.string() + "'");
    if (!pending.empty()) line(pending, ++number);
}

void add_document(Corpus& corpus, std::string name, std::string text) {
    if (count_words(text) == 0) {
        ++corpus.empty_documents;
        return;
    }
    corpus.documents.push_back({std::move(name), std::move(text)});
}

std::string valid_text(Corpus& corpus, const std::string& bytes) {
    return to_valid_utf8(bytes, &corpus.invalid_utf8_replaced);
}

void read_jsonl_file(Corpus& corpus, const fs::path& path, BadLinePolicy policy) {
    const std::string file_name = path.filename().string();
    for_each_line(path, [&](std::string& raw, std::size_t number) {
        if (!raw.empty() && raw.back() == '\r') raw.pop_back();
        if (count_words(raw) == 0) return;  // blank lines separate nothing
        const auto bad = [&](const std::string& why) {
            if (policy == BadLinePolicy::skip) {
                ++corpus.skipped_lines;
                return;
            }
            throw Error("corpus file '" + path.string() + "' is not valid JSONL at line " +
                        std::to_string(number) + ": " + why +
                        " (fix the line, or skip bad lines with --skip-bad-lines)");
        };
        json doc;
        try {
            doc = json::parse(valid_text(corpus, raw));
        } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
            return bad(std::string("not JSON (") + e.what() + ")");
        }
        if (!doc.is_object() || !doc.contains("text"))
            return bad("expected an object with a \"text\" field");
        if (!doc["text"].is_string()) return bad("\"text\" is not a string");
        add_document(corpus, file_name + ":" + std::to_string(number),
                     doc["text"].get<std::string>());
    });
}

void read_nlp_corpus_file(Corpus& corpus, const fs::path& path) {
    json sentences;
    try {
        sentences = json::parse(valid_text(corpus, read_file(path)));
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
        throw Error("corpus file '" + path.string() + "' is not valid JSON (" + e.what() +
                    "); re-run scripts/setup.sh to restore it");
    }
    if (!sentences.is_array())
        throw Error("corpus file '" + path.string() + "' must be a JSON array of sentences");
    std::string text;
    for (std::size_t k = 0; k < sentences.size(); ++k) {
        if (!sentences[k].is_string())
            throw Error("corpus file '" + path.string() + "': element " + std::to_string(k) +
                        " is not a string (expected an array of sentences)");
        if (!text.empty()) text += ' ';
        text += sentences[k].get<std::string>();
    }
    add_document(corpus, path.filename().string(), std::move(text));
}

}  // namespace

CorpusKind detect_corpus(const fs::path& path, std::vector<fs::path>* sources) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error("corpus not found: '" + path.string() +
                    "' (give a folder of .txt/.jsonl/.jsonl.zst files, a .jsonl(.zst) file, "
                    "or 'brown' / 'nlp' after scripts/setup.sh)");
    if (!fs::is_directory(path, ec)) {
        if (!is_jsonl(path))
            throw Error("corpus file '" + path.string() +
                        "' is neither .jsonl nor .jsonl.zst (for .txt files give their folder)");
        if (sources) *sources = {path};
        return CorpusKind::jsonl_file;
    }
    static const std::regex brown_name("c[a-r][0-9][0-9]");
    static const std::regex nlp_name("doc-[0-9]+\\.json");
    auto files = sorted_files(path, [](const fs::path& p) {
        return std::regex_match(p.filename().string(), brown_name);
    });
    CorpusKind kind = CorpusKind::brown;
    if (files.empty()) {
        kind = CorpusKind::nlp_corpus;
        files = sorted_files(path, [](const fs::path& p) {
            return std::regex_match(p.filename().string(), nlp_name);
        });
    }
    if (files.empty()) {
        kind = CorpusKind::user_folder;
        files = sorted_files(
            path, [](const fs::path& p) { return p.extension() == ".txt" || is_jsonl(p); });
    }
    if (files.empty())
        throw Error("corpus folder '" + path.string() +
                    "' holds no documents: expected Brown files (ca01...), nlp-corpus "
                    "doc-N.json files, or .txt/.jsonl/.jsonl.zst files");
    if (sources) *sources = std::move(files);
    return kind;
}

Corpus read_corpus(const fs::path& path, BadLinePolicy policy) {
    Corpus corpus;
    corpus.root = path;
    corpus.kind = detect_corpus(path, &corpus.sources);
    for (const fs::path& file : corpus.sources) {
        switch (corpus.kind) {
            case CorpusKind::brown:
                add_document(corpus, file.filename().string(),
                             detokenize_brown(valid_text(corpus, read_file(file))));
                break;
            case CorpusKind::nlp_corpus:
                read_nlp_corpus_file(corpus, file);
                break;
            case CorpusKind::user_folder:
            case CorpusKind::jsonl_file:
                if (is_jsonl(file))
                    read_jsonl_file(corpus, file, policy);
                else
                    add_document(corpus, file.filename().string(),
                                 valid_text(corpus, read_file(file)));
                break;
        }
    }
    if (corpus.documents.empty())
        throw Error("corpus '" + path.string() + "' holds no text: all " +
                    std::to_string(corpus.sources.size()) + " file(s) are empty" +
                    (corpus.skipped_lines ? " or were skipped as malformed" : ""));
    return corpus;
}

}  // namespace cp::data
