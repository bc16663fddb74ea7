// Fault injection: SIGKILL at random points of real runs, a full disk, a read-only or locked
// database, an allocation that cannot succeed. Each must end in a clear message (or a wait), a
// database that passes PRAGMA integrity_check, and nothing already stored lost.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "common/error.h"
#include "model/checkpoint.h"
#include "model/models.h"
#include "model/safetensors.h"
#include "store/run_store.h"
#include "test_support.h"
#include "train/experiment.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Child {
    pid_t pid = -1;
    std::string err_path;
};

// Starts the CLI with `args`; `before_exec` runs in the child (limits, privileges). stderr goes
// to a file so the test can read the message.
Child spawn_cli(const std::vector<std::string>& args, const fs::path& err_file,
                const std::function<void()>& before_exec = {}) {
    std::vector<std::string> argv = {CP_TEST_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_WRONLY);
        const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(devnull, 1);
        ::dup2(err, 2);
        if (before_exec) before_exec();
        std::vector<char*> raw;
        for (auto& a : argv) raw.push_back(a.data());
        raw.push_back(nullptr);
        ::execv(raw[0], raw.data());
        ::_exit(127);
    }
    return {pid, err_file.string()};
}

int wait_exit_code(const Child& c) {
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls the database (read-only) until the first run after `runs_before` has at least `points`
// metric points stored, or has ended; gives up after two minutes.
void wait_for_points(const fs::path& db_path, std::int64_t runs_before, int points) {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 1000);
            sqlite3_stmt* q = nullptr;
            const char* sql =
                "SELECT r.status, (SELECT count(*) FROM metrics m WHERE m.run_id = r.id) "
                "FROM runs r ORDER BY r.id LIMIT 1 OFFSET ?";
            bool reached = false;
            if (sqlite3_prepare_v2(db, sql, -1, &q, nullptr) == SQLITE_OK) {
                sqlite3_bind_int64(q, 1, runs_before);
                if (sqlite3_step(q) == SQLITE_ROW) {
                    const std::string status =
                        reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
                    reached = status != "running" || sqlite3_column_int(q, 1) >= points;
                }
            }
            sqlite3_finalize(q);
            sqlite3_close(db);
            if (reached) return;
        }
        std::this_thread::sleep_for(10ms);
    }
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> tiny_run_args(const fs::path& dir, const std::string& epochs) {
    return {"run",
            "--samples",
            "100",
            "--seq-length",
            "32",
            "--epochs",
            epochs,
            "--models",
            "pythia",
            "--batch-size",
            "8",
            "--lr",
            "3e-3",
            "--skip-evaluation",
            "--db",
            (dir / "w.db").string(),
            "--checkpoint-dir",
            (dir / "runs").string(),
            "--quiet"};
}

// One epoch of Pythia on 120 x 32 tokens, without evaluation, into `dir`.
cp::train::ExperimentParams small_pythia_params(const fs::path& dir) {
    cp::train::ExperimentParams p;
    p.samples = 120;
    p.seq_length = 32;
    p.epochs = 1;
    p.models = {cp::model::Design::pythia};
    p.skip_evaluation = true;
    p.db = (dir / "w.db").string();
    p.checkpoint_dir = (dir / "runs").string();
    return p;
}

// A finished experiment already in the database: what every fault must leave untouched.
std::int64_t store_a_finished_experiment(const fs::path& dir) {
    cp::train::Experiment e(small_pythia_params(dir));
    std::atomic<bool> stop{false};
    const auto s = e.run(nullptr, stop);
    EXPECT_EQ(s.status, cp::store::RunStatus::finished);
    return s.experiment_id;
}

void expect_first_experiment_intact(cp::store::RunStore& store, std::int64_t experiment_id) {
    const auto runs = store.runs();
    ASSERT_FALSE(runs.empty());
    EXPECT_EQ(runs[0].experiment_id, experiment_id);
    EXPECT_EQ(runs[0].status, cp::store::RunStatus::finished);
    EXPECT_EQ(store.metrics(runs[0].id, "train_loss").size(), 4u);  // 108 chunks, batch 32
}

}  // namespace

