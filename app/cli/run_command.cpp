// `context-pythia run`: a whole experiment headless, into the same database as the workbench.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "train/experiment.h"

namespace cp::cli {
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};
void on_interrupt(int) {
    g_stop.store(true);
}  // first Ctrl-C: finish the step, mark the run stopped

std::string clock_text(double seconds) {
    if (seconds < 0) return "--:--";
    const long s = std::lround(seconds);
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
}

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
        line << "[" << p.model << " " << p.phase << "] ";
        if (p.epoch >= 0) line << "epoch " << p.epoch << " ";
        line << (p.phase == "phase1" ? "iteration " : "step ") << p.step << "/" << p.total;
        if (p.phase != "evaluation")
            line << "  loss " << std::fixed << std::setprecision(4) << p.loss;
        line << "  ETA " << clock_text(p.eta_seconds);
        if (tty_)
            std::cerr << "\r\033[K" << line.str() << std::flush;
        else
            std::cerr << line.str() << "\n";
    }
    void on_run_finished(std::int64_t run_id, const std::string& status) override {
        if (quiet_) return;
        std::cerr << (tty_ ? "\r\033[K" : "") << "run " << run_id << ": " << status << "\n";
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
        models[m.model] = {{"run_id", m.run_id},
                           {"status", m.status},
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
                {"status", s.status},
                {"device", s.device},
                {"wall_seconds", s.wall_seconds},
                {"models", models}};
    if (s.phase1_run_id)
        out["phase1"] = {{"run_id", *s.phase1_run_id},
                         {"iterations", s.phase1_iterations},
                         {"convergence_rate", s.phase1_convergence_rate},
                         {"effective_rank", s.phase1_effective_rank},
                         {"converged", s.phase1_converged}};
    return out;
}

}  // namespace

