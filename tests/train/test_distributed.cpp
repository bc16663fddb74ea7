// Data-parallel training on c10d/Gloo with real processes on loopback (#18): two ranks started
// here with torchrun's variables train exactly as one process with the same global batch (up to
// float sums); only rank 0 writes the database; a rank killed or stopped mid-epoch ends the
// other within the timeout with an error naming it, the run marked failed, the database intact.
// The environment's reading (torchrun, srun) is checked without processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "common/error.h"
#include "store/run_store.h"
#include "test_support.h"
#include "experiment/distributed_env.h"

namespace {

using Clock = std::chrono::steady_clock;

// A port no other test of this run uses: from the pid, away from torchrun's 29500.
int free_port(int offset) {
    return 31000 + (static_cast<int>(::getpid()) * 7 + offset) % 20000;
}

// Starts the CLI with extra environment variables, stdout and stderr to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::filesystem::path& log) {
    const pid_t child = ::fork();
    if (child == 0) {
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        std::freopen(log.c_str(), "w", stdout);
        ::dup2(::fileno(stdout), 2);  // one file, one offset: stderr's lines are not overwritten
        std::vector<char*> argv = {const_cast<char*>(CP_TEST_CLI)};
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(CP_TEST_CLI, argv.data());
        ::_exit(127);
    }
    return child;
}

int wait_exit(pid_t child) {
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// TMPDIR inside the test's folder: a killed rank's private folder goes with it.
std::map<std::string, std::string> rank_env(int rank, int port, const std::filesystem::path& dir) {
    return {{"TMPDIR", dir.string()},
            {"MASTER_ADDR", "127.0.0.1"},
            {"MASTER_PORT", std::to_string(port)},
            {"WORLD_SIZE", "2"},
            {"RANK", std::to_string(rank)},
            {"LOCAL_RANK", std::to_string(rank)}};
}

std::vector<double> series(const std::string& db, const char* name, std::size_t run) {
    cp::store::RunStore store(db);
    std::vector<double> out;
    for (const auto& p : store.metrics(store.runs().at(run).id, name)) out.push_back(p.value);
    return out;
}

}  // namespace

TEST(DistributedEnv, TorchrunAndSrunVariablesAreReadAndBadOnesNamed) {
    using cp::train::read_distributed_env;
    const auto from = [](std::map<std::string, std::string> m) {
        return [m](const std::string& k) -> std::optional<std::string> {
            const auto it = m.find(k);
            return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
        };
    };
    const auto torchrun = read_distributed_env(from({{"WORLD_SIZE", "4"}, {"RANK", "3"},
                                                     {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "n01"},
                                                     {"MASTER_PORT", "29400"}}));
    EXPECT_EQ(torchrun.launcher, "torchrun");
    EXPECT_EQ(torchrun.rank, 3);
    EXPECT_EQ(torchrun.world_size, 4);
    EXPECT_EQ(torchrun.local_rank, 1);
    EXPECT_EQ(torchrun.master_addr, "n01");
    EXPECT_EQ(torchrun.master_port, 29400);
    const auto srun = read_distributed_env(
        from({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "1"}, {"SLURM_LOCALID", "0"},
              {"SLURM_JOB_NODELIST", "gpu[07-09,12],cpu1"}, {"SLURM_JOB_ID", "4242"}}));
    EXPECT_EQ(srun.launcher, "srun");
    EXPECT_EQ(srun.rank, 1);
    EXPECT_EQ(srun.master_addr, "gpu07");
    EXPECT_EQ(srun.master_port, 20000 + 4242);
    EXPECT_FALSE(read_distributed_env(from({})).distributed());
    EXPECT_FALSE(read_distributed_env(from({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}})).distributed());
    EXPECT_NE(cp::test::error_of([&] {
                  read_distributed_env(from({{"WORLD_SIZE", "2"}, {"RANK", "2"}}));
              }).find("rank 2 is outside 0..1"),
              std::string::npos);
    EXPECT_NE(cp::test::error_of([&] { read_distributed_env(from({{"WORLD_SIZE", "two"}})); })
                  .find("WORLD_SIZE must be a whole number (got 'two')"),
              std::string::npos);
    EXPECT_EQ(cp::train::first_slurm_host("node03"), "node03");
}

