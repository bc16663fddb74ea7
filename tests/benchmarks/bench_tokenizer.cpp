// Benchmark (not a test): single-thread tokenizer throughput on the Brown corpus, in MB/s.
// scripts/bench-tokenizer.sh runs it beside the JavaScript reference on the same text.
// usage: bench_tokenizer [CORPUS] [--dump-jsonl FILE]   (FILE: the documents, for the reference)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "data/bpe_tokenizer.h"
#include "data/corpus.h"
#include "data/data_paths.h"

int main(int argc, char** argv) {
    using clock = std::chrono::steady_clock;
    const std::string corpus_name = argc > 1 ? argv[1] : "brown";
    const cp::data::Corpus corpus = cp::data::read_corpus(cp::data::resolve_corpus(corpus_name));
    std::size_t bytes = 0;
    for (const auto& d : corpus.documents) bytes += d.text.size();
    if (argc > 3 && std::string(argv[2]) == "--dump-jsonl") {
        std::ofstream out(argv[3], std::ios::binary);
        for (const auto& d : corpus.documents)
            out << nlohmann::json({{"text", d.text}}).dump() << "\n";
    }

    const auto run = [&](cp::data::BpeTokenizer& tok) {
        std::size_t tokens = 0;
        const auto start = clock::now();
        for (const auto& d : corpus.documents) tokens += tok.encode(d.text).size();
        const double seconds = std::chrono::duration<double>(clock::now() - start).count();
        return std::make_pair(tokens, seconds);
    };
    // Cold: a fresh tokenizer (empty word cache), as when a corpus is first tokenised.
    cp::data::BpeTokenizer cold = cp::data::BpeTokenizer::load(cp::data::default_tokenizer_path());
    const auto [tokens, cold_s] = run(cold);
    // Warm: the same tokenizer again, every word already cached.
    const auto [tokens2, warm_s] = run(cold);
    std::printf(
        "{\"corpus\": \"%s\", \"documents\": %zu, \"bytes\": %zu, \"tokens\": %zu, "
        "\"cold_seconds\": %.4f, \"cold_mb_per_s\": %.2f, \"warm_seconds\": %.4f, "
        "\"warm_mb_per_s\": %.2f}\n",
        corpus_name.c_str(), corpus.documents.size(), bytes, tokens, cold_s, bytes / 1e6 / cold_s,
        warm_s, bytes / 1e6 / warm_s);
    return tokens == tokens2 ? 0 : 1;
}
