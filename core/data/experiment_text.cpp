#include "data/experiment_text.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data/data_paths.h"
#include "data/token_cache.h"

namespace cp::data {
namespace fs = std::filesystem;
namespace {

// A passage as the model reads it: context and " " + word as ids, the context cut on the left
// so that context + target fit the trained seq_length (MODEL_SPEC §5); nothing when the target
// alone does not fit.
void add_last_word(const LastWordPassage& passage, BpeTokenizer& tokenizer,
                   std::int64_t seq_length, std::vector<LastWordItem>& out) {
    std::vector<std::int64_t> context;
    LastWordItem item;
    for (auto id : tokenizer.encode(passage.context)) context.push_back(id);
    for (auto id : tokenizer.encode(" " + passage.word)) item.target.push_back(id);
    CutContext cut = cut_left(context, item.target.size(), static_cast<std::size_t>(seq_length));
    if (!cut.fits) return;
    item.context = std::move(cut.context);
    out.push_back(std::move(item));
}

}  // namespace

std::string npm_package_of(const fs::path& path) {
    fs::path folder;
    for (fs::path p = path; !p.empty() && p != p.parent_path(); p = p.parent_path())
        if (p.parent_path().filename() == "npm") folder = p;
    if (folder.empty()) return "";
    const std::string name = folder.filename().string();
    const auto dash = name.rfind('-');
    const std::string spec =
        dash == std::string::npos ? name : name.substr(0, dash) + "@" + name.substr(dash + 1);
    std::ifstream verified(folder / ".verified");
    std::string integrity;
    std::getline(verified, integrity);
    return integrity.empty() ? spec : spec + " " + integrity;
}

namespace {

// One corpus's streams, held-out documents and passages appended to `text`.
void read_corpus_text(const std::string& corpus, const TextSpec& spec, BpeTokenizer& tokenizer,
                      const std::function<void()>& stopped, ExperimentText& text) {
    PrepareOptions options;
    options.cache_dir = default_cache_dir();
    const fs::path path = resolve_corpus(corpus);
    PrepareReport report;
    const TokenizedCorpus tc = TokenizedCorpus::prepare(path, tokenizer, options, &report);
    text.corpora_read.push_back(
        {corpus, path.string(), npm_package_of(path), report.tokens_path.filename().string()});
    for (TokenId id : tc.stream(Split::train, tokenizer.end_of_text()))
        text.train_stream.push_back(id);
    // Each held-out document begins where the one before ended, after its end-of-text.
    std::size_t at = text.test_stream.size();
    for (const TokenizedDocument& doc : tc.documents())
        if (doc.split == Split::test) {
            text.test_documents.push_back(
                {at, genre_of(doc.name, tc.kind() == CorpusKind::brown, corpus)});
            at += static_cast<std::size_t>(doc.tokens) + 1;
        }
    for (TokenId id : tc.stream(Split::test, tokenizer.end_of_text()))
        text.test_stream.push_back(id);
    if (at != text.test_stream.size())
        throw Error("internal error: the held-out documents of " + corpus +
                    " do not add up to their stream");
    for (std::size_t d = 0; d < tc.documents().size(); ++d) {
        if (tc.documents()[d].split != Split::test) continue;
        stopped();
        for (const auto& passage : last_word_passages(tokenizer.decode(tc.document_tokens(d))))
            add_last_word(passage, tokenizer, spec.seq_length, text.last_words);
    }
}

}  // namespace

ExperimentText read_experiment_text(const TextSpec& spec, BpeTokenizer& tokenizer,
                                    const std::function<void()>& stopped) {
    ExperimentText text;
    for (const std::string& corpus : spec.corpora) {
        stopped();
        read_corpus_text(corpus, spec, tokenizer, stopped, text);
    }
    // A LAMBADA file replaces the corpus's passages: every line (its passages are not the
    // corpus's, so nothing of them is trained on), each context cut on the left to the length.
    if (!spec.lambada_file.empty()) {
        text.last_words.clear();
        for (const LastWordPassage& passage : lambada_file_passages(spec.lambada_file)) {
            ++text.lambada_lines;
            add_last_word(passage, tokenizer, spec.seq_length, text.last_words);
        }
        return text;
    }
    // At most max_last_word_passages, drawn evenly across all held-out documents' passages.
    std::vector<LastWordItem> chosen;
    for (std::size_t i : evenly_spaced(text.last_words.size(),
                                       static_cast<std::size_t>(spec.max_last_word_passages)))
        chosen.push_back(std::move(text.last_words[i]));
    text.last_words = std::move(chosen);
    return text;
}

TestChunkChoice test_chunk_choice(const ExperimentText& text, std::int64_t seq_length,
                                  std::int64_t max_test_chunks) {
    const std::size_t width = static_cast<std::size_t>(seq_length + 1);
    const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(max_test_chunks),
                                                    text.test_stream.size() / width);
    return choose_test_chunks(text.test_stream.size(), width, count, text.test_documents);
}

std::vector<std::int64_t> test_chunk_tokens(const ExperimentText& text, std::int64_t seq_length,
                                            const TestChunkChoice& choice) {
    const std::size_t width = static_cast<std::size_t>(seq_length + 1);
    std::vector<std::int64_t> tokens;
    for (std::size_t start : choice.starts)
        tokens.insert(tokens.end(), text.test_stream.begin() + static_cast<std::ptrdiff_t>(start),
                      text.test_stream.begin() + static_cast<std::ptrdiff_t>(start + width));
    return tokens;
}

HeldOutData held_out_data(const ExperimentText& text, std::int64_t seq_length,
                          std::int64_t max_test_chunks, std::int64_t training_chunks) {
    HeldOutData d;
    d.chunk_width = seq_length + 1;
    const TestChunkChoice choice = test_chunk_choice(text, seq_length, max_test_chunks);
    d.test_chunks = static_cast<std::int64_t>(choice.starts.size());
    d.test_tokens = test_chunk_tokens(text, seq_length, choice);
    d.test_documents = choice.distinct_documents;
    d.test_genres = choice.distinct_genres;
    d.test_chunk_documents = choice.documents;
    d.last_words = text.last_words;
    d.prompt.assign(text.test_stream.begin(),
                    text.test_stream.begin() +
                        std::min<std::ptrdiff_t>(256, static_cast<std::ptrdiff_t>(text.test_stream.size())));
    const std::size_t training =
        std::min(text.train_stream.size(), static_cast<std::size_t>(training_chunks * d.chunk_width));
    d.training_tokens.assign(text.train_stream.begin(),
                             text.train_stream.begin() + static_cast<std::ptrdiff_t>(training));
    return d;
}

}  // namespace cp::data
