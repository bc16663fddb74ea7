#include "experiment/plan.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/error.h"
#include "data/splits.h"
#include "model/model_registry.h"
#include "experiment/param_schema.h"

#include <nlohmann/json.hpp>

namespace cp::train {

std::string BlockSource::label() const {
    switch (kind) {
        case Kind::this_plan:
            return "";
        case Kind::stored_run:
            return "ContextBlock from run " + std::to_string(run_id.value_or(0));
        case Kind::checkpoint_file:
            return "ContextBlock from " + checkpoint;
        case Kind::untrained_ablation:
            return "ablation: untrained ContextBlock (no Phase 1)";
    }
    return "";
}

std::string PlanStep::describe() const {
    const std::string who = model::design_display_name(design);
    if (phase == store::Phase::phase1) return "Phase 1 (OACD) of " + who + "'s ContextBlock";
    if (phase == store::Phase::evaluation)
        return "Evaluation of the pretrained checkpoint as it is (no training)";
    std::string s = "Phase 2 of " + who;
    if (block) {
        switch (block->kind) {
            case BlockSource::Kind::this_plan:
                s += " on the ContextBlock of this experiment's Phase 1";
                break;
            case BlockSource::Kind::stored_run:
            case BlockSource::Kind::checkpoint_file:
                s += " on the " + block->label();
                break;
            case BlockSource::Kind::untrained_ablation:
                s += " (" + block->label() + ")";
                break;
        }
    }
    if (evaluate) s += ", then evaluation";
    return s;
}

bool ExperimentPlan::has_phase1() const {
    for (const PlanStep& s : steps)
        if (s.phase == store::Phase::phase1) return true;
    return false;
}

std::string ExperimentPlan::describe() const {
    std::string s;
    for (std::size_t i = 0; i < steps.size(); ++i)
        s += std::to_string(i + 1) + ". " + steps[i].describe() + "\n";
    return s;
}

ResumeFiles verified_resume_files(store::RunStore& store, const std::string& resume_from) {
    const auto known = store.file_at(resume_from);
    if (!known || known->role != store::file_role::checkpoint)
        throw Error("'" + resume_from + "' is not the checkpoint of a run in '" + store.path() +
                    "', so it cannot be checked before it is loaded: resume a run of this "
                    "database (its checkpoint: 'context-pythia runs show ID'), or choose the "
                    "database it belongs to with --db");
    ResumeFiles f{store.verified_file(known->run_id, store::file_role::checkpoint), std::nullopt};
    if (store.run_file(known->run_id, store::file_role::optimizer_state))
        f.optimizer_state = store.verified_file(known->run_id, store::file_role::optimizer_state);
    else if (f.checkpoint.origin != store::FileOrigin::unverified)
        throw Error("run " + std::to_string(known->run_id) +
                    " recorded no optimizer state beside its checkpoint, so it cannot be resumed");
    return f;
}

std::optional<store::RunRow> latest_completed_phase1(store::RunStore& store, model::Design block) {
    const auto runs = store.runs();
    for (auto it = runs.rbegin(); it != runs.rend(); ++it)
        if (it->phase == store::Phase::phase1 && it->model == block &&
            store::completed(it->status) &&
            !it->checkpoint_path.empty() && std::filesystem::exists(it->checkpoint_path))
            return *it;
    return std::nullopt;
}

namespace {

// The ContextBlocks a launch's Phase 1 trains: one per context width its designs read (their
// block designs), Context-Pythia's when none of them reads one.
std::vector<model::Design> phase1_designs(const std::vector<model::Design>& models) {
    std::vector<model::Design> blocks;
    for (model::Design d : models)
        if (model::design_entry(d).needs_context_block) {
            const model::Design b = model::block_design(d);
            if (std::find(blocks.begin(), blocks.end(), b) == blocks.end()) blocks.push_back(b);
        }
    if (blocks.empty()) blocks.push_back(model::Design::context_pythia);
    return blocks;
}

std::string no_phase1_message(model::Design block) {
    return std::string(model::design_display_name(block)) +
           "'s Phase 2 needs a finished Phase 1: launch Phase 1 first, or "
           "tick the ablation to train on an untrained ContextBlock.";
}

}  // namespace

ExperimentParams params_for_launch(ExperimentParams p, LaunchMode mode,
                                   std::optional<model::Design> phase2_design) {
    if (mode == LaunchMode::phase1) {
        p.phase1_only = true;
        p.models = phase1_designs(p.models);
        p.ablation_untrained_context_block = false;
    } else if (mode == LaunchMode::phase2 && phase2_design) {
        p.models = {*phase2_design};
        if (!model::design_entry(*phase2_design).needs_context_block)
            p.ablation_untrained_context_block = false;
    }
    return p;
}

LaunchRequest resolve_launch(const ExperimentParams& params, LaunchMode mode,
                             std::optional<model::Design> phase2_design, store::RunStore& store) {
    LaunchRequest r;
    r.mode = mode;
    r.params = params_for_launch(params, mode, phase2_design);
    ExperimentParams& p = r.params;
    if (uses_latest_phase1(p, mode)) {
        const model::Design block = model::block_design(p.models.front());
        const auto latest = latest_completed_phase1(store, block);
        if (!latest) throw Error(no_phase1_message(block));
        p.context_block_run = latest->id;
    }
    // Step by step (Phase 1, then Phase 2 of each design), the runs build one experiment: a
    // Phase 2 joins the experiment of the Phase 1 it trains on, or else the latest experiment
    // trained on the same terms, so that the comparison finds every design in it.
    if (mode == LaunchMode::phase2 && p.experiment == 0) {
        const auto same_terms = [&](std::int64_t id) {
            const auto stored =
                nlohmann::json::parse(store.experiment(id).params_json, nullptr, false);
            if (!stored.is_object()) return false;
            try {
                return experiment_differences(ExperimentParams::from_json(stored), p).empty();
            } catch (const Error&) {
                return false;
            }
        };
        if (p.context_block_run > 0) {
            const std::int64_t id = store.run(p.context_block_run).experiment_id;
            if (same_terms(id)) p.experiment = id;
        }
        if (p.experiment == 0) {
            const auto experiments = store.experiments();
            for (auto it = experiments.rbegin(); it != experiments.rend(); ++it)
                if (same_terms(it->id)) {
                    p.experiment = it->id;
                    break;
                }
        }
    }
    const auto problems = p.problems();
    if (!problems.empty()) {
        std::string message;
        for (const auto& problem : problems)
            message += (message.empty() ? "" : "\n") + problem.message;
        throw Error(message);
    }
    r.plan = plan_for(p, mode, &store);
    return r;
}

bool uses_latest_phase1(const ExperimentParams& p, LaunchMode mode) {
    return mode == LaunchMode::phase2 && p.needs_context_block() &&
           !p.ablation_untrained_context_block && p.context_block_run == 0 &&
           p.context_block_from.empty() && p.phase2.resume_from.empty();
}

LaunchMode launch_mode_of(const ExperimentParams& params) {
    if (params.phase1_only) return LaunchMode::phase1;
    if (params.context_block_run > 0 || !params.context_block_from.empty())
        return LaunchMode::phase2;
    return LaunchMode::full_comparison;
}

namespace {

// The design whose Phase 1 trained a stored block source (a file the store does not know is taken
// for Context-Pythia's, the only width before the designs below half).
model::Design stored_block_design(const ExperimentParams& p, store::RunStore* store) {
    if (p.context_block_run > 0 && store) return store->run(p.context_block_run).model;
    if (store)
        if (const auto f = store->file_at(p.context_block_from)) return store->run(f->run_id).model;
    return model::Design::context_pythia;
}

// The ContextBlock that the designs reading `block`'s blocks train on, when it is not this plan's
// own Phase 1. A stored block serves the designs of its own width only (nullopt for the others:
// they get a Phase 1 of this plan).
std::optional<BlockSource> external_block(const ExperimentParams& p, LaunchMode mode,
                                          store::RunStore* store, model::Design block) {
    if (p.ablation_untrained_context_block)
        return BlockSource{BlockSource::Kind::untrained_ablation, std::nullopt, ""};
    if (p.context_block_run > 0) {
        if (!store) throw Error("internal error: a stored Phase 1 run needs the store");
        const store::RunRow r = store->run(p.context_block_run);
        if (r.phase != store::Phase::phase1 || !store::completed(r.status))
            throw Error("run " + std::to_string(r.id) + " is not a finished Phase 1 run (it is " +
                        store::phase_key(r.phase) + ", " + store::status_key(r.status) +
                        "): choose another with --context-block-run, or run Phase 1 first");
    }
    const bool stored = p.context_block_run > 0 || !p.context_block_from.empty();
    if (stored && stored_block_design(p, store) != block) return std::nullopt;
    if (p.context_block_run > 0) {
        const store::RunRow r = store->run(p.context_block_run);
        const store::RunFile f = store->verified_file(r.id, store::file_role::checkpoint);
        return BlockSource{BlockSource::Kind::stored_run, r.id, f.path.string()};
    }
    if (!p.context_block_from.empty()) {
        BlockSource b{BlockSource::Kind::checkpoint_file, std::nullopt, p.context_block_from};
        // Provenance, and the check, when the file is one of this database's runs' checkpoints.
        if (store)
            if (const auto f = store->file_at(p.context_block_from);
                f && f->role == store::file_role::checkpoint &&
                store->run(f->run_id).phase == store::Phase::phase1) {
                store->verified_file(f->run_id, f->role);
                b.run_id = f->run_id;
            }
        return b;
    }
    if (mode == LaunchMode::phase2) {
        const auto latest = store ? latest_completed_phase1(*store, block) : std::nullopt;
        if (!latest) throw Error(no_phase1_message(block));
        const store::RunFile f = store->verified_file(latest->id, store::file_role::checkpoint);
        return BlockSource{BlockSource::Kind::stored_run, latest->id, f.path.string()};
    }
    return std::nullopt;
}

// A stored block that none of the chosen designs can read (another context width).
[[noreturn]] void throw_unread_block(const ExperimentParams& p, store::RunStore* store) {
    const model::Design trained = stored_block_design(p, store);
    std::string widths;
    for (model::Design d : p.models)
        if (model::design_entry(d).needs_context_block)
            widths += std::string(widths.empty() ? "" : ", ") + model::design_key(d) + " reads " +
                      std::to_string(p.model_config(d).context_dim);
    throw Error("the ContextBlock of " +
                (p.context_block_run > 0 ? "run " + std::to_string(p.context_block_run)
                                         : p.context_block_from) +
                " was trained for " + model::design_display_name(trained) + " at context width " +
                std::to_string(p.model_config(trained).context_dim) +
                "; none of the chosen designs reads a block of that width (" + widths +
                "): choose a Phase 1 of the same width, or leave the block source out to train one");
}

// What the plan says before it reads an unverified file.
void warn_unverified(store::RunStore* store, const std::optional<BlockSource>& block,
                     std::vector<std::string>& warnings) {
    if (!store || !block || !block->run_id) return;
    if (const auto f = store->run_file(*block->run_id, store::file_role::checkpoint);
        f && f->origin == store::FileOrigin::unverified)
        warnings.push_back(store::unverified_note(*f));
}

}  // namespace

// The stored experiment that runs are added to must have been trained on the same terms.
void check_joined_experiment(const ExperimentParams& p, store::RunStore* store) {
    if (p.experiment <= 0) return;
    if (!store) throw Error("internal error: joining an experiment needs the store");
    const store::ExperimentRow e = store->experiment(p.experiment);  // names an unknown id
    const auto differences = experiment_differences(
        ExperimentParams::from_json(nlohmann::json::parse(e.params_json)), p);
    if (differences.empty()) return;
    std::string message = "experiment " + std::to_string(e.id) + " ('" + e.name +
                          "') was trained with other parameters, so runs added to it would not "
                          "compare fairly:";
    for (const std::string& d : differences) message += "\n  - " + d;
    throw Error(message + "\nLeave --experiment out to start a new experiment.");
}

ExperimentPlan plan_for(const ExperimentParams& p, LaunchMode mode, store::RunStore* store) {
    check_joined_experiment(p, store);
    ExperimentPlan plan;
    if (mode == LaunchMode::phase1 || p.phase1_only) {
        for (model::Design b : phase1_designs(p.models))
            plan.steps.push_back({store::Phase::phase1, b, {}, false});
        return plan;
    }
    // A resumed Phase 2 continues from its own checkpoint: no block source, no Phase 1.
    const bool resuming = !p.phase2.resume_from.empty();
    if (resuming) {
        if (!store) throw Error("internal error: resuming needs the store to check the checkpoint");
        const ResumeFiles f = verified_resume_files(*store, p.phase2.resume_from);
        if (f.checkpoint.origin == store::FileOrigin::unverified)
            plan.warnings.push_back(store::unverified_note(f.checkpoint));
    }
    // One block source per context width the designs read (model::block_design).
    std::map<model::Design, BlockSource> blocks;
    if (p.needs_context_block() && !resuming) {
        bool stored_block_read = false;
        for (model::Design b : phase1_designs(p.models)) {
            std::optional<BlockSource> block = external_block(p, mode, store, b);
            warn_unverified(store, block, plan.warnings);
            if (block && block->kind != BlockSource::Kind::untrained_ablation)
                stored_block_read = true;
            if (!block) {
                plan.steps.push_back({store::Phase::phase1, b, {}, false});
                block = BlockSource{BlockSource::Kind::this_plan, std::nullopt, ""};
            }
            blocks.emplace(b, *block);
        }
        if ((p.context_block_run > 0 || !p.context_block_from.empty()) &&
            !p.ablation_untrained_context_block && !stored_block_read)
            throw_unread_block(p, store);
    }
    // From a pretrained checkpoint, the comparison's first column is that checkpoint as it is, on
    // the same held-out text (#27); Pythia fine-tuned from it is the control beside it.
    if (!p.init_from.empty() && mode == LaunchMode::full_comparison && !p.skip_evaluation &&
        !resuming)
        plan.steps.insert(plan.steps.begin(),
                          PlanStep{store::Phase::evaluation, model::Design::pythia, {}, true});
    for (model::Design d : p.models) {
        PlanStep step{store::Phase::phase2, d, {}, !p.skip_evaluation};
        if (model::design_entry(d).needs_context_block) step.block = blocks.at(model::block_design(d));
        if (model::design_entry(d).untrained_block)  // the ablation's own column
            step.block = BlockSource{BlockSource::Kind::untrained_ablation, std::nullopt, ""};
        plan.steps.push_back(step);
    }
    return plan;
}

std::string TrainingBudget::describe() const {
    std::ostringstream s;
    if (phase1)
        s << "Phase 1: " << phase1_tokens << " tokens, up to " << phase1_iterations
          << " iterations of " << phase1_batches << " OACD batch" << (phase1_batches == 1 ? "" : "es")
          << "\n";
    if (phase2)
        s << "Phase 2, each design: " << phase2_steps_per_epoch << " optimizer steps per epoch, up to "
          << phase2_steps << " steps on " << phase2_tokens << " tokens\n";
    for (const std::string& w : warnings) s << "Warning: " << w << "\n";
    return s.str();
}

std::optional<TrainingBudget> training_budget(const ExperimentParams& p, LaunchMode mode) {
    if (!p.samples || !p.seq_length || !p.epochs || *p.samples < 10 || *p.seq_length < 1 ||
        *p.epochs < 1 || p.phase2.batch_size < 1 || p.phase1.batch_size < 1 ||
        !(p.phase2.validation_fraction > 0 && p.phase2.validation_fraction < 1))
        return std::nullopt;
    const data::ChunkSplit split =
        data::chunk_split(*p.samples, *p.seq_length, p.phase2.validation_fraction);
    TrainingBudget b;
    const ExperimentPlan plan = [&] {
        try {
            return plan_for(p, mode, nullptr);
        } catch (const Error&) {  // a stored block source: Phase 2 alone, as far as budgets go
            ExperimentPlan only_phase2;
            only_phase2.steps.push_back(PlanStep{});
            return only_phase2;
        }
    }();
    for (const PlanStep& step : plan.steps)
        (step.phase == store::Phase::phase1 ? b.phase1 : b.phase2) = true;
    if (b.phase1) {
        b.phase1_tokens = split.phase1.size();
        b.phase1_iterations = p.phase1.max_iterations;
        b.phase1_batches = (b.phase1_tokens + p.phase1.batch_size - 1) / p.phase1.batch_size;
    }
    if (b.phase2) {
        b.phase2_steps_per_epoch = (split.train_chunks + p.phase2.batch_size - 1) / p.phase2.batch_size;
        b.phase2_steps = b.phase2_steps_per_epoch * *p.epochs;
        b.phase2_tokens = split.train_chunks * *p.seq_length * *p.epochs;
        if (b.phase2_steps < kFewestStepsToLearn)
            b.warnings.push_back(
                std::to_string(b.phase2_steps) + " Phase 2 optimizer steps are too few to learn: the " +
                "tiny presets need about " + std::to_string(kFewestStepsToLearn) +
                " to beat the unigram baseline; raise samples or epochs (the comparison of models "
                "that learned nothing says nothing)");
    }
    // context-kv's layer 0 reads one context per context_interval positions back: at the trained
    // length it must have a few to show its mechanism (#26).
    if (b.phase2 &&
        std::find(p.models.begin(), p.models.end(), model::Design::context_kv) != p.models.end()) {
        const model::ModelConfig c = p.model_config(model::Design::context_kv);
        const std::int64_t contexts =
            std::min(c.max_contexts, *p.seq_length / std::max<std::int64_t>(1, c.context_interval));
        if (contexts < kFewestContexts)
            b.warnings.push_back(
                "context-kv's layer 0 sees at most " + std::to_string(contexts) +
                " context" + (contexts == 1 ? "" : "s") + " at the trained length " +
                std::to_string(*p.seq_length) + " (one per " +
                std::to_string(c.context_interval) + " positions), too few for its mechanism to " +
                "act: set --context-interval to at most " +
                std::to_string(std::max<std::int64_t>(1, *p.seq_length / kFewestContexts)));
    }
    return b;
}

}  // namespace cp::train
