// The CLI end to end: tokenize agrees with the library, data prepare prints split statistics,
// every command has --help, and bad input gives one clear message and a non-zero exit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

using cp::test::run_cli;
using nlohmann::json;

TEST(Cli, TokenizePrintsIdsAsOneJsonArray) {
    const std::string text = cp::test::real_sentences(600);
    const auto r = run_cli({"tokenize"}, text);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::data::BpeTokenizer tok = cp::test::gpt2_tokenizer();
    EXPECT_EQ(json::parse(r.out).get<std::vector<cp::data::TokenId>>(), tok.encode(text));
}

TEST(Cli, TokenizeReadsAFileAndWarnsAboutInvalidUtf8) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "t.txt", "The jury \xFF said.");
    const auto r = run_cli({"tokenize", (dir / "t.txt").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("1 invalid UTF-8 sequence(s)"), std::string::npos) << r.err;
    cp::data::BpeTokenizer tok = cp::test::gpt2_tokenizer();
    EXPECT_EQ(json::parse(r.out).get<std::vector<cp::data::TokenId>>(),
              tok.encode("The jury \xEF\xBF\xBD said."));
}

TEST(Cli, TokenizeWithAMissingTokenizerFailsWithItsPath) {
    const auto r = run_cli({"tokenize", "--tokenizer", "/nonexistent/tok"}, "The jury said.");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("tokenizer not found: '/nonexistent/tok'"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST(Cli, DataPreparePrintsPerSplitStatistics) {
    cp::test::TempDir dir;
    const auto r = run_cli({"data", "prepare", "--corpus", "brown", "--cache-dir",
                            (dir / "cache").string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json report = json::parse(r.out);
    const json& brown = report["corpora"][0];
    EXPECT_EQ(brown["cache"], "built");
    EXPECT_EQ(brown["splits"]["train"]["documents"], 450);
    EXPECT_EQ(brown["splits"]["test"]["documents"], 50);
    EXPECT_GT(brown["splits"]["train"]["tokens"].get<long>(), 1'000'000);
    EXPECT_GT(brown["splits"]["test"]["words"].get<long>(), 90'000);

    const auto again = run_cli({"data", "prepare", "--corpus", "brown", "--cache-dir",
                                (dir / "cache").string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("cache verified"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("train          450"), std::string::npos) << again.out;
}

TEST(Cli, DataPrepareWithAMalformedJsonlWritesNothing) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "c.jsonl", json({{"text", cp::test::real_sentences(300)}}).dump() + "\n{oops\n");
    const auto r = run_cli({"data", "prepare", "--corpus", (dir / "c.jsonl").string(),
                            "--cache-dir", (dir / "cache").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("is not valid JSONL at line 2"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "cache"));
}

TEST(Cli, EveryCommandHasHelp) {
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"--help"}, {"tokenize", "--help"}, {"data", "prepare", "--help"}}) {
        const auto r = run_cli(cmd);
        EXPECT_EQ(r.exit_code, 0) << cmd[0];
        EXPECT_NE(r.out.find("usage: context-pythia"), std::string::npos) << r.out;
    }
}

TEST(Cli, UnknownOptionIsNamed) {
    const auto r = run_cli({"data", "prepare", "--corpse", "brown"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("unknown option '--corpse'"), std::string::npos) << r.err;
}
