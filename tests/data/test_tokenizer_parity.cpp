// Parity with the reference: on every document of both corpora (and on hard strings), our ids
// equal those of gpt-3-encoder's Encoder.js, run by node in the same test.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "data/corpus.h"
#include "test_support.h"

using nlohmann::json;
namespace fs = std::filesystem;

TEST(TokenizerParity, IdsEqualTheReferenceEncoderOnBothCorporaAndHardStrings) {
    std::vector<std::pair<std::string, std::string>> documents;  // name, text
    for (const fs::path& dir : {cp::test::brown_dir(), cp::test::nlp_corpus_dir()})
        for (auto& doc : cp::data::read_corpus(dir).documents)
            documents.emplace_back(doc.name, doc.text);
    const std::vector<std::string> hard = {"東京は日本の首都です。",
                                           "emoji 😀🙂👍🏽 👩‍👩‍👧",
                                           "e\xCC\x81 combining",
                                           "a\r\nb\r\n",
                                           "\ttab\t\t",
                                           "runs     of   spaces   ",
                                           "3.14159 1,000,000",
                                           "it's we'll I'd they've I'M",
                                           "!\xEF\xBB\xBF BOM",
                                           "!\xC2\x85 NEL",
                                           "\",\" \"\",\"\" ,\"\" quotes and commas ,,, \",\"",
                                           "\xEF\xBF\xBD"};
    for (std::size_t i = 0; i < hard.size(); ++i)
        documents.emplace_back("hard-" + std::to_string(i), hard[i]);

    cp::test::TempDir dir;
    std::string jsonl;
    for (const auto& [name, text] : documents) jsonl += json({{"text", text}}).dump() + "\n";
    cp::test::write_text(dir / "docs.jsonl", jsonl);

    const auto ref = cp::test::run_command({CP_TEST_NODE, CP_TEST_REFERENCE_SCRIPT,
                                            cp::test::gpt2_tokenizer_dir().string(),
                                            (dir / "docs.jsonl").string()});
    ASSERT_EQ(ref.exit_code, 0) << ref.err;

    cp::data::BpeTokenizer tok = cp::test::gpt2_tokenizer();
    std::istringstream lines(ref.out);
    std::string line;
    std::size_t compared_docs = 0, compared_tokens = 0, mismatches = 0;
    for (const auto& [name, text] : documents) {
        ASSERT_TRUE(std::getline(lines, line)) << "reference printed too few lines";
        const auto expected = json::parse(line).get<std::vector<cp::data::TokenId>>();
        const auto ours = tok.encode(text);
        if (ours != expected) {
            ++mismatches;
            std::size_t k = 0;
            while (k < ours.size() && k < expected.size() && ours[k] == expected[k]) ++k;
            ADD_FAILURE() << "document " << name << " differs from the reference at token " << k;
        }
        ++compared_docs;
        compared_tokens += expected.size();
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_GT(compared_tokens, 3'000'000u);  // both corpora really were compared
    std::cout << "compared " << compared_docs << " documents, " << compared_tokens
              << " tokens with the reference encoder; reference timing: " << ref.err;
}
