// Checkpoints belong to their database (#24), through the CLI as a researcher uses it: two
// databases in one data folder both train an experiment 1 (run 1 each) and keep their own weights;
// a changed checkpoint byte makes cache-eval, resume and score refuse by name before any work;
// `db import` from another folder brings the checkpoints and they evaluate to the same numbers.
#include <gtest/gtest.h>

#include <fstream>

#include "store/run_store.h"
#include "test_support.h"

namespace fs = std::filesystem;
using cp::test::run_cli;

namespace {

// Tiny Pythia on 160 chunks of 32 real Brown tokens, one epoch, evaluated on 16 held-out chunks.
std::vector<std::string> tiny_run(const std::string& db, const std::string& seed) {
    return {"run",  "--samples", "160", "--seq-length", "32", "--epochs", "1", "--models",
            "pythia", "--seed", seed, "--lr", "3e-3", "--eval-test-chunks", "16",
            "--eval-last-word-passages", "8", "--eval-kv-lengths", "64", "--db", db, "--quiet"};
}

double result(cp::store::RunStore& store, std::int64_t run, const std::string& name) {
    for (const auto& [k, v] : store.results(run))
        if (k == name) return v;
    ADD_FAILURE() << "run " << run << " has no " << name;
    return 0;
}

// cache-eval --policy full of a run; returns the evaluation's test perplexity.
double full_cache_ppl(const std::string& db, std::int64_t run) {
    const auto r = run_cli({"cache-eval", "--db", db, "--run", std::to_string(run), "--policy",
                            "full", "--kv-lengths", "64", "--quiet"});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    cp::store::RunStore store(db);
    const auto runs = store.runs();
    EXPECT_EQ(runs.back().evaluates_run_id, std::optional<std::int64_t>(run));
    return result(store, runs.back().id, "test_ppl");
}

void flip_one_byte(const fs::path& path, std::size_t at) {
    std::string bytes = cp::test::read_text(path);
    bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
    cp::test::write_text(path, bytes);
}

}  // namespace

