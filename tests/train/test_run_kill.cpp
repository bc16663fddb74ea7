// A run killed with SIGKILL mid-epoch leaves a consistent database, and the next open marks the
// run interrupted with its points kept.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "store/run_store.h"
#include "test_support.h"

TEST(RunKill, SigkillMidEpochLeavesTheRunInterruptedAndTheDatabaseIntact) {
    cp::test::TempDir dir;
    const std::string db = (dir / "w.db").string();
    const pid_t child = ::fork();
    if (child == 0) {
        std::freopen("/dev/null", "w", stdout);
        std::freopen("/dev/null", "w", stderr);
        ::execl(CP_TEST_CLI, CP_TEST_CLI, "run", "--samples", "2000", "--seq-length", "32",
                "--epochs", "3", "--models", "pythia", "--batch-size", "4", "--db", db.c_str(),
                "--checkpoint-dir", (dir / "runs").c_str(), "--quiet", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Wait until training points are being written, then kill without warning.
    std::size_t points = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        if (!std::filesystem::exists(db)) continue;
        try {
            cp::store::RunStore peek(db);
            const auto runs = peek.runs();
            if (!runs.empty()) points = peek.metrics(runs[0].id, "train_loss").size();
        } catch (const std::exception&) {
            continue;  // schema being created
        }
        if (points >= 20) break;
    }
    ASSERT_GE(points, 20u) << "the run did not start writing points in time";
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    cp::store::RunStore store(db);
    EXPECT_EQ(store.integrity_check(), "ok");
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, cp::store::RunStatus::interrupted);
    EXPECT_GE(store.metrics(runs[0].id, "train_loss").size(), points);
}
