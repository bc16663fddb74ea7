// The typed experiment plan: which steps an experiment runs, in order, decided in one place from
// the parameters, the launch mode and (for a Phase 2 on a stored Phase 1) the store. The CLI and
// the GUI both launch through it; Experiment::run executes it step by step. Torch-free, so the
// GUI can show and test a plan without a model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/design.h"
#include "store/run_kinds.h"
#include "store/run_store.h"
#include "experiment/experiment_params.h"

namespace cp::train {

// What the user launched: the whole comparison, Phase 1 alone, or Phase 2 of one design.
enum class LaunchMode { full_comparison, phase1, phase2 };

// Where a Phase 2's ContextBlock comes from.
struct BlockSource {
    enum class Kind {
        this_plan,           // the Phase 1 step of this plan
        stored_run,          // a finished Phase 1 run in the store (run_id, checkpoint)
        checkpoint_file,     // a Phase 1 checkpoint file (run_id when the store knows it)
        untrained_ablation,  // no Phase 1: the labelled ablation
    };
    Kind kind = Kind::this_plan;
    std::optional<std::int64_t> run_id;
    std::string checkpoint;
    std::string label() const;  // the run's label: "ContextBlock from run 3", "ablation: …"
};

struct PlanStep {
    // phase1, phase2 (evaluation follows a phase2), or evaluation alone: the pretrained checkpoint
    // (init_from) as it is, without training.
    store::Phase phase = store::Phase::phase2;
    model::Design design = model::Design::pythia;
    std::optional<BlockSource> block;  // Phase 2 of a design that needs a ContextBlock
    bool evaluate = false;             // evaluate the Phase 2 run's best checkpoint after it
    std::string describe() const;      // "Phase 2 of Context-Pythia on the ContextBlock of run 3"
};

struct ExperimentPlan {
    std::vector<PlanStep> steps;
    // Files the plan reads that cannot be verified (recorded before checkpoints were hashed):
    // used, and said so to the user before the work starts.
    std::vector<std::string> warnings;
    bool has_phase1() const;
    std::string describe() const;  // one line per step, numbered
};

// The latest Phase 1 run of the store that trained `block`'s ContextBlock (model::block_design),
// completed (finished or not converged) and whose checkpoint still exists; empty when there is
// none. (Its file is checked when a plan reads it.)
std::optional<store::RunRow> latest_completed_phase1(
    store::RunStore& store, model::Design block = model::Design::context_pythia);

// Adjusts params to the launch mode (Phase 1 alone; Phase 2 of `design`) so that the recorded
// parameters reproduce the experiment.
// The checkpoint a resumed Phase 2 reads, checked against the store before any work: it must be
// a checkpoint one of this database's runs recorded, unchanged since (with its optimizer state).
// Returns the run's checkpoint and optimizer-state files; throws cp::Error naming the problem.
struct ResumeFiles {
    store::RunFile checkpoint;
    std::optional<store::RunFile> optimizer_state;  // absent for a checkpoint before schema 6
};
ResumeFiles verified_resume_files(store::RunStore& store, const std::string& resume_from);

ExperimentParams params_for_launch(ExperimentParams params, LaunchMode mode,
                                   std::optional<model::Design> phase2_design = std::nullopt);

// The steps for these parameters. `store` resolves a stored Phase 1 run (context_block_run) and,
// in LaunchMode::phase2 without another source, finds the latest completed Phase 1; it may be
// null when neither is needed. Throws cp::Error, naming the way out, when a Phase 2 needs a
// ContextBlock and none can be found.
ExperimentPlan plan_for(const ExperimentParams& params, LaunchMode mode, store::RunStore* store);

// What a front end launches: the parameters as they will be recorded (so the experiment can be
// reproduced from them: a Phase 2 on a stored Phase 1 names that run) and the plan they give.
struct LaunchRequest {
    ExperimentParams params;
    LaunchMode mode = LaunchMode::full_comparison;
    ExperimentPlan plan;
};
// params_for_launch, then, for Phase 2 of a ContextBlock design with no other source, the
// latest completed Phase 1 of the store as context_block_run; then plan_for. Throws cp::Error
// (the message says what to do) when the launch cannot go ahead.
LaunchRequest resolve_launch(const ExperimentParams& params, LaunchMode mode,
                             std::optional<model::Design> phase2_design, store::RunStore& store);

// Whether a launch trains a ContextBlock design's Phase 2 on the store's latest completed Phase 1:
// Phase 2 mode with no other block source (ablation, stored run, file, resume).
bool uses_latest_phase1(const ExperimentParams& params, LaunchMode mode);

// How much each phase will train, from the parameters alone (before launch): the form shows it
// and warns when it is too little to learn anything (item 7 of #14: nine steps of a tiny model
// on 300 x 32 samples compared two models at the uniform distribution's perplexity).
struct TrainingBudget {
    bool phase1 = false, phase2 = false;  // which phases the launch trains
    std::int64_t phase1_tokens = 0;       // Phase 1 reads the training chunks' tokens
    std::int64_t phase1_iterations = 0;   // at most (it stops when converged)
    std::int64_t phase1_batches = 0;      // OACD batches per iteration
    std::int64_t phase2_steps_per_epoch = 0, phase2_steps = 0;  // optimizer steps, at most
    std::int64_t phase2_tokens = 0;  // target tokens trained on over all epochs, at most
    // Warnings, not refusals: each says what is too little and what would do.
    std::vector<std::string> warnings;
    std::string describe() const;  // "Phase 2: 28 optimizer steps per epoch, 56 in all, ..."
};
// The fewest Phase 2 optimizer steps after which the tiny presets, at their learning rate, beat
// the unigram baseline of their training tokens, judged on validation only (#26): Brown, 64-token
// chunks, 2 epochs, lr 3e-3, seed 0 — at 86 steps both Pythia and Context-Pythia had a best
// validation perplexity below the unigram's validation perplexity, at 58 Context-Pythia did not
// (scripts/measure-step-warning.sh, docs/results/step-warning.csv, docs/design/DEVIATIONS.md).
inline constexpr std::int64_t kFewestStepsToLearn = 86;
// The fewest contexts context-kv's layer 0 must see at the trained length for its mechanism to
// act (fewer is warned about, not refused).
inline constexpr std::int64_t kFewestContexts = 4;
// Absent until samples, seq_length and epochs are set (the form shows nothing yet).
std::optional<TrainingBudget> training_budget(const ExperimentParams& params, LaunchMode mode);

// The mode a CLI invocation means: Phase 1 alone with --phase1-only; Phase 2 of the chosen
// designs on a stored ContextBlock (--context-block-run or --context-block-from), the workbench's
// "Phase 2" step, which resolve_launch joins to the experiment of that Phase 1; else the full
// comparison of the chosen designs.
LaunchMode launch_mode_of(const ExperimentParams& params);

}  // namespace cp::train