// Context-Pythia tiny: Phase 1 on the 72 training chunks' 1,224 tokens in OACD batches of 512
// (3 batches: rank 0 takes two, rank 1 one), then Phase 2 in global batches of 8 (4 per rank),
// 9 steps. Each rank's loss part is its rows' summed cross-entropy over the global batch's
// tokens (Phase 1: its batches' loss / all batches), the parts and the gradients are summed over
// the ranks: the same mean and the same gradient as one process, up to the order of float sums. Float32 sums of 4 + 4 rows against 8 differ by a few
// ulps (~1e-7 relative) per step; through nine AdamW steps that stays far below 1e-5, which a
// wrong share (rows lost or counted twice, a mean of means) exceeds at the first step.
TEST(Distributed, TwoRanksOnLoopbackTrainAsOneProcessWithTheSameGlobalBatch) {
    cp::test::TempDir dir;
    const std::vector<std::string> args = {
        "run", "--models", "context-pythia", "--samples", "80", "--seq-length", "16", "--epochs",
        "1", "--batch-size", "8", "--p1-batch-size", "512", "--p1-max-iterations", "5",
        "--skip-evaluation", "--threads", "1", "--quiet", "--checkpoint-dir",
        (dir / "ckpt").string()};
    auto with_db = [&](const std::string& db) {
        auto a = args;
        a.push_back("--db");
        a.push_back(db);
        return a;
    };
    const int port = free_port(1);
    const std::string shared = (dir / "ranks.db").string();
    const pid_t r0 = spawn(with_db(shared), rank_env(0, port, dir.path()), dir / "rank0.log");
    const pid_t r1 = spawn(with_db(shared), rank_env(1, port, dir.path()), dir / "rank1.log");
    ASSERT_EQ(wait_exit(r0), 0) << cp::test::read_text(dir / "rank0.log");
    ASSERT_EQ(wait_exit(r1), 0) << cp::test::read_text(dir / "rank1.log");
    const auto single = cp::test::run_cli(with_db((dir / "single.db").string()));
    ASSERT_EQ(single.exit_code, 0) << single.err;

    const std::string one = (dir / "single.db").string();
    for (const auto& [name, run, count] :
         {std::tuple{"oacd_loss", 0, 4}, std::tuple{"convergence_rate", 0, 4},
          std::tuple{"train_loss", 1, 9}}) {
        const auto a = series(shared, name, run), b = series(one, name, run);
        ASSERT_EQ(a.size(), static_cast<std::size_t>(count)) << name;
        ASSERT_EQ(a.size(), b.size()) << name;
        for (std::size_t i = 0; i < a.size(); ++i)
            EXPECT_NEAR(a[i], b[i], 1e-5 * std::fabs(b[i]) + 1e-9) << name << " step " << i + 1;
    }
    // One set of runs, written by rank 0.
    cp::store::RunStore store(shared);
    EXPECT_EQ(store.experiments().size(), 1u);
    ASSERT_EQ(store.runs().size(), 2u) << "Phase 1 and Phase 2, once";
    for (const auto& r : store.runs()) EXPECT_TRUE(cp::store::completed(r.status)) << r.status;
    EXPECT_NE(cp::test::read_text(dir / "rank1.log").find("data-parallel: rank 1 of 2"), std::string::npos)
        << cp::test::read_text(dir / "rank1.log");
}

// Rank 1 killed (SIGKILL) or stopped (SIGSTOP, a hang) mid-epoch: rank 0 ends within the
// timeout with an error naming rank 1, its run is marked failed, the database is intact.
TEST(Distributed, ARankThatDiesOrHangsEndsTheOtherWithinTheTimeoutNamingIt) {
    for (const int signal : {SIGKILL, SIGSTOP}) {
        cp::test::TempDir dir;
        const std::string db = (dir / "w.db").string();
        const int timeout = 10;
        const std::vector<std::string> args = {
            "run", "--models", "pythia", "--samples", "4000", "--seq-length", "32", "--epochs",
            "3", "--batch-size", "8", "--skip-evaluation", "--threads", "1", "--dist-timeout",
            std::to_string(timeout), "--db", db, "--checkpoint-dir", (dir / "ckpt").string()};
        const int port = free_port(signal == SIGKILL ? 2 : 3);
        const pid_t r0 = spawn(args, rank_env(0, port, dir.path()), dir / "rank0.log");
        const pid_t r1 = spawn(args, rank_env(1, port, dir.path()), dir / "rank1.log");
        // Wait until rank 0 is writing training points, then stop rank 1 without warning.
        std::size_t points = 0;
        const auto deadline = Clock::now() + std::chrono::minutes(3);
        while (Clock::now() < deadline && points < 10) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            try {
                if (!std::filesystem::exists(db)) continue;
                cp::store::RunStore peek(db);
                if (!peek.runs().empty()) points = peek.metrics(peek.runs()[0].id, "train_loss").size();
            } catch (const std::exception&) {
            }
        }
        ASSERT_GE(points, 10u) << cp::test::read_text(dir / "rank0.log");
        ::kill(r1, signal);
        const auto stopped = Clock::now();
        EXPECT_EQ(wait_exit(r0), 1) << cp::test::read_text(dir / "rank0.log");
        const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
        EXPECT_LT(seconds, timeout + 15.0) << "rank 0 outlived the timeout";
        if (signal == SIGSTOP) ::kill(r1, SIGKILL);
        wait_exit(r1);
        const std::string log = cp::test::read_text(dir / "rank0.log");
        EXPECT_NE(log.find("rank 1 stopped"), std::string::npos) << log;
        cp::store::RunStore store(db);
        EXPECT_EQ(store.integrity_check(), "ok");
        ASSERT_EQ(store.runs().size(), 1u);
        EXPECT_EQ(store.runs()[0].status, cp::store::RunStatus::failed);
        EXPECT_NE(store.runs()[0].error.find("rank 1 stopped"), std::string::npos);
        EXPECT_GE(store.metrics(store.runs()[0].id, "train_loss").size(), points) << "nothing stored is lost";
        std::cout << (signal == SIGKILL ? "killed" : "stopped") << " rank 1: rank 0 ended after "
                  << seconds << " s\n";
    }
}
