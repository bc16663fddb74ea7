// `context-pythia cache-eval`: a trained run (or a checkpoint file) evaluated under each KV-cache
// policy, each result recorded as an evaluation run linked to the trained run
// (core/train/cache_eval.h); prints the table of policies and the K/V anatomy.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "cli/run_options.h"
#include "cli/commands.h"
#include "common/error.h"
#include "common/numbers.h"
#include "store/run_kinds.h"
#include "train/cache_eval.h"

namespace cp::cli {
namespace {

class PrintingObserver : public train::ExperimentObserver {
  public:
    explicit PrintingObserver(bool quiet) : quiet_(quiet) {}
    void on_run_started(std::int64_t run_id, model::Design, store::Phase) override {
        if (!quiet_) std::cerr << "run " << run_id << " started\n";
    }
    void on_progress(const train::Progress& p) override {
        if (quiet_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::seconds(2) && p.step != p.total) return;
        last_ = now;
        std::cerr << "  " << p.step << "/" << p.total << " held-out chunks, loss " << p.loss << "\n";
    }
    void on_message(const std::string& text) override {
        if (!quiet_) std::cerr << text << "\n";
    }
    void on_run_finished(std::int64_t run_id, store::RunStatus status) override {
        if (!quiet_) std::cerr << "run " << run_id << ": " << store::status_display_name(status) << "\n";
    }

  private:
    bool quiet_;
    std::chrono::steady_clock::time_point last_{};
};

std::string fixed(double v, int digits) { return fixed_text(v, digits); }

void print(const train::CacheEvalSummary& s) {
    for (const train::TrainedOutcome& t : s.trained) {
        std::cout << t.what << " (experiment " << t.experiment_id << ")\n";
        int width = 8;  // the policy column fits its longest name
        for (const train::PolicyOutcome& o : t.policies)
            width = std::max(width, static_cast<int>(o.policy.size()) + 2);
        std::cout << "  " << std::left << std::setw(width) << "policy" << std::right << std::setw(8)
                  << "run" << std::setw(12) << "test ppl" << std::setw(12) << "KL to full"
                  << std::setw(10) << "top-1 =" << std::setw(14) << "scored B/tok"
                  << std::setw(11) << "last-word" << std::setw(11) << "gen tok/s"
                  << "  KV bytes/token (length: bytes)\n";
        for (const train::PolicyOutcome& o : t.policies) {
            std::cout << "  " << std::left << std::setw(width) << o.policy << std::right << std::setw(8)
                      << o.run_id;
            if (o.status != store::RunStatus::finished) {
                std::cout << "  " << store::status_display_name(o.status)
                          << (o.message.empty() ? "" : ": " + o.message) << "\n";
                continue;
            }
            std::cout << std::setw(12) << fixed(o.test_ppl, 2) << std::setw(12)
                      << fixed(o.kl_to_full, 5) << std::setw(10)
                      << fixed(o.top1_agreement_to_full, 4) << std::setw(14)
                      << fixed(o.scored_kv_bytes_per_token, 1) << std::setw(11)
                      << fixed(o.last_word_accuracy, 3) << std::setw(11)
                      << fixed(o.generation_tokens_per_second, 1) << " ";
            for (const auto& [length, bytes] : o.kv_bytes_per_token)
                std::cout << " " << length << ": " << fixed(bytes, 1);
            std::cout << "\n";
        }
        if (t.anatomy) {
            std::cout << "  K/V anatomy (run " << t.anatomy->run_id
                      << "): spread = largest / median eigenvalue of each layer's cached K and V\n";
            std::cout << "    layer   K spread   V spread\n";
            for (std::size_t l = 0; l < t.anatomy->k_spread.size(); ++l)
                std::cout << "    " << std::setw(5) << l << std::setw(11)
                          << fixed(t.anatomy->k_spread[l], 1) << std::setw(11)
                          << fixed(l < t.anatomy->v_spread.size() ? t.anatomy->v_spread[l] : 0, 1)
                          << "\n";
        }
    }
    std::cout << "Compare them beside the trained designs with 'context-pythia experiments compare "
              << (s.trained.empty() ? 0 : s.trained.front().experiment_id) << "'.\n";
}

}  // namespace

int cache_eval_command(int argc, char** argv, int first) {
    std::vector<Option> options = options_of(train::cache_eval_schema());
    options.push_back({"quiet", "", "no progress on stderr"});
    Args args(
        "context-pythia cache-eval (--run ID ... | --checkpoint FILE --seq-length L) "
        "--policy NAME[:k=v,...] [--policy ...] [options]",
        "Evaluates a trained model with its KV cache kept under each policy: held-out\n"
        "perplexity decoding token by token with that cache (after each chunk's prompt),\n"
        "the last-word task (passage -> compress -> predict), generation tokens/s and the\n"
        "bytes the cache really stores at several lengths. Each result is recorded as an\n"
        "evaluation run linked to the trained run, so 'experiments compare' and the Pareto\n"
        "view show it beside the trained designs. Policies: " +
            model::policy_help() + ".",
        options);
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    // Every option read by the schema (experiment/cache_eval_params.h), all named at once.
    const train::CacheEvalParams p = params_from(args, train::cache_eval_schema());
    std::atomic<bool> stop{false};
    train::CacheEval eval(p, &stop);  // every check before any work
    PrintingObserver observer(args.has("quiet"));
    const train::CacheEvalSummary s = eval.run(&observer, stop);
    print(s);
    return s.status == store::RunStatus::finished ? 0 : 1;
}

}  // namespace cp::cli
