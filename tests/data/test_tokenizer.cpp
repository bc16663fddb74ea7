// The byte-level BPE tokenizer: known GPT-2 ids, exact round trips, both file formats, and a
// clear error for each kind of bad tokenizer file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/corpus.h"
#include "data/utf8.h"
#include "test_support.h"

using cp::test::error_of;

using cp::Error;
using cp::data::BpeTokenizer;
using cp::data::TokenId;
namespace fs = std::filesystem;
using nlohmann::json;

TEST(Tokenizer, LoadsGpt2VocabularyWithEndOfText) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    EXPECT_EQ(tok.vocab_size(), 50257u);
    ASSERT_TRUE(tok.end_of_text().has_value());
    EXPECT_EQ(*tok.end_of_text(), 50256u);
}

TEST(Tokenizer, EncodesKnownGpt2Ids) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    EXPECT_EQ(tok.encode("Hello world"), (std::vector<TokenId>{15496, 995}));
    EXPECT_EQ(tok.encode(" the"), (std::vector<TokenId>{262}));
    EXPECT_EQ(tok.encode(""), (std::vector<TokenId>{}));
}

TEST(Tokenizer, RoundTripsHardStrings) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    const std::vector<std::string> hard = {
        "東京は日本の首都です。北京、서울",                          // CJK
        "emoji 😀🙂👍🏽 and ZWJ 👩‍👩‍👧 family",  // astral plane, modifiers,
                                                                     // joiners
        "e\xCC\x81 n\xCC\x83 a\xCC\x8A combining marks",             // combining marks
        "windows\r\nline\r\nendings\r\n",
        "\ttabs\tand\t\ttabs",
        "runs     of      spaces   ",
        "digits 0123456789 3.14159 1,000,000",
        "contractions: it's, we'll, I'd, they've, don't, I'M, O'Neil's",
        "trailing spaces   ",
        "   leading spaces",
        "\xEF\xBF\xBD replacement char, \xC2\x85 NEL, \xEF\xBB\xBF BOM",
        "",
        " ",
        "\n",
    };
    for (const std::string& s : hard) EXPECT_EQ(tok.decode(tok.encode(s)), s) << "text: " << s;
}

TEST(Tokenizer, RoundTripsEveryDocumentOfBothCorpora) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    std::size_t documents = 0, tokens = 0;
    for (const fs::path& dir : {cp::test::brown_dir(), cp::test::nlp_corpus_dir()}) {
        const cp::data::Corpus corpus = cp::data::read_corpus(dir);
        for (const auto& doc : corpus.documents) {
            const auto ids = tok.encode(doc.text);
            ASSERT_EQ(tok.decode(ids), doc.text) << "document " << doc.name;
            ++documents;
            tokens += ids.size();
        }
    }
    EXPECT_EQ(documents, 600u);
    std::cout << "round-tripped " << documents << " documents, " << tokens << " tokens\n";
}

TEST(Tokenizer, WordCacheGivesTheSameIds) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    const std::string text = cp::test::real_sentences(2000);
    const auto first = tok.encode(text);
    const std::size_t cached = tok.cached_words();
    EXPECT_GT(cached, 10u);
    EXPECT_EQ(tok.encode(text), first);
    EXPECT_EQ(tok.cached_words(), cached);  // nothing new to cache the second time
}

// Found by fuzz_encode: bytes that are not UTF-8 (a truncated emoji, 0xff, stray continuation
// bytes) made the pre-tokenizer read past its subject. They are now repaired, as corpora are.
TEST(Tokenizer, InvalidUtf8IsRepairedBeforeEncoding) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    const std::string bad = " \xf0\x9fThe Fulton County \xffrand J\x99u Friday an i\x82nv";
    const auto ids = tok.encode(bad);
    EXPECT_EQ(ids, tok.encode(cp::data::to_valid_utf8(bad)));
    EXPECT_EQ(tok.decode(ids), cp::data::to_valid_utf8(bad));
    EXPECT_NE(tok.decode(ids).find("\xef\xbf\xbdrand"), std::string::npos);  // U+FFFD, then text
}

TEST(Tokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
    BpeTokenizer tok = cp::test::gpt2_tokenizer();
    const std::string message = error_of([&] { tok.decode({15496, 50257}); });
    EXPECT_NE(message.find("token id 50257 is not in the vocabulary"), std::string::npos)
        << message;
}

// A Hugging Face tokenizer.json written from GPT-2's own files (the format Pythia's tokenizer
// ships in) must encode exactly like them.
class HfTokenizerJson : public ::testing::TestWithParam<bool> {};

