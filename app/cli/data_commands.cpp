// `tokenize` and `data prepare`: the tokenizer and the token cache from the command line.
#include <iomanip>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/tokenizer_option.h"
#include "common/error.h"
#include "common/files.h"
#include "data/bpe_tokenizer.h"
#include "data/data_paths.h"
#include "data/token_cache.h"
#include "data/utf8.h"

namespace cp::cli {
namespace fs = std::filesystem;
using nlohmann::json;

int tokenize_command(int argc, char** argv, int first) {
    Args args("context-pythia tokenize [options] [FILE|-]",
              "Prints the token ids of a text as one JSON array (stdin when no file or '-').",
              {kTokenizerOption}, "FILE  UTF-8 text; invalid bytes become U+FFFD (with a warning)",
              1);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    data::BpeTokenizer tokenizer = load_tokenizer(args);
    std::string bytes;
    const std::string source = args.positional().empty() ? "-" : args.positional()[0];
    if (source == "-")
        bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    else
        bytes = read_file(source);
    std::size_t replaced = 0;
    const std::string text = data::to_valid_utf8(bytes, &replaced);
    if (replaced)
        std::cerr << "warning: " << replaced << " invalid UTF-8 sequence(s) in '" << source
                  << "' were replaced by U+FFFD\n";
    std::string out = "[";
    bool first_id = true;
    for (data::TokenId id : tokenizer.encode(text)) {
        if (!first_id) out += ',';
        out += std::to_string(id);
        first_id = false;
    }
    out += "]\n";
    std::cout << out;
    return 0;
}

int data_prepare_command(int argc, char** argv, int first) {
    Args args("context-pythia data prepare [options]",
              "Builds the token cache of each corpus, or verifies that it is current, and prints\n"
              "per-split statistics (test = every 10th document, never trained on).",
              {{"corpus", "NAME|PATH",
                "'brown', 'nlp', a folder of .txt/.jsonl/.jsonl.zst, or a .jsonl(.zst) file "
                "(default: brown and nlp)",
                true},
               kTokenizerOption,
               {"cache-dir", "DIR", "where token caches live (default: <data>/cache)"},
               {"skip-bad-lines", "", "skip and count malformed JSONL lines instead of stopping"},
               {"json", "", "print the statistics as one JSON object"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    std::vector<std::string> corpora = args.all("corpus");
    if (corpora.empty()) corpora = {"brown", "nlp"};
    // Resolve every corpus before any work, so a typo in the second stops nothing half-done.
    std::vector<fs::path> paths;
    for (const std::string& c : corpora) paths.push_back(data::resolve_corpus(c));
    data::BpeTokenizer tokenizer = load_tokenizer(args);
    data::PrepareOptions options;
    options.cache_dir = args.get("cache-dir", data::default_cache_dir().string());
    options.bad_lines =
        args.has("skip-bad-lines") ? data::BadLinePolicy::skip : data::BadLinePolicy::fail;

    json report = {{"tokenizer", tokenizer.description()}, {"corpora", json::array()}};
    for (std::size_t c = 0; c < paths.size(); ++c) {
        data::PrepareReport rep;
        const data::TokenizedCorpus corpus =
            data::TokenizedCorpus::prepare(paths[c], tokenizer, options, &rep);
        if (rep.invalid_utf8_replaced)
            std::cerr << "warning: " << rep.invalid_utf8_replaced
                      << " invalid UTF-8 sequence(s) in '" << corpora[c]
                      << "' were replaced by U+FFFD\n";
        if (rep.skipped_lines)
            std::cerr << "warning: " << rep.skipped_lines << " malformed JSONL line(s) in '"
                      << corpora[c] << "' were skipped\n";
        json entry = {{"corpus", corpora[c]},
                      {"path", paths[c].string()},
                      {"kind", data::to_string(corpus.kind())},
                      {"cache", rep.rebuilt ? "built" : "verified"},
                      {"reason", rep.reason},
                      {"cache_file", rep.tokens_path.string()},
                      {"splits", json::object()}};
        for (data::Split split : {data::Split::train, data::Split::test}) {
            const data::SplitStats s = corpus.stats(split);
            entry["splits"][data::to_string(split)] = {{"documents", s.documents},
                                                       {"words", s.words},
                                                       {"tokens", s.tokens},
                                                       {"bytes", s.bytes}};
        }
        report["corpora"].push_back(entry);
    }

    if (args.has("json")) {
        std::cout << report.dump(2) << "\n";
        return 0;
    }
    std::cout << "tokenizer: " << tokenizer.description() << "\n";
    for (const json& entry : report["corpora"]) {
        std::cout << "\ncorpus " << entry["corpus"].get<std::string>() << " ("
                  << entry["kind"].get<std::string>() << ", " << entry["path"].get<std::string>()
                  << ")\n  cache " << entry["cache"].get<std::string>()
                  << (entry["reason"].get<std::string>().empty()
                          ? ""
                          : " (" + entry["reason"].get<std::string>() + ")")
                  << ": " << entry["cache_file"].get<std::string>() << "\n";
        std::cout << "  " << std::left << std::setw(7) << "split" << std::right << std::setw(11)
                  << "documents" << std::setw(12) << "words" << std::setw(12) << "tokens"
                  << "\n";
        for (const char* split : {"train", "test"}) {
            const json& s = entry["splits"][split];
            std::cout << "  " << std::left << std::setw(7) << split << std::right << std::setw(11)
                      << s["documents"].get<std::uint64_t>() << std::setw(12)
                      << s["words"].get<std::uint64_t>() << std::setw(12)
                      << s["tokens"].get<std::uint64_t>() << "\n";
        }
    }
    return 0;
}

}  // namespace cp::cli