TEST(DatabaseFiles, TwoDatabasesInOneFolderKeepTheirOwnCheckpointsAndRefuseAChangedOne) {
    cp::test::TempDir dir;
    const std::string a = (dir / "a.db").string(), b = (dir / "b.db").string();
    for (const auto& [db, seed] : {std::pair{a, "0"}, std::pair{b, "1"}}) {
        const auto r = run_cli(tiny_run(db, seed));
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    std::string checkpoint_a, checkpoint_b;
    double own_a = 0, own_b = 0;
    {
        cp::store::RunStore sa(a), sb(b);
        ASSERT_EQ(sa.run(1).experiment_id, 1);  // both are run 1 of experiment 1
        ASSERT_EQ(sb.run(1).experiment_id, 1);
        checkpoint_a = sa.run(1).checkpoint_path;
        checkpoint_b = sb.run(1).checkpoint_path;
        own_a = result(sa, 1, "test_ppl");
        own_b = result(sb, 1, "test_ppl");
    }
    EXPECT_EQ(fs::path(checkpoint_a).parent_path().parent_path(), dir.path() / "a.db.files");
    EXPECT_EQ(fs::path(checkpoint_b).parent_path().parent_path(), dir.path() / "b.db.files");
    ASSERT_NE(own_a, own_b);  // different seeds: the two runs' weights differ
    // Each database evaluates its own weights: the full cache reproduces each run's own number.
    EXPECT_NEAR(full_cache_ppl(a, 1), own_a, 1e-5 * own_a);
    EXPECT_NEAR(full_cache_ppl(b, 1), own_b, 1e-5 * own_b);

    // One byte of a's checkpoint changed after the run: every read refuses it by name.
    flip_one_byte(checkpoint_a, fs::file_size(checkpoint_a) - 7);
    const std::string changed = "run 1's checkpoint '" + checkpoint_a +
                                "' was changed after it was written: expected sha256 ";
    std::int64_t runs_before = 0;
    {
        cp::store::RunStore sa(a);
        runs_before = static_cast<std::int64_t>(sa.runs().size());
    }
    const auto eval = run_cli({"cache-eval", "--db", a, "--run", "1", "--policy", "full", "--quiet"});
    EXPECT_NE(eval.exit_code, 0);
    EXPECT_NE(eval.err.find(changed), std::string::npos) << eval.err;
    auto resume = tiny_run(a, "0");
    resume[6] = "2";  // --epochs 2: continue after the stored epoch
    resume.insert(resume.end(), {"--resume-from", checkpoint_a});
    const auto resumed = run_cli(resume);
    EXPECT_NE(resumed.exit_code, 0);
    EXPECT_NE(resumed.err.find(changed), std::string::npos) << resumed.err;
    const auto scored = run_cli({"score", "--db", a, "--run", "1", "--text", "The jury said"});
    EXPECT_NE(scored.exit_code, 0);
    EXPECT_NE(scored.err.find(changed), std::string::npos) << scored.err;
    cp::store::RunStore sa(a);
    EXPECT_EQ(static_cast<std::int64_t>(sa.runs().size()), runs_before);  // no work was started
    EXPECT_EQ(sa.integrity_check(), "ok");
    // b's checkpoint, untouched, still scores by run.
    const auto b_scored = run_cli({"score", "--db", b, "--run", "1", "--text", "The jury said"});
    EXPECT_EQ(b_scored.exit_code, 0) << b_scored.err;
}

TEST(DatabaseFiles, ImportFromAnotherFolderBringsCheckpointsThatEvaluateAndResume) {
    cp::test::TempDir dir;
    fs::create_directories(dir / "cluster");
    fs::create_directories(dir / "laptop");
    const std::string there = (dir / "cluster" / "shard.db").string();
    const std::string here = (dir / "laptop" / "w.db").string();
    ASSERT_EQ(run_cli(tiny_run(there, "0")).exit_code, 0);
    double own = 0;
    std::string uid;
    {
        cp::store::RunStore s(there);
        own = result(s, 1, "test_ppl");
        uid = s.run(1).uid;
    }
    // A run of the laptop's own first, so the imported run gets another id.
    ASSERT_EQ(run_cli(tiny_run(here, "3")).exit_code, 0);
    const auto imported = run_cli({"db", "import", there, "--db", here});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_NE(imported.out.find("copied 2 files"), std::string::npos) << imported.out;
    std::int64_t id = 0;
    std::string checkpoint;
    {
        cp::store::RunStore s(here);
        for (const auto& r : s.runs())
            if (r.uid == uid) id = r.id;
        ASSERT_EQ(id, 2);
        checkpoint = s.verified_file(id, cp::store::file_role::checkpoint).path.string();
    }
    EXPECT_EQ(fs::path(checkpoint).parent_path(), dir.path() / "laptop" / "w.db.files" / uid);
    // The cluster's folder can go: the laptop holds its own copy.
    fs::remove_all(dir / "cluster");
    EXPECT_NEAR(full_cache_ppl(here, id), own, 1e-5 * own);
    // The imported run resumes here, into a run of its own with its own files.
    auto resume = tiny_run(here, "0");
    resume[6] = "2";
    resume.insert(resume.end(), {"--resume-from", checkpoint});
    const auto resumed = run_cli(resume);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    cp::store::RunStore s(here);
    const auto last = s.runs().back();
    EXPECT_EQ(last.status, cp::store::RunStatus::finished);
    EXPECT_EQ(fs::path(last.checkpoint_path).parent_path(),
              dir.path() / "laptop" / "w.db.files" / last.uid);
    EXPECT_NO_THROW(s.verified_file(id, cp::store::file_role::checkpoint));  // left as it was
}

// A place for the checkpoints that cannot be made is refused before any work, naming it; no
// database is created for a refused launch.
TEST(DatabaseFiles, AFolderForCheckpointsThatCannotBeMadeIsRefusedBeforeAnyWork) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "plain-file", "a file, not a folder");
    const std::string db = (dir / "w.db").string();
    auto args = tiny_run(db, "0");
    args.insert(args.end(), {"--checkpoint-dir", (dir / "plain-file" / "ckpt").string()});
    const auto r = run_cli(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("the folder for this database's checkpoints '" +
                         (dir / "plain-file" / "ckpt").string() + "' cannot be created or written"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(db));
}
