// The token cache: built once, reused while sources and tokenizer are unchanged, rebuilt when
// either changes, and read back memory-mapped with the same ids the tokenizer gives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/token_cache.h"
#include "test_support.h"

using namespace cp::data;
using cp::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A small real corpus: the first twelve Brown files (two of them test documents would need 20;
// twelve give ca10 as the one test document).
fs::path copy_brown_files(const TempDir& dir, int count) {
    const fs::path out = dir / "brown";
    fs::create_directories(out);
    int copied = 0;
    for (const char* name : {"ca01", "ca02", "ca03", "ca04", "ca05", "ca06", "ca07", "ca08", "ca09",
                             "ca10", "ca11", "ca12"}) {
        if (copied++ == count) break;
        fs::copy_file(cp::test::brown_dir() / name, out / name);
    }
    return out;
}

}  // namespace

TEST(TokenCache, BuildsThenReusesWhileNothingChanges) {
    TempDir dir;
    const fs::path corpus = copy_brown_files(dir, 12);
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    PrepareOptions options;
    options.cache_dir = dir / "cache";

    PrepareReport first;
    const TokenizedCorpus built = TokenizedCorpus::prepare(corpus, tok, options, &first);
    EXPECT_TRUE(first.rebuilt);
    EXPECT_EQ(first.reason, "no cache yet");
    ASSERT_EQ(built.documents().size(), 12u);

    PrepareReport second;
    const TokenizedCorpus reused = TokenizedCorpus::prepare(corpus, tok, options, &second);
    EXPECT_FALSE(second.rebuilt) << second.reason;
    EXPECT_EQ(reused.total_tokens(), built.total_tokens());
    EXPECT_EQ(reused.document_tokens(3), built.document_tokens(3));
}

TEST(TokenCache, MappedIdsEqualTheTokenizerAndSplitsFollowDocumentOrder) {
    TempDir dir;
    const fs::path corpus = copy_brown_files(dir, 12);
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    PrepareOptions options;
    options.cache_dir = dir / "cache";
    const TokenizedCorpus cached = TokenizedCorpus::prepare(corpus, tok, options);
    const Corpus text = read_corpus(corpus);
    for (std::size_t d = 0; d < text.documents.size(); ++d)
        ASSERT_EQ(cached.document_tokens(d), tok.encode(text.documents[d].text)) << d;

    EXPECT_EQ(cached.documents()[9].name, "ca10");
    EXPECT_EQ(cached.documents()[9].split, Split::test);
    EXPECT_EQ(cached.stats(Split::test).documents, 1u);
    EXPECT_EQ(cached.stats(Split::train).documents, 11u);

    // The test stream is ca10's tokens followed by end-of-text, nothing from training documents.
    const auto test_stream = cached.stream(Split::test, tok.end_of_text());
    auto expected = tok.encode(text.documents[9].text);
    expected.push_back(*tok.end_of_text());
    EXPECT_EQ(test_stream, expected);
    const auto train_stream = cached.stream(Split::train, tok.end_of_text());
    EXPECT_EQ(train_stream.size(), cached.stats(Split::train).tokens + 11);
}

TEST(TokenCache, ChangedSourceRebuildsAndNamesTheFile) {
    TempDir dir;
    const fs::path corpus = copy_brown_files(dir, 3);
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    PrepareOptions options;
    options.cache_dir = dir / "cache";
    const auto before = TokenizedCorpus::prepare(corpus, tok, options).total_tokens();

    // Append a real sentence from another Brown file to ca02.
    const std::string extra = "\n\n\tThe/at jury/nn further/rbr said/vbd ./.\n";
    cp::test::write_text(corpus / "ca02", cp::test::read_text(corpus / "ca02") + extra);
    PrepareReport report;
    const TokenizedCorpus after = TokenizedCorpus::prepare(corpus, tok, options, &report);
    EXPECT_TRUE(report.rebuilt);
    EXPECT_EQ(report.reason, "'ca02' changed");
    EXPECT_EQ(after.total_tokens(), before + tok.encode(" The jury further said.").size());
}

TEST(TokenCache, AddedSourceFileRebuilds) {
    TempDir dir;
    const fs::path corpus = copy_brown_files(dir, 2);
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    PrepareOptions options;
    options.cache_dir = dir / "cache";
    TokenizedCorpus::prepare(corpus, tok, options);
    fs::copy_file(cp::test::brown_dir() / "ca03", corpus / "ca03");
    PrepareReport report;
    const TokenizedCorpus after = TokenizedCorpus::prepare(corpus, tok, options, &report);
    EXPECT_TRUE(report.rebuilt);
    EXPECT_EQ(report.reason, "the set of source files changed");
    EXPECT_EQ(after.documents().size(), 3u);
}

TEST(TokenCache, DamagedTokenFileIsRebuiltNotTrusted) {
    TempDir dir;
    const fs::path corpus = copy_brown_files(dir, 2);
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    PrepareOptions options;
    options.cache_dir = dir / "cache";
    PrepareReport first;
    const auto tokens = TokenizedCorpus::prepare(corpus, tok, options, &first).total_tokens();
    const std::string body = cp::test::read_text(first.tokens_path);
    cp::test::write_text(first.tokens_path, body.substr(0, body.size() / 2));  // a crash mid-copy
    PrepareReport second;
    const TokenizedCorpus again = TokenizedCorpus::prepare(corpus, tok, options, &second);
    EXPECT_TRUE(second.rebuilt);
    EXPECT_EQ(again.total_tokens(), tokens);
}

TEST(TokenCache, FailedBuildLeavesThePreviousCacheUntouched) {
    TempDir dir;
    const fs::path corpus = dir / "jsonl";
    const std::string good =
        nlohmann::json({{"text", cp::test::real_sentences(500)}}).dump() + "\n";
    cp::test::write_text(corpus / "a.jsonl", good);
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    PrepareOptions options;
    options.cache_dir = dir / "cache";
    PrepareReport first;
    TokenizedCorpus::prepare(corpus, tok, options, &first);
    const std::string sidecar = cp::test::read_text(first.sidecar_path);

    cp::test::write_text(corpus / "a.jsonl", good + "{broken\n");
    EXPECT_THROW(TokenizedCorpus::prepare(corpus, tok, options), cp::Error);
    EXPECT_EQ(cp::test::read_text(first.sidecar_path), sidecar);
}