TEST_P(HfTokenizerJson, EncodesLikeTheGpt2Files) {
    const bool merges_as_arrays = GetParam();
    cp::test::TempDir dir;
    const json encoder =
        json::parse(cp::test::read_text(cp::test::gpt2_tokenizer_dir() / "encoder.json"));
    json merges = json::array();
    std::istringstream bpe(cp::test::read_text(cp::test::gpt2_tokenizer_dir() / "vocab.bpe"));
    std::string line;
    std::getline(bpe, line);  // #version
    while (std::getline(bpe, line)) {
        if (line.empty()) continue;
        const auto space = line.find(' ');
        if (merges_as_arrays)
            merges.push_back({line.substr(0, space), line.substr(space + 1)});
        else
            merges.push_back(line);
    }
    json vocab = encoder;
    vocab.erase("<|endoftext|>");
    const json file = {
        {"version", "1.0"},
        {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
        {"normalizer", nullptr},
        {"pre_tokenizer",
         {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"merges", merges}}}};
    cp::test::write_text(dir / "tokenizer.json", file.dump());

    BpeTokenizer hf = BpeTokenizer::load(dir / "tokenizer.json");
    BpeTokenizer gpt2 = cp::test::gpt2_tokenizer();
    EXPECT_EQ(hf.vocab_size(), 50257u);
    EXPECT_EQ(hf.end_of_text(), gpt2.end_of_text());
    const cp::data::Corpus nlp = cp::data::read_corpus(cp::test::nlp_corpus_dir());
    for (std::size_t d = 0; d < 5; ++d)
        ASSERT_EQ(hf.encode(nlp.documents[d].text), gpt2.encode(nlp.documents[d].text)) << d;
    EXPECT_EQ(hf.decode({50256}), "<|endoftext|>");
}

INSTANTIATE_TEST_SUITE_P(MergeFormats, HfTokenizerJson, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "ArrayMerges" : "StringMerges"; });

TEST(TokenizerErrors, MissingPathSaysWhereAndWhatToGive) {
    const std::string m = error_of([] { BpeTokenizer::load("/nonexistent/tokenizer"); });
    EXPECT_NE(m.find("tokenizer not found: '/nonexistent/tokenizer'"), std::string::npos) << m;
}

TEST(TokenizerErrors, MalformedEncoderJsonNamesTheFile) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "encoder.json", "{\"the\": 1, \"jury\": ");
    cp::test::write_text(dir / "vocab.bpe", "#version: 0.2\nt h\n");
    const std::string m = error_of([&] { BpeTokenizer::load(dir.path()); });
    EXPECT_NE(m.find("encoder.json' is not valid JSON"), std::string::npos) << m;
}

TEST(TokenizerErrors, BadMergeLineGivesItsNumber) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "encoder.json", R"({"t": 0, "h": 1, "th": 2})");
    cp::test::write_text(dir / "vocab.bpe", "#version: 0.2\nt h\nthe jury said\n");
    const std::string m = error_of([&] { BpeTokenizer::load(dir.path()); });
    EXPECT_NE(m.find("line 3: expected two symbols"), std::string::npos) << m;
}

TEST(TokenizerErrors, MergesFileWithoutVersionHeaderIsRejected) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "encoder.json", R"({"t": 0, "h": 1, "th": 2})");
    cp::test::write_text(dir / "vocab.bpe", "t h\n");
    const std::string m = error_of([&] { BpeTokenizer::load(dir.path()); });
    EXPECT_NE(m.find("does not start with a '#version' line"), std::string::npos) << m;
}

TEST(TokenizerErrors, TokenizerJsonOfAnotherModelTypeIsRejected) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "tokenizer.json",
                         R"({"model": {"type": "WordPiece", "vocab": {"the": 0}}})");
    const std::string m = error_of([&] { BpeTokenizer::load(dir / "tokenizer.json"); });
    EXPECT_NE(m.find("model type 'WordPiece' is not supported"), std::string::npos) << m;
}

TEST(TokenizerErrors, TokenizerJsonWithoutByteLevelIsRejected) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "tokenizer.json",
                         R"({"pre_tokenizer": {"type": "Whitespace"},
                             "model": {"type": "BPE", "vocab": {"t": 0}, "merges": []}})");
    const std::string m = error_of([&] { BpeTokenizer::load(dir / "tokenizer.json"); });
    EXPECT_NE(m.find("pre-tokenizer is not ByteLevel"), std::string::npos) << m;
}

TEST(TokenizerErrors, FolderWithoutTokenizerFilesSaysWhatItExpected) {
    cp::test::TempDir dir;
    const std::string m = error_of([&] { BpeTokenizer::load(dir.path()); });
    EXPECT_NE(m.find("expected encoder.json + vocab.bpe, or tokenizer.json"), std::string::npos)
        << m;
}

// Found by fuzz_tokenizer_files: a value of the wrong JSON type (model.type as an array) was an
// uncaught nlohmann type_error, so the process terminated. It is refused by name.
TEST(Tokenizer, TokenizerJsonWithAMistypedValueIsRefusedByName) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "tokenizer.json",
                         R"({"model": {"type": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}})");
    const std::string m = cp::test::error_of(
        [&] { cp::data::BpeTokenizer::from_hf_tokenizer_json(dir / "tokenizer.json"); });
    EXPECT_NE(m.find("has a value of the wrong type"), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer.json"), std::string::npos) << m;
}
