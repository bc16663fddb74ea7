// The SQLite run store: schema and WAL, batched metric writes, results, interrupted runs found
// on open, and clear refusals of files it must not touch.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "common/error.h"
#include "store/run_store.h"
#include "test_support.h"

using cp::test::error_of;

using namespace cp::store;
using cp::model::Design;

namespace {
NewRun pythia_phase2(std::int64_t experiment) {
    return {experiment, Design::pythia, Phase::phase2, "cpu", "", std::nullopt};
}
}  // namespace

TEST(RunStore, RecordsExperimentsRunsMetricsAndResults) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto e = store.create_experiment("tiny 100x32", R"({"samples": 100})");
    const auto r = store.create_run(pythia_phase2(e));
    for (int step = 1; step <= 1000; ++step)
        store.add_metric({r, "train_loss", step, 1, 10.0 - step * 0.001, 0.1 * step});
    store.set_result(r, "test_ppl", 123.5);
    store.finish_run(r, RunStatus::finished);
    EXPECT_EQ(store.metrics(r, "train_loss").size(), 1000u);
    EXPECT_EQ(store.metrics(r, "train_loss").back().step, 1000);
    EXPECT_EQ(store.results(r).at(0), (std::pair<std::string, double>{"test_ppl", 123.5}));
    EXPECT_EQ(store.run(r).status, RunStatus::finished);
    EXPECT_EQ(store.experiments().at(0).params_json, R"({"samples": 100})");
    EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(RunStore, UsesWalAndRecordsItsSchemaVersion) {
    cp::test::TempDir dir;
    { RunStore store((dir / "w.db").string()); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "w.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
    sqlite3_step(s);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
    sqlite3_step(s);
    EXPECT_EQ(sqlite3_column_int(s, 0), kSchemaVersion);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

TEST(RunStore, RunOfAProcessThatDiedIsMarkedInterruptedWithItsDataKept) {
    cp::test::TempDir dir;
    const std::string path = (dir / "w.db").string();
    std::int64_t run_id = 0;
    {
        RunStore store(path);
        run_id = store.create_run(pythia_phase2(store.create_experiment("x", "{}")));
    }
    // A child process takes the run over (writes points) and dies without finishing it.
    const pid_t child = ::fork();
    if (child == 0) {
        sqlite3* db = nullptr;
        sqlite3_open(path.c_str(), &db);
        const std::string sql = "UPDATE runs SET owner_pid = " + std::to_string(::getpid()) +
                                " WHERE id = " + std::to_string(run_id) +
                                "; INSERT INTO metrics VALUES(" + std::to_string(run_id) +
                                ", 'train_loss', 1, 1, 9.5, 0.1);";
        sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
        ::_exit(0);  // no finish_run
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    RunStore store(path);
    ASSERT_EQ(store.recovered_runs(), std::vector<std::int64_t>{run_id});
    EXPECT_EQ(store.run(run_id).status, RunStatus::interrupted);
    EXPECT_EQ(store.metrics(run_id).size(), 1u);
}

TEST(RunStore, RunOfThisProcessIsNotTakenForInterrupted) {
    cp::test::TempDir dir;
    const std::string path = (dir / "w.db").string();
    RunStore writer(path);
    const auto r = writer.create_run(pythia_phase2(writer.create_experiment("x", "{}")));
    RunStore reader(path);  // e.g. the GUI opening the database while this process trains
    EXPECT_TRUE(reader.recovered_runs().empty());
    EXPECT_EQ(reader.run(r).status, RunStatus::running);
}

TEST(RunStore, FileThatIsNotADatabaseIsRefusedAndLeftAsItWas) {
    cp::test::TempDir dir;
    const std::string text =
        "The jury said it did find that many of Georgia's election laws are outmoded.\n";
    cp::test::write_text(dir / "notes.db", text + text + text + text + text + text + text);
    const std::string m = error_of([&] { RunStore store((dir / "notes.db").string()); });
    EXPECT_NE(m.find("is not a workbench database"), std::string::npos) << m;
    EXPECT_EQ(cp::test::read_text(dir / "notes.db"),
              text + text + text + text + text + text + text);
}

TEST(RunStore, NewerSchemaIsRefused) {
    cp::test::TempDir dir;
    sqlite3* db = nullptr;
    sqlite3_open((dir / "w.db").c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    const std::string m = error_of([&] { RunStore store((dir / "w.db").string()); });
    EXPECT_NE(
        m.find("schema version 99, newer than this workbench's " + std::to_string(kSchemaVersion)),
        std::string::npos)
        << m;
}

TEST(RunStore, UnknownRunIdIsNamed) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    EXPECT_NE(error_of([&] { store.run(42); }).find("no run 42"), std::string::npos);
}

TEST(RunStore, ProvenanceIsAColumnThatSurvivesReading) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto e = store.create_experiment("x", "{}");
    const auto p1 = store.create_run({e, Design::context_pythia, Phase::phase1, "cpu", "", {}});
    store.finish_run(p1, RunStatus::not_converged, "reached max iterations");
    const auto p2 = store.create_run({e, Design::context_pythia, Phase::phase2, "cpu", "", p1});
    EXPECT_EQ(store.run(p2).context_block_run_id, std::optional<std::int64_t>(p1));
    EXPECT_EQ(store.run(p1).context_block_run_id, std::nullopt);
    EXPECT_EQ(store.run(p1).status, RunStatus::not_converged);
    EXPECT_EQ(store.run(p1).phase, Phase::phase1);
    EXPECT_EQ(store.run(p2).model, Design::context_pythia);
}

// A database written by the previous workbench (schema 2, built here by hand from its DDL) is
// upgraded in place: the column appears, and a Context-Pythia Phase 2 that ran after its
// experiment's own Phase 1 gets that run as provenance; the ablation and a Pythia run get none.
TEST(RunStore, SchemaTwoDatabaseIsUpgradedInPlaceWithProvenance) {
    cp::test::TempDir dir;
    const std::string path = (dir / "v2.db").string();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v2 = R"(
        CREATE TABLE experiments(id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL,
            params_json TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '', uid TEXT NOT NULL DEFAULT '');
        CREATE TABLE runs(id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            model TEXT NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT NOT NULL DEFAULT '', device TEXT NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '', checkpoint_path TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '', owner_pid INTEGER NOT NULL DEFAULT 0,
            uid TEXT NOT NULL DEFAULT '');
        CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
            step INTEGER NOT NULL, epoch INTEGER NOT NULL, value REAL NOT NULL, wall_time REAL NOT NULL);
        CREATE TABLE results(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
            value REAL NOT NULL, PRIMARY KEY(run_id, name));
        INSERT INTO experiments VALUES(1, 'full', '2026-01-01T00:00:00Z', '{}', '', 'e1');
        INSERT INTO experiments VALUES(2, 'ablation', '2026-01-02T00:00:00Z', '{}', '', 'e2');
        INSERT INTO runs(id, experiment_id, model, phase, status, started_at, uid, name) VALUES
            (1, 1, 'context-pythia', 'phase1', 'finished', 't', 'r1', ''),
            (2, 1, 'context-pythia', 'phase2', 'finished', 't', 'r2', ''),
            (3, 1, 'pythia', 'phase2', 'finished', 't', 'r3', ''),
            (4, 2, 'context-pythia', 'phase2', 'finished', 't', 'r4',
             'ablation: untrained ContextBlock (no Phase 1)');
        PRAGMA user_version = 2;
    )";
    ASSERT_EQ(sqlite3_exec(db, v2, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);

    RunStore store(path);
    EXPECT_EQ(store.run(2).context_block_run_id, std::optional<std::int64_t>(1));
    EXPECT_EQ(store.run(3).context_block_run_id, std::nullopt);  // Pythia trains no block
    EXPECT_EQ(store.run(4).context_block_run_id, std::nullopt);  // the ablation had none
    EXPECT_EQ(store.runs().size(), 4u);
    EXPECT_EQ(store.integrity_check(), "ok");
    // Schema 4 on top: the old experiments belong to no seed group.
    EXPECT_EQ(store.experiment(1).group_uid, "");
    EXPECT_TRUE(store.group("").empty());
}

// A seed group is its experiments' shared uid: listed together, kept apart from other
// experiments, and still one group (the same members) after importing into another database.
TEST(RunStore, SeedGroupIsFoundTogetherAndSurvivesAnImport) {
    cp::test::TempDir dir;
    const std::string source = (dir / "a.db").string(), target = (dir / "b.db").string();
    std::string uid;
    {
        RunStore a(source);
        a.create_experiment("alone", "{}");
        uid = a.new_group_uid();
        EXPECT_EQ(uid.size(), 32u);
        EXPECT_NE(uid, a.new_group_uid());
        for (const char* n : {"seed 0", "seed 1", "seed 2"}) a.create_experiment(n, "{}", uid);
        const auto g = a.group(uid);
        ASSERT_EQ(g.size(), 3u);
        EXPECT_EQ(g[0].name, "seed 0");
        EXPECT_EQ(g[2].name, "seed 2");
    }
    RunStore b(target);
    b.create_experiment("already here", "{}");
    b.import_database(source);
    const auto g = b.group(uid);
    ASSERT_EQ(g.size(), 3u);
    EXPECT_EQ(g[1].name, "seed 1");
    EXPECT_EQ(b.experiments().size(), 5u);
}

TEST(RunStore, DeletingARunningRunIsRefusedByTheStore) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto r = store.create_run(pythia_phase2(store.create_experiment("x", "{}")));
    const std::string m = error_of([&] { store.delete_run(r); });
    EXPECT_NE(m.find("still running: stop it first"), std::string::npos) << m;
    EXPECT_EQ(store.runs().size(), 1u);
    store.finish_run(r, RunStatus::stopped);
    store.delete_run(r);
    EXPECT_TRUE(store.runs().empty());
}