int run_command(int argc, char** argv, int first) {
    const train::ExperimentParams ref;
    const auto r = [](double v) {
        std::ostringstream s;
        s << v;
        return " (reference: " + s.str() + ")";
    };
    Args args(
        "context-pythia run --samples N --seq-length L --epochs E [options]",
        "Runs one experiment: Phase 1 (OACD) of the ContextBlock, Phase 2 of Context-Pythia and "
        "of\n"
        "the Pythia baseline, then evaluation; every run, metric point and result goes into the\n"
        "database. samples, seq-length and epochs have no default. Ctrl-C stops cleanly (run "
        "'stopped').",
        {{"samples", "N", "training + validation chunks of seq-length + 1 tokens (required)"},
         {"seq-length", "L", "tokens per chunk (required)"},
         {"epochs", "E", "Phase 2 epochs at most (required)"},
         {"size", "tiny|70m", "both models' presets (default: tiny)"},
         {"corpus", "NAME|PATH", "brown, nlp, or your own text (default: brown)", true},
         {"tokenizer", "PATH", "tokenizer folder or tokenizer.json (default: installed GPT-2)"},
         {"seed", "S", "seed of initialisation, noise and shuffling (default: 0)"},
         {"device", "auto|cpu|cuda", "where to train (default: auto = cuda when available)"},
         {"threads", "N", "torch CPU threads (default: torch's choice)"},
         {"precision", "fp32|bf16",
          "bf16: Phase 2 and evaluation under bf16 autocast, weights fp32 (default: fp32)"},
         {"models", "both|context-pythia|pythia", "which models to train (default: both)"},
         {"ablation-untrained-context-block", "",
          "ablation: Phase 2 of Context-Pythia without Phase 1 (labelled)"},
         {"skip-evaluation", "", "train only"},
         {"phase1-only", "", "Phase 1 of the ContextBlock only"},
         {"context-block-from", "FILE",
          "Context-Pythia's Phase 2 on the ContextBlock of this Phase 1 checkpoint"},
         {"db", "FILE", "database (default: " + train::default_database_path() + ")"},
         {"checkpoint-dir", "DIR", "where checkpoints go (default: <data>/runs)"},
         {"name", "TEXT", "experiment name (default: size, samples x length, seed)"},
         {"p1-centroid-weight", "W", "OACD centroid weight" + r(ref.phase1.centroid_weight)},
         {"p1-noise", "S", "context noise std" + r(ref.phase1.noise_std)},
         {"p1-lr", "LR", "Phase 1 Adam learning rate" + r(ref.phase1.learning_rate)},
         {"p1-clip", "C", "Phase 1 gradient-norm clip" + r(ref.phase1.clip_grad_norm)},
         {"p1-convergence-threshold", "T",
          "per-token mean squared change that counts as converged" +
              r(ref.phase1.convergence_threshold)},
         {"p1-convergence-target", "F",
          "stop when this share has converged" + r(ref.phase1.convergence_target)},
         {"p1-max-iterations", "N", "Phase 1 iterations at most" + r(ref.phase1.max_iterations)},
         {"p1-batch-size", "N", "tokens per OACD batch (workbench default: 4096)"},
         {"lr", "LR", "Phase 2 AdamW learning rate" + r(ref.phase2.learning_rate)},
         {"weight-decay", "WD", "Phase 2 AdamW weight decay" + r(ref.phase2.weight_decay)},
         {"batch-size", "B", "Phase 2 batch size" + r(static_cast<double>(ref.phase2.batch_size))},
         {"patience", "P",
          "epochs without a better validation perplexity before stopping" +
              r(static_cast<double>(ref.phase2.patience))},
         {"val-fraction", "F", "share of chunks that validate" + r(ref.phase2.validation_fraction)},
         {"clip-grad-norm", "C",
          "Phase 2 gradient-norm clip, 0 = off" + r(ref.phase2.clip_grad_norm)},
         {"readback-every", "N",
          "read losses back every N steps (default: 0 = 1 on CPU, 25 on CUDA)"},
         {"resume-from", "FILE",
          "continue one model's Phase 2 from its checkpoint (with --models)"},
         {"eval-test-chunks", "N", "held-out chunks evaluated at most (default: 256)"},
         {"eval-last-word-passages", "N", "last-word passages at most (default: 200)"},
         {"eval-kv-lengths", "L1,L2,...", "cache lengths for KV bytes (default: 128,512,2048)"},
         {"json", "", "print a final summary object on stdout"},
         {"quiet", "", "no progress line"}});
    if (args.parse_and_print_help(argc, argv, first)) return 0;
    train::ExperimentParams p;
    if (args.has("samples")) p.samples = parse_int_option("samples", args.get("samples"));
    if (args.has("seq-length"))
        p.seq_length = parse_int_option("seq-length", args.get("seq-length"));
    if (args.has("epochs")) p.epochs = parse_int_option("epochs", args.get("epochs"));
    p.size = args.get("size", p.size);
    if (args.has("corpus")) p.corpora = args.all("corpus");
    p.tokenizer = args.get("tokenizer");
    if (args.has("seed"))
        p.seed = static_cast<std::uint64_t>(parse_int_option("seed", args.get("seed")));
    p.device = args.get("device", p.device);
    if (args.has("threads")) p.threads = parse_int_option("threads", args.get("threads"));
    p.precision = args.get("precision", p.precision);
    if (args.has("readback-every"))
        p.phase2.readback_every = parse_int_option("readback-every", args.get("readback-every"));
    const std::string models = args.get("models", "both");
    if (models == "both")
        p.models = train::ModelChoice::both;
    else if (models == "context-pythia")
        p.models = train::ModelChoice::context_pythia;
    else if (models == "pythia")
        p.models = train::ModelChoice::pythia;
    else
        throw Error("--models must be both, context-pythia or pythia (got '" + models + "')");
    p.ablation_untrained_context_block = args.has("ablation-untrained-context-block");
    p.skip_evaluation = args.has("skip-evaluation");
    p.phase1_only = args.has("phase1-only");
    p.db = args.get("db");
    p.context_block_from = args.get("context-block-from");
    p.checkpoint_dir = args.get("checkpoint-dir");
    p.name = args.get("name");
    const auto d = [&](const char* option, double& field) {
        if (args.has(option)) field = parse_double_option(option, args.get(option));
    };
    const auto i = [&](const char* option, std::int64_t& field) {
        if (args.has(option)) field = parse_int_option(option, args.get(option));
    };
    d("p1-centroid-weight", p.phase1.centroid_weight);
    d("p1-noise", p.phase1.noise_std);
    d("p1-lr", p.phase1.learning_rate);
    d("p1-clip", p.phase1.clip_grad_norm);
    d("p1-convergence-threshold", p.phase1.convergence_threshold);
    d("p1-convergence-target", p.phase1.convergence_target);
    i("p1-max-iterations", p.phase1.max_iterations);
    i("p1-batch-size", p.phase1.batch_size);
    d("lr", p.phase2.learning_rate);
    d("weight-decay", p.phase2.weight_decay);
    i("batch-size", p.phase2.batch_size);
    i("patience", p.phase2.patience);
    d("val-fraction", p.phase2.validation_fraction);
    d("clip-grad-norm", p.phase2.clip_grad_norm);
    p.phase2.resume_from = args.get("resume-from");
    i("eval-test-chunks", p.eval.max_test_chunks);
    i("eval-last-word-passages", p.eval.max_lambada_passages);
    if (args.has("eval-kv-lengths")) {
        p.eval.kv_lengths.clear();
        std::stringstream in(args.get("eval-kv-lengths"));
        std::string item;
        while (std::getline(in, item, ','))
            p.eval.kv_lengths.push_back(parse_int_option("eval-kv-lengths", item));
    }

    train::Experiment experiment(p);  // validates everything and checks the data, before any write
    g_stop.store(false);
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    ProgressPrinter printer(args.has("quiet"));
    const train::ExperimentSummary summary = experiment.run(&printer, g_stop);
    const json out = summary_json(summary);
    if (args.has("json")) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "experiment " << summary.experiment_id << ": " << summary.status << " in "
                  << clock_text(summary.wall_seconds) << " on " << summary.device << "\n";
        for (const auto& m : summary.models) {
            if (m.status != "finished") {
                std::cout << "  " << m.model << " (run " << m.run_id << "): " << m.status << ": "
                          << m.message << "\n";
                continue;
            }
            std::cout << "  " << m.model << " (run " << m.run_id << "): best val ppl "
                      << m.best_val_ppl << " (epoch " << m.best_epoch << "), test ppl "
                      << m.test_ppl << ", last-word acc " << m.last_word_accuracy << ", "
                      << static_cast<long>(m.train_tokens_per_second) << " train tok/s\n";
        }
    }
    return summary.status == "finished" ? 0 : (summary.status == "stopped" ? 130 : 1);
}

}  // namespace cp::cli