// 20 kills at random instants (start-up, Phase 2 steps, validation, checkpoint writes): each
// leaves an intact database with the run `interrupted` (or finished, if it beat the kill), and
// any checkpoint on disk loads and resumes to a finished run.
TEST(Faults, SigkillAtRandomPointsLeavesAConsistentDatabaseAndAResumableCheckpoint) {
    cp::test::TempDir dir;
    const std::uint32_t seed = 20261123;
    std::mt19937 rng(seed);
    // The kill lands after the run has stored a chosen number of metric points (0: as soon as
    // its row exists), read from the database: instants counted in the run's own progress, so
    // they fall across start-up, both epochs and the checkpoint writes on a slow or a fast
    // machine alike. A run has 2 x (12 steps + 7 per-epoch points) = 38.
    std::uniform_int_distribution<int> points_before_kill(0, 38);
    int interrupted = 0, resumed = 0;
    std::int64_t runs_before = 0;
    for (int trial = 0; trial < 20; ++trial) {
        const int points = points_before_kill(rng);
        SCOPED_TRACE("trial " + std::to_string(trial) + ", kill after " + std::to_string(points) +
                     " metric points (seed " + std::to_string(seed) + ")");
        const Child child = spawn_cli(tiny_run_args(dir.path(), "2"), dir / "err.txt");
        wait_for_points(dir / "w.db", runs_before, points);
        ::kill(child.pid, SIGKILL);
        wait_exit_code(child);

        std::string checkpoint;
        {
            cp::store::RunStore store((dir / "w.db").string());
            ASSERT_EQ(store.integrity_check(), "ok");
            const auto runs = store.runs();
            ASSERT_GE(static_cast<std::int64_t>(runs.size()), runs_before);  // nothing lost
            for (const auto& r : runs)
                EXPECT_NE(r.status, cp::store::RunStatus::running) << "run " << r.id;
            if (static_cast<std::int64_t>(runs.size()) > runs_before) {
                const auto& run = runs.back();
                EXPECT_TRUE(run.status == cp::store::RunStatus::interrupted ||
                            run.status == cp::store::RunStatus::finished)
                    << run.status;
                interrupted += run.status == cp::store::RunStatus::interrupted;
                // The checkpoint the run points at is whole: what was recorded is what is there
                // (size and SHA-256), however the kill fell across its write.
                if (run.status == cp::store::RunStatus::interrupted &&
                    store.run_file(run.id, cp::store::file_role::checkpoint)) {
                    EXPECT_NO_THROW(
                        store.verified_file(run.id, cp::store::file_role::optimizer_state));
                    checkpoint = store.verified_file(run.id, cp::store::file_role::checkpoint)
                                     .path.string();
                }
            }
            runs_before = static_cast<std::int64_t>(store.runs().size());
        }
        if (checkpoint.empty()) continue;
        // The last checkpoint loads into the model, and the run resumes from it to the end.
        auto model = cp::model::make_model(cp::model::preset("pythia-tiny"), 0);
        EXPECT_NO_THROW(cp::model::load_weights(*model, checkpoint));
        auto args = tiny_run_args(dir.path(), "2");
        args.insert(args.end(), {"--resume-from", checkpoint});
        const Child resume = spawn_cli(args, dir / "resume-err.txt");
        ASSERT_EQ(wait_exit_code(resume), 0) << read_text(dir / "resume-err.txt");
        ++resumed;
        cp::store::RunStore store((dir / "w.db").string());
        EXPECT_EQ(store.runs().back().status, cp::store::RunStatus::finished);
        runs_before = static_cast<std::int64_t>(store.runs().size());
    }
    std::cout << "20 kills: " << interrupted << " runs interrupted, " << resumed
              << " resumed from their checkpoint\n";
    EXPECT_GE(interrupted, 10);
    EXPECT_GE(resumed, 3);
}

// A disk that fills (a file-size limit): the checkpoint cannot be written; the run fails with a
// message saying so, the process exits cleanly, and the database keeps everything.
TEST(Faults, FullDiskGivesAClearErrorAndKeepsTheDatabase) {
    cp::test::TempDir dir;
    const std::int64_t first = store_a_finished_experiment(dir.path());
    const Child child = spawn_cli(tiny_run_args(dir.path(), "1"), dir / "err.txt", [] {
        ::signal(SIGXFSZ, SIG_IGN);            // writes past the limit fail with EFBIG instead
        const rlimit limit{4 << 20, 4 << 20};  // the database fits; a 26 MB checkpoint does not
        ::setrlimit(RLIMIT_FSIZE, &limit);
    });
    EXPECT_EQ(wait_exit_code(child), 1);
    const std::string err = read_text(dir / "err.txt");
    EXPECT_NE(err.find("error: "), std::string::npos) << err;
    EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
    EXPECT_EQ(err.find("internal error"), std::string::npos) << err;
    cp::store::RunStore store((dir / "w.db").string());
    EXPECT_EQ(store.integrity_check(), "ok");
    expect_first_experiment_intact(store, first);
    ASSERT_EQ(store.runs().size(), 2u);
    EXPECT_EQ(store.runs()[1].status, cp::store::RunStatus::failed);
    EXPECT_NE(store.runs()[1].error.find("cannot write"), std::string::npos);
}

