// The CLI end to end: tokenize agrees with the library, data prepare prints split statistics,
// every command has --help, and bad input gives one clear message and a non-zero exit.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model_config.h"
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

    const auto again =
        run_cli({"data", "prepare", "--corpus", "brown", "--cache-dir", (dir / "cache").string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("cache verified"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("train          450"), std::string::npos) << again.out;
}

TEST(Cli, DataPrepareWithAMalformedJsonlWritesNothing) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "c.jsonl",
                         json({{"text", cp::test::real_sentences(300)}}).dump() + "\n{oops\n");
    const auto r = run_cli({"data", "prepare", "--corpus", (dir / "c.jsonl").string(),
                            "--cache-dir", (dir / "cache").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("is not valid JSONL at line 2"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "cache"));
}

TEST(Cli, EveryCommandHasHelp) {
    for (const std::vector<std::string>& cmd : {std::vector<std::string>{"--help"},
                                                {"tokenize", "--help"},
                                                {"data", "prepare", "--help"}}) {
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

TEST(CliModels, InitThenScoreAndGenerate) {
    cp::test::TempDir dir;
    const std::string ckpt = (dir / "m.safetensors").string();
    const auto init =
        run_cli({"init", "--preset", "context-pythia-tiny", "--seed", "3", "--out", ckpt});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    const auto score =
        run_cli({"score", "--checkpoint", ckpt, "--text", "The jury said it did find.", "--json"});
    ASSERT_EQ(score.exit_code, 0) << score.err;
    const json r = json::parse(score.out);
    cp::data::BpeTokenizer tok = cp::test::gpt2_tokenizer();
    EXPECT_EQ(r["ids"].get<std::vector<cp::data::TokenId>>(),
              tok.encode("The jury said it did find."));
    const auto logprobs = r["logprobs"].get<std::vector<double>>();
    ASSERT_EQ(logprobs.size(), r["ids"].size() - 1);
    double nll = 0;
    for (double lp : logprobs) nll -= lp / static_cast<double>(logprobs.size());
    EXPECT_NEAR(r["nll"].get<double>(), nll, 1e-12);
    EXPECT_NEAR(r["ppl"].get<double>(), std::exp(nll), 1e-6 * std::exp(nll));

    const auto gen = run_cli(
        {"generate", "--checkpoint", ckpt, "--prompt", "The jury said", "--max-tokens", "5"});
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    EXPECT_EQ(gen.out.rfind("The jury said", 0), 0u) << gen.out;
    EXPECT_GT(gen.out.size(), std::string("The jury said\n").size());
}

TEST(CliModels, InfoReportsCountsAndMeasuredKvBytes) {
    const auto r =
        run_cli({"info", "--preset", "context-pythia-tiny", "--lengths", "16,32", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json info = json::parse(r.out);
    EXPECT_EQ(info["parameters"]["context_block"], 32 * (32 + 64) + 32 + 2 * 32);
    ASSERT_EQ(info["kv_cache"].size(), 2u);
    EXPECT_EQ(info["kv_cache"][1]["tokens"], 32);
    EXPECT_EQ(info["kv_cache"][1]["kv_bytes"],
              32 * 2 * 32 * 2 * 4);  // tokens x K,V x width x layers x float
}

TEST(CliModels, HostileCheckpointGivesOneClearError) {
    cp::test::TempDir dir;
    std::string bytes(8, '\0');
    bytes[0] = 100;  // a 100-byte header in a 12-byte file
    cp::test::write_text(dir / "bad.safetensors", bytes + "{}  ");
    const auto r =
        run_cli({"score", "--checkpoint", (dir / "bad.safetensors").string(), "--ids", "464,9002"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("header length 100 is larger than the file"), std::string::npos) << r.err;
}

TEST(CliModels, IdsOutsideTheVocabularyAreRefused) {
    cp::test::TempDir dir;
    const std::string ckpt = (dir / "m.safetensors").string();
    ASSERT_EQ(run_cli({"init", "--preset", "pythia-tiny", "--seed", "1", "--out", ckpt}).exit_code,
              0);
    const auto r = run_cli({"score", "--checkpoint", ckpt, "--ids", "464,99999"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("token id 99999 is outside the model's vocabulary"), std::string::npos)
        << r.err;
}

TEST(CliModels, MissingRequiredOptionsAreNamed) {
    const auto r = run_cli({"init", "--preset", "pythia-tiny", "--out", "/tmp/x.safetensors"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--seed is required"), std::string::npos) << r.err;
    for (const char* cmd : {"init", "info", "score", "generate"}) {
        const auto help = run_cli({cmd, "--help"});
        EXPECT_EQ(help.exit_code, 0) << cmd;
        EXPECT_NE(help.out.find("usage: context-pythia " + std::string(cmd)), std::string::npos)
            << help.out;
    }
}

// `run`'s options are the parameter schema's: each one, with its default, and the three required
// ones marked as such. Checked against hand-picked entries of MODEL_SPEC's reference values.
TEST(CliRun, HelpListsTheSchemaWithDefaultsAndTheRequiredOptions) {
    const auto help = run_cli({"run", "--help"});
    ASSERT_EQ(help.exit_code, 0) << help.err;
    const auto line_of = [&](const std::string& option) {
        const auto at = help.out.find("  --" + option + " ");
        if (at == std::string::npos) return std::string("(missing)");
        return help.out.substr(at, help.out.find('\n', at) - at);
    };
    for (const char* required : {"samples", "seq-length", "epochs"})
        EXPECT_NE(line_of(required).find("(required)"), std::string::npos) << line_of(required);
    // Phase 2's learning rate comes from the size preset: 70m the reference's 1e-4.
    EXPECT_NE(line_of("lr").find("70m 1e-4"), std::string::npos) << line_of("lr");
    EXPECT_NE(line_of("lr").find("[reference: 1e-4]"), std::string::npos) << line_of("lr");
    EXPECT_NE(line_of("seeds").find("(default: 1)"), std::string::npos) << line_of("seeds");
    EXPECT_NE(line_of("p1-lr").find("(default: 0.003)"), std::string::npos) << line_of("p1-lr");
    EXPECT_NE(line_of("p1-batch-size").find("reference: 5000"), std::string::npos)
        << line_of("p1-batch-size");
    EXPECT_NE(line_of("models").find("context-pythia"), std::string::npos) << line_of("models");
    EXPECT_NE(line_of("experiment"), "(missing)");
    // A choice outside the schema's is refused before any work, naming the valid ones.
    const auto bad =
        run_cli({"run", "--samples", "100", "--seq-length", "32", "--epochs", "1", "--size", "7b"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("--size must be tiny or 70m (got '7b')"), std::string::npos) << bad.err;
}

// bench: one JSON object of measured numbers on real text; KV bytes from the cache tensors.
TEST(CliBench, PrintsOneJsonObjectOfMeasuredSpeedsAndTheKvRatio) {
    cp::test::TempDir dir;
    const std::string out = (dir / "bench.json").string();
    const auto r =
        run_cli({"bench", "--size", "tiny", "--batch", "2", "--seq-length", "16", "--steps", "2",
                 "--warmup", "1", "--generate-tokens", "96", "--threads", "1", "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j, nlohmann::json::parse(std::ifstream(out)));
    EXPECT_EQ(j["device"]["type"], "cpu");
    EXPECT_EQ(j["dtype"], "fp32");
    // The attention path that ran: the fused kernel only from libtorch 2.0 on.
    const bool before_2 = j["libtorch"].get<std::string>().rfind("1.", 0) == 0;
    EXPECT_EQ(j["attention"], before_2 ? "explicit" : "fused (SDPA)");
    EXPECT_EQ(j["batch"], 2);
    EXPECT_EQ(j["seq_length"], 16);
    EXPECT_GT(j["peak"]["flops"].get<double>(), 0);
    for (const char* model : {"pythia", "context-pythia"}) {
        const auto& m = j["models"][model];
        EXPECT_GT(m["train_tokens_per_second"].get<double>(), 0) << model;
        EXPECT_GT(m["mfu"].get<double>(), 0) << model;
        EXPECT_TRUE(std::isfinite(m["last_loss"].get<double>())) << model;
        EXPECT_EQ(m["generation"]["cache_tokens"], 96) << model;
        EXPECT_GT(m["generation"]["tokens_per_second"].get<double>(), 0) << model;
        EXPECT_TRUE(m["generation"]["kv_bytes_per_token_allocator"].is_null()) << model;
    }
    // Tiny presets, float32: layers x 2 (K, V) x layer width x 4 bytes, from the preset's config.
    const cp::model::ModelConfig tiny = cp::model::preset("pythia-tiny");
    EXPECT_DOUBLE_EQ(
        j["models"]["pythia"]["generation"]["kv_bytes_per_token_tensors"].get<double>(),
        static_cast<double>(tiny.layers * 2 * tiny.layer_width() * 4));
    EXPECT_DOUBLE_EQ(j["ratios"]["context_over_pythia_kv_bytes_tensors"].get<double>(), 0.5);
    EXPECT_LT(j["models"]["context-pythia"]["parameters_total"].get<double>(),
              j["models"]["pythia"]["parameters_total"].get<double>());
}

// bench --models: the comparators side by side with Pythia (always measured, the ratios' base);
// KV ratios from the cache tensors: 1/2 for pythia-256 and for pythia-gqa at the tiny preset's 2
// of 4 K/V heads.
TEST(CliBench, MeasuresTheChosenDesignsAgainstPythia) {
    const auto r = run_cli({"bench", "--size", "tiny", "--models", "pythia-256,pythia-gqa",
                            "--batch", "2", "--seq-length", "16", "--steps", "1", "--warmup", "0",
                            "--generate-tokens", "80", "--threads", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["models"].size(), 3u);
    for (const char* model : {"pythia", "pythia-256", "pythia-gqa"})
        EXPECT_GT(j["models"][model]["train_tokens_per_second"].get<double>(), 0) << model;
    EXPECT_DOUBLE_EQ(j["ratios"]["pythia-256_over_pythia_kv_bytes_tensors"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(j["ratios"]["pythia-gqa_over_pythia_kv_bytes_tensors"].get<double>(), 0.5);
    const auto bad = run_cli({"bench", "--models", "gpt-2"});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("unknown design 'gpt-2'"), std::string::npos) << bad.err;
}

TEST(CliBench, BadOptionsAreAllNamedBeforeAnyWork) {
    const auto r = run_cli(
        {"bench", "--dtype", "fp16", "--batch", "0", "--size", "1b", "--attention", "sparse"});
    EXPECT_EQ(r.exit_code, 1);
    for (const char* named : {"--dtype must be fp32 or bf16 (got 'fp16')",
                              "--batch must be at least 1", "--size must be tiny or 70m",
                              "--attention must be fused or explicit (got 'sparse')"})
        EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}
