// #18: a local sweep killed half-way and started again with the same command completes only the
// missing cells (the finished ones are not trained twice; the one killed mid-run is retried),
// and the sweep's table has every cell.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/run_store.h"
#include "test_support.h"

namespace {

std::map<std::string, int> experiments_per_cell(const std::string& db) {
    cp::store::RunStore store(db);
    std::map<std::string, int> count;
    for (const auto& e : store.experiments()) {
        const auto p = nlohmann::json::parse(e.params_json);
        ++count[p.value("sweep_cell", std::string())];
    }
    return count;
}

}  // namespace

TEST(Sweep, ALocalSweepKilledHalfWayAndRestartedCompletesOnlyTheMissingCells) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    // Three cells of Pythia on 120 x 16 samples, 3 epochs: a few seconds each.
    const std::vector<std::string> args = {
        "sweep", "--local", "--grid", "seed=1,2,3", "--models", "pythia", "--samples", "240",
        "--seq-length", "16", "--epochs", "3", "--batch-size", "4", "--skip-evaluation",
        "--threads", "1", "--quiet", "--db", db, "--sweep-dir", (dir / "sweep").string()};
    const pid_t sweep = ::fork();
    if (sweep == 0) {
        ::setpgid(0, 0);  // its own process group: the kill takes the running cell too
        std::freopen((dir / "first.log").c_str(), "w", stdout);
        ::dup2(::fileno(stdout), 2);
        std::vector<char*> argv = {const_cast<char*>(CP_TEST_CLI)};
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(CP_TEST_CLI, argv.data());
        ::_exit(127);
    }
    ::setpgid(sweep, sweep);
    // Wait until cell 0 has finished and cell 1 is training, then kill the sweep and its cell.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    bool second_started = false;
    while (std::chrono::steady_clock::now() < deadline && !second_started) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        try {
            if (!std::filesystem::exists(db)) continue;
            cp::store::RunStore peek(db);
            const auto runs = peek.runs();
            second_started = runs.size() >= 2 && runs[0].status == cp::store::RunStatus::finished &&
                             peek.metrics(runs[1].id, "train_loss").size() >= 3;
        } catch (const std::exception&) {
        }
    }
    ASSERT_TRUE(second_started) << cp::test::read_text(dir / "first.log");
    ::kill(-sweep, SIGKILL);
    int status = 0;
    ::waitpid(sweep, &status, 0);
    {
        // The killed cell's process is reaped by init a moment later; then its run reads
        // interrupted.
        cp::store::RunStatus status_of_cell1 = cp::store::RunStatus::running;
        for (int i = 0; i < 50 && status_of_cell1 == cp::store::RunStatus::running; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            cp::store::RunStore store(db);
            ASSERT_EQ(store.runs().size(), 2u) << "killed during cell 1: cell 2 never started";
            status_of_cell1 = store.runs()[1].status;
        }
        EXPECT_EQ(status_of_cell1, cp::store::RunStatus::interrupted);
    }
    // The same command again.
    const auto again = cp::test::run_cli(args);
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_NE(again.out.find("cell 0 (seed=1): finished before, skipped"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("2 cells run, 1 skipped"), std::string::npos) << again.out;
    const auto per_cell = experiments_per_cell(db);
    const std::string uid = per_cell.begin()->first.substr(0, 16);
    EXPECT_EQ(per_cell.at(uid + ":0"), 1) << "cell 0 was not trained twice";
    EXPECT_EQ(per_cell.at(uid + ":1"), 2) << "the killed cell was retried";
    EXPECT_EQ(per_cell.at(uid + ":2"), 1);
    const auto status_out = cp::test::run_cli(
        {"sweep", "status", "--sweep-dir", (dir / "sweep").string(), "--db", db});
    EXPECT_EQ(status_out.exit_code, 0) << status_out.out;
    // The sweep's table: one row per cell (the retried cell's interrupted attempt left out).
    const auto csv = dir / "sweep.csv";
    ASSERT_EQ(cp::test::run_cli({"experiments", "export", "--sweep", uid, "--csv", csv.string(),
                                 "--db", db})
                  .exit_code,
              0);
    const std::string table = cp::test::read_text(csv);
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1 + 3) << table;
}