// A database the user may not write: refused before any work, naming the file.
TEST(Faults, ReadOnlyDatabaseIsRefusedBeforeAnyWork) {
    cp::test::TempDir dir;
    const std::int64_t first = store_a_finished_experiment(dir.path());
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read |
                                    fs::perms::others_exec);
    fs::permissions(dir / "w.db",
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    // As root, permissions do not bind: the child drops to nobody, for whom the file is read-only.
    const Child child = spawn_cli(tiny_run_args(dir.path(), "1"), dir / "err.txt", [] {
        if (::geteuid() == 0) {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(126);
        }
    });
    EXPECT_EQ(wait_exit_code(child), 1);
    const std::string err = read_text(dir / "err.txt");
    EXPECT_NE(err.find((dir / "w.db").string()), std::string::npos) << err;
    EXPECT_NE(err.find("read-only"), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(dir / "runs" / "experiment-2"));
    fs::permissions(dir / "w.db", fs::perms::owner_read | fs::perms::owner_write);
    cp::store::RunStore store((dir / "w.db").string());
    EXPECT_EQ(store.integrity_check(), "ok");
    expect_first_experiment_intact(store, first);
    EXPECT_EQ(store.runs().size(), 1u);
}

// Another process holding the write lock: the run waits for it and then goes on.
TEST(Faults, LockedDatabaseIsWaitedForThenUsed) {
    cp::test::TempDir dir;
    const std::int64_t first = store_a_finished_experiment(dir.path());
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "w.db").c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    const Child child = spawn_cli(tiny_run_args(dir.path(), "1"), dir / "err.txt");
    std::this_thread::sleep_for(3s);  // the CLI has started and is waiting on the lock
    ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(other);
    EXPECT_EQ(wait_exit_code(child), 0) << read_text(dir / "err.txt");
    cp::store::RunStore store((dir / "w.db").string());
    EXPECT_EQ(store.integrity_check(), "ok");
    expect_first_experiment_intact(store, first);
    ASSERT_EQ(store.runs().size(), 2u);
    EXPECT_EQ(store.runs()[1].status, cp::store::RunStatus::finished);
}

// An allocation that cannot succeed (a batch of the whole corpus under an address-space limit):
// a clear error naming the batch size, the run marked failed, and the same process then runs
// another experiment normally.
TEST(Faults, OutOfMemoryIsAClearErrorAndTheProcessGoesOn) {
    cp::test::TempDir dir;
    cp::train::ExperimentParams p = small_pythia_params(dir.path());
    p.samples = 2000;
    p.seq_length = 256;
    p.phase2.batch_size = 2000;  // logits alone: 2000 x 256 x 50304 floats, 103 GB
    cp::train::Experiment big(p);
    rlimit saved{};
    ::getrlimit(RLIMIT_AS, &saved);
    // Whatever the machine's overcommit policy, nothing beyond 3 GB more can be mapped.
    std::ifstream status("/proc/self/status");
    std::string line;
    rlim_t current_kb = 0;
    while (std::getline(status, line))
        if (line.rfind("VmSize:", 0) == 0) current_kb = std::stoull(line.substr(7));
    const rlimit limit{current_kb * 1024 + (3ull << 30), saved.rlim_max};
    ASSERT_EQ(::setrlimit(RLIMIT_AS, &limit), 0);
    std::atomic<bool> stop{false};
    const std::string message = cp::test::error_of([&] { big.run(nullptr, stop); });
    ::setrlimit(RLIMIT_AS, &saved);
    EXPECT_NE(message.find("out of memory in Phase 2 of pythia (batch size 2000 x seq_length 256"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("lower the batch size"), std::string::npos) << message;
    {
        cp::store::RunStore store(p.db);
        ASSERT_EQ(store.runs().size(), 1u);
        EXPECT_EQ(store.runs()[0].status, cp::store::RunStatus::failed);
        EXPECT_NE(store.runs()[0].error.find("out of memory"), std::string::npos);
        EXPECT_EQ(store.integrity_check(), "ok");
    }
    cp::train::Experiment small(small_pythia_params(dir.path()));
    EXPECT_EQ(small.run(nullptr, stop).status, cp::store::RunStatus::finished);
}
