// The SQLite run store: schema and WAL, batched metric writes, results, interrupted runs found
// on open, and clear refusals of files it must not touch.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "store/run_store.h"
#include "test_support.h"

using cp::test::error_of;

using namespace cp::store;

TEST(RunStore, RecordsExperimentsRunsMetricsAndResults) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto e = store.create_experiment("tiny 100x32", R"({"samples": 100})");
    const auto r = store.create_run(e, "pythia", "phase2", "cpu");
    for (int step = 1; step <= 1000; ++step)
        store.add_metric({r, "train_loss", step, 1, 10.0 - step * 0.001, 0.1 * step});
    store.set_result(r, "test_ppl", 123.5);
    store.finish_run(r, "finished");
    EXPECT_EQ(store.metrics(r, "train_loss").size(), 1000u);
    EXPECT_EQ(store.metrics(r, "train_loss").back().step, 1000);
    EXPECT_EQ(store.results(r).at(0), (std::pair<std::string, double>{"test_ppl", 123.5}));
    EXPECT_EQ(store.run(r).status, "finished");
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
        run_id = store.create_run(store.create_experiment("x", "{}"), "pythia", "phase2", "cpu");
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
    EXPECT_EQ(store.run(run_id).status, "interrupted");
    EXPECT_EQ(store.metrics(run_id).size(), 1u);
}

TEST(RunStore, RunOfThisProcessIsNotTakenForInterrupted) {
    cp::test::TempDir dir;
    const std::string path = (dir / "w.db").string();
    RunStore writer(path);
    const auto r =
        writer.create_run(writer.create_experiment("x", "{}"), "pythia", "phase2", "cpu");
    RunStore reader(path);  // e.g. the GUI opening the database while this process trains
    EXPECT_TRUE(reader.recovered_runs().empty());
    EXPECT_EQ(reader.run(r).status, "running");
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
