// `context-pythia run`: a whole experiment headless, into the same database as the workbench.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/run_options.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/numbers.h"
#include "report/design_comparison.h"
#include "store/run_store.h"
#include "train/distributed.h"
#include "train/experiment.h"
#include "train/seed_group.h"
#include "experiment/param_schema.h"
#include "experiment/plan.h"

namespace cp::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A folder of this process's own, removed when it ends: where a rank other than 0 keeps the
// database and checkpoints nobody reads.
struct TempFolder {
    std::filesystem::path path;
    explicit TempFolder(const std::string& prefix) {
        std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(pattern.data())) throw Error("cannot create a temporary folder for " + prefix);
        path = pattern;
    }
    ~TempFolder() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

std::atomic<bool> g_stop{false};
void on_interrupt(int) {
    g_stop.store(true);
}  // first Ctrl-C: finish the step, mark the run stopped

// Prints one progress line: rewritten in place on a terminal, every few seconds otherwise.
class ProgressPrinter : public train::ExperimentObserver {
  public:
    explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(::isatty(2) != 0) {}
    void on_progress(const train::Progress& p) override {
        if (quiet_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::milliseconds(tty_ ? 200 : 5000) && p.step != p.total) return;
        last_ = now;
        std::ostringstream line;
        line << "[" << model::design_key(p.model) << " " << store::phase_key(p.phase) << "] ";
        if (p.epoch >= 0) line << "epoch " << p.epoch << " ";
        line << (p.phase == store::Phase::phase1 ? "iteration " : "step ") << p.step << "/"
             << p.total;
        if (p.phase != store::Phase::evaluation)
            line << "  loss " << std::fixed << std::setprecision(4) << p.loss;
        line << "  ETA " << clock_text(p.eta_seconds);
        if (tty_)
            std::cerr << "\r\033[K" << line.str() << std::flush;
        else
            std::cerr << line.str() << "\n";
    }
    void on_run_finished(std::int64_t run_id, store::RunStatus status) override {
        if (quiet_) return;
        std::cerr << (tty_ ? "\r\033[K" : "") << "run " << run_id << ": "
                  << store::status_display_name(status) << "\n";
    }
    void on_message(const std::string& text) override {
        if (!quiet_) std::cerr << (tty_ ? "\r\033[K" : "") << text << "\n";
    }

  private:
    bool quiet_, tty_;
    std::chrono::steady_clock::time_point last_{};
};

json summary_json(const train::ExperimentSummary& s) {
    json models = json::object();
    for (const auto& m : s.models) {
        json kv = json::array();
        for (const auto& k : m.kv)
            kv.push_back({{"tokens", k.tokens},
                          {"kv_bytes", k.kv_bytes},
                          {"kv_bytes_per_token", k.kv_bytes_per_token()},
                          {"context_state_bytes", k.state_bytes}});
        models[model::design_key(m.model)] = {
            {"run_id", m.run_id},
            {"status", store::status_key(m.status)},
            {"message", m.message},
            {"parameters", m.parameters.total},
            {"trainable_parameters", m.parameters.trainable},
            {"epochs_run", m.epochs_run},
            {"best_epoch", m.best_epoch},
            {"best_val_ppl", m.best_val_ppl},
            {"best_val_accuracy", m.best_val_accuracy},
            {"test_ppl", m.test_ppl},
            {"test_accuracy", m.test_accuracy},
            {"last_word_accuracy", m.last_word_accuracy},
            {"last_word_ppl", m.last_word_ppl},
            {"last_word_passages", m.last_word_passages},
            {"train_tokens_per_second", m.train_tokens_per_second},
            {"seconds_per_epoch", m.seconds_per_epoch},
            {"generation_tokens_per_second", m.generation_tokens_per_second},
            {"kv_cache", kv},
            {"checkpoint", m.checkpoint}};
    }
    json out = {{"experiment_id", s.experiment_id},
                {"status", store::status_key(s.status)},
                {"device", s.device},
                {"wall_seconds", s.wall_seconds},
                {"models", models}};
    if (s.phase1_run_id)
        out["phase1"] = {{"run_id", *s.phase1_run_id},
                         {"iterations", s.phase1_iterations},
                         {"convergence_rate", s.phase1_convergence_rate},
                         {"context_rank_initial", s.phase1_context_rank_initial},
                         {"context_rank", s.phase1_context_rank},
                         {"converged", s.phase1_converged}};
    return out;
}

void print_summary(const train::ExperimentSummary& summary, bool as_json) {
    if (as_json) {
        std::cout << summary_json(summary).dump(2) << "\n";
        return;
    }
    std::cout << "experiment " << summary.experiment_id << ": "
              << store::status_display_name(summary.status) << " in "
              << clock_text(summary.wall_seconds) << " on " << summary.device << "\n";
    for (const auto& m : summary.models) {
        const char* who = model::design_key(m.model);
        if (m.status != store::RunStatus::finished) {
            std::cout << "  " << who << " (run " << m.run_id
                      << "): " << store::status_display_name(m.status) << ": " << m.message << "\n";
            continue;
        }
        std::cout << "  " << who << " (run " << m.run_id << "): best val ppl " << m.best_val_ppl
                  << " (epoch " << m.best_epoch << "), test ppl " << m.test_ppl
                  << (m.unigram_test_ppl > 0 && !m.learned()
                          ? " (not below the unigram baseline " +
                                std::to_string(std::lround(m.unigram_test_ppl)) + ": not learned)"
                      : m.barely_learned()
                          ? " (not below the bigram baseline " +
                                std::to_string(std::lround(m.bigram_test_ppl)) + ": barely learned)"
                          : "")
                  << ", last-word acc " << m.last_word_accuracy << ", "
                  << static_cast<long>(m.train_tokens_per_second) << " train tok/s\n";
    }
}