TEST(RunStore, StatusTextUnknownToThisWorkbenchIsNamed) {
    cp::test::TempDir dir;
    const std::string path = (dir / "w.db").string();
    std::int64_t r = 0;
    {
        RunStore store(path);
        r = store.create_run(pythia_phase2(store.create_experiment("x", "{}")));
        store.finish_run(r, RunStatus::finished);
    }
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "UPDATE runs SET status = 'teleported'", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    RunStore store(path);
    const std::string m = error_of([&] { store.run(r); });
    EXPECT_NE(m.find("status 'teleported', unknown to this workbench"), std::string::npos) << m;
}

// Each stored text maps to one enum value and back (the one mapping at the store boundary).
TEST(RunKinds, EveryKeyRoundTripsAndTheKeysAreDistinct) {
    std::set<std::string> keys;
    for (RunStatus s :
         {RunStatus::running, RunStatus::finished, RunStatus::not_converged, RunStatus::stopped,
          RunStatus::diverged, RunStatus::failed, RunStatus::interrupted}) {
        EXPECT_EQ(status_from_key(status_key(s)), s);
        keys.insert(status_key(s));
    }
    EXPECT_EQ(keys.size(), 7u);
    for (Phase p : {Phase::phase1, Phase::phase2, Phase::evaluation})
        EXPECT_EQ(phase_from_key(phase_key(p)), p);
    EXPECT_EQ(cp::model::design_from_key("context-pythia"), Design::context_pythia);
    EXPECT_EQ(cp::model::design_from_key("Pythia"), std::nullopt);  // keys are exact
}