// A seed group: each seed's line, then the group's comparison of its designs.
void print_group(const train::GroupSummary& g, const train::ExperimentParams& p, bool as_json) {
    if (as_json) {
        json seeds = json::array();
        for (const auto& s : g.seeds) {
            json one = s.summary ? summary_json(*s.summary) : json::object();
            one["seed"] = s.seed;
            if (!s.error.empty()) one["error"] = s.error;
            seeds.push_back(one);
        }
        std::cout << json{{"group", g.group_uid},
                          {"status", store::status_key(g.status)},
                          {"wall_seconds", g.wall_seconds},
                          {"failed_seeds", g.failed_seeds()},
                          {"seeds", seeds}}
                         .dump(2)
                  << "\n";
        return;
    }
    std::cout << "seed group " << g.group_uid << ": " << g.seeds.size() << " seeds, "
              << store::status_display_name(g.status) << " in " << clock_text(g.wall_seconds)
              << "\n";
    for (const auto& s : g.seeds) {
        std::cout << "seed " << s.seed << ": ";
        if (s.summary)
            std::cout << "experiment " << s.summary->experiment_id << ", "
                      << store::status_display_name(s.summary->status) << "\n";
        else
            std::cout << "failed: " << s.error << "\n";
    }
    if (p.phase1_only || p.skip_evaluation) return;
    try {
        store::RunStore store(p.db.empty() ? train::default_database_path() : p.db);
        const store::ExperimentRow first = store.group(g.group_uid).front();
        std::cout << "\n"
                  << report::design_comparison_text(report::compare_designs(store, first.id));
    } catch (const Error& e) {
        std::cout << "\nno comparison: " << e.what() << "\n";
    }
}

}  // namespace

int run_command(int argc, char** argv, int first) {
    Args args(
        "context-pythia run --samples N --seq-length L --epochs E [options]",
        "Runs one experiment: Phase 1 (OACD) of the ContextBlock, Phase 2 of every chosen "
        "design,\nthen evaluation; every run, metric point and result goes into the database.\n"
        "samples, seq-length and epochs have no default. Ctrl-C stops cleanly (run 'stopped').",
        run_options());
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    train::ExperimentParams p = params_from(args);
    // Launched by torchrun or srun: one rank of a data-parallel job. Only rank 0 writes the
    // database and the checkpoints; the others keep theirs in a private temporary folder.
    const train::DistributedEnv env = train::distributed_env_from_process();
    std::optional<TempFolder> private_folder;
    if (env.distributed()) {
        if (p.experiment > 0 || p.context_block_run > 0 || !p.phase2.resume_from.empty())
            throw Error("a data-parallel run starts its own experiment: --experiment, "
                        "--context-block-run and --resume-from need a single process");
        if (env.rank != 0) {
            private_folder.emplace("cp-rank" + std::to_string(env.rank));
            p.db = (private_folder->path / "rank.db").string();
            p.checkpoint_dir = (private_folder->path / "checkpoints").string();
        }
    }

    // A Phase 2 on a stored Phase 1 resolves as the workbench's does (experiment/plan.h): it
    // joins that Phase 1's experiment, or the latest one trained on the same terms.
    const train::LaunchMode mode = train::launch_mode_of(p);
    const std::string db = p.db.empty() ? train::default_database_path() : p.db;
    if (mode == train::LaunchMode::phase2 && p.experiment == 0 && fs::exists(db)) {
        store::RunStore store(db);
        p = train::resolve_launch(p, mode, std::nullopt, store).params;
        if (p.experiment > 0 && !args.has("quiet"))
            std::cerr << "Phase 2 joins experiment " << p.experiment
                      << " (trained on the same terms)\n";
    }
    // Validates everything, resolves the plan and checks the data, before any write.
    train::SeedGroup group(p, mode);
    const std::unique_ptr<train::ProcessGroup> ranks = train::join_process_group(
        env, std::chrono::seconds(p.dist_timeout), train::choose_device(p.device) == "cuda");
    if (ranks) {
        group.train_in(ranks.get());
        std::cerr << "data-parallel: " << env.describe() << "\n";
    }
    // How much each phase will train, and a warning when it is too little to learn.
    if (const auto budget = train::training_budget(group.experiment().params(), mode)) {
        if (!args.has("quiet"))
            std::cerr << budget->describe();
        else
            for (const std::string& w : budget->warnings) std::cerr << "Warning: " << w << "\n";
    }
    g_stop.store(false);
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    ProgressPrinter printer(args.has("quiet"));
    const train::GroupSummary g = group.run(&printer, g_stop);
    if (g.seeds.size() == 1 && g.group_uid.empty()) {
        print_summary(*g.seeds.front().summary, args.has("json"));
    } else {
        print_group(g, group.experiment().params(), args.has("json"));
    }
    if (g.status == store::RunStatus::finished) return 0;
    return g.status == store::RunStatus::stopped ? 130 : 1;
}

}  // namespace cp::cli
