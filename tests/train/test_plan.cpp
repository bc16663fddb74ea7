// The typed experiment plan, the launch decisions and the parameter schema: core decisions that
// the CLI and the GUI both rely on, checked without training a model.
#include <gtest/gtest.h>

#include <algorithm>

#include <set>

#include "common/error.h"
#include "store/run_store.h"
#include "test_support.h"
#include "experiment/bench_options.h"
#include "experiment/cache_eval_params.h"
#include "experiment/param_schema.h"
#include "experiment/plan.h"
#include "experiment/sweep.h"

using cp::model::Design;
using cp::store::Phase;
using cp::store::RunStatus;
using cp::test::error_of;
using namespace cp::train;

namespace {

ExperimentParams tiny() {
    ExperimentParams p;
    p.samples = 200;
    p.seq_length = 32;
    p.epochs = 1;
    p.models = {Design::context_pythia, Design::pythia};
    return p;
}

// A finished run of `phase` in a new experiment with `params`, with a checkpoint file.
std::int64_t stored_run(cp::store::RunStore& store, const cp::test::TempDir& dir, Design d,
                        Phase phase, RunStatus status, const ExperimentParams& params) {
    const auto e = store.create_experiment("e", params.to_json().dump());
    const auto r = store.create_run({e, d, phase, "cpu", "", std::nullopt});
    const auto ckpt = dir / ("run" + std::to_string(r) + ".safetensors");
    cp::test::write_text(ckpt, "weights");
    store.record_files(r, {{cp::store::file_role::checkpoint, ckpt}});
    store.finish_run(r, status);
    return r;
}

}  // namespace

TEST(Plan, FullComparisonRunsPhase1OnceThenEachDesignThenEvaluation) {
    const ExperimentPlan plan = plan_for(tiny(), LaunchMode::full_comparison, nullptr);
    ASSERT_EQ(plan.steps.size(), 3u) << plan.describe();
    EXPECT_EQ(plan.steps[0].phase, Phase::phase1);
    EXPECT_EQ(plan.steps[1].phase, Phase::phase2);
    EXPECT_EQ(plan.steps[1].design, Design::context_pythia);
    ASSERT_TRUE(plan.steps[1].block.has_value());
    EXPECT_EQ(plan.steps[1].block->kind, BlockSource::Kind::this_plan);
    EXPECT_EQ(plan.steps[2].design, Design::pythia);
    EXPECT_FALSE(plan.steps[2].block.has_value());  // Pythia trains no ContextBlock
    EXPECT_TRUE(plan.steps[1].evaluate && plan.steps[2].evaluate);
    EXPECT_EQ(plan.describe(),
              "1. Phase 1 (OACD) of Context-Pythia's ContextBlock\n"
              "2. Phase 2 of Context-Pythia on the ContextBlock of this experiment's Phase 1, then "
              "evaluation\n"
              "3. Phase 2 of Pythia, then evaluation\n");
}

TEST(Plan, PythiaAloneHasNoPhase1AndTheAblationHasNone) {
    ExperimentParams p = tiny();
    p.models = {Design::pythia};
    p.skip_evaluation = true;
    const ExperimentPlan pythia = plan_for(p, LaunchMode::full_comparison, nullptr);
    ASSERT_EQ(pythia.steps.size(), 1u);
    EXPECT_FALSE(pythia.has_phase1());
    EXPECT_FALSE(pythia.steps[0].evaluate);

    ExperimentParams a = tiny();
    a.ablation_untrained_context_block = true;
    const ExperimentPlan ablation = plan_for(a, LaunchMode::full_comparison, nullptr);
    EXPECT_FALSE(ablation.has_phase1());
    ASSERT_TRUE(ablation.steps[0].block.has_value());
    EXPECT_EQ(ablation.steps[0].block->kind, BlockSource::Kind::untrained_ablation);
    EXPECT_EQ(ablation.steps[0].block->label(), "ablation: untrained ContextBlock (no Phase 1)");
}

// #15 item 2: KV_METHODS.md part C's default designs, in its order, and #26: with Context-Pythia
// the two designs that separate its ingredients join by default, projection-256 (already there)
// and the untrained-block ablation, which trains beside the others on the block as initialised
// while the Phase 1 of the experiment feeds every design that reads a block. 'all' is every
// design of the registry (the below-half members aside) with the ablation beside Context-Pythia.
TEST(Plan, DefaultDesignsAllAndTheAblationAsAnEntryOfItsOwn) {
    EXPECT_EQ(ExperimentParams().models,
              (std::vector<Design>{Design::pythia, Design::context_pythia,
                                   Design::context_pythia_untrained, Design::pythia_256,
                                   Design::projection_256, Design::pythia_gqa}));
    const ExperimentParams all = ExperimentParams::from_json(nlohmann::json::parse(
        R"({"models": "all"})"));
    // the seven designs, pythia-input-cache and the ablation
    ASSERT_EQ(all.models.size(), 9u);
    EXPECT_EQ(all.models[1], Design::context_pythia);
    EXPECT_EQ(all.models[2], Design::context_pythia_untrained);
    EXPECT_NE(std::find(all.models.begin(), all.models.end(), Design::projection_256),
              all.models.end());
    ExperimentParams p = tiny();
    p.models = {Design::pythia, Design::context_pythia, Design::context_kv,
                Design::context_pythia_untrained};
    const ExperimentPlan plan = plan_for(p, LaunchMode::full_comparison, nullptr);
    ASSERT_EQ(plan.steps.size(), 5u) << plan.describe();
    EXPECT_EQ(plan.steps[0].phase, Phase::phase1);
    for (int i : {2, 3}) {
        ASSERT_TRUE(plan.steps[i].block.has_value()) << i;
        EXPECT_EQ(plan.steps[i].block->kind, BlockSource::Kind::this_plan) << i;
    }
    ASSERT_TRUE(plan.steps[4].block.has_value());
    EXPECT_EQ(plan.steps[4].block->kind, BlockSource::Kind::untrained_ablation);
    // The ablation alone needs no Phase 1.
    p.models = {Design::context_pythia_untrained};
    EXPECT_FALSE(plan_for(p, LaunchMode::full_comparison, nullptr).has_phase1());
}

TEST(Plan, Phase1ModeIsPhase1Alone) {
    const ExperimentParams p = params_for_launch(tiny(), LaunchMode::phase1);
    EXPECT_TRUE(p.phase1_only);
    const ExperimentPlan plan = plan_for(p, LaunchMode::phase1, nullptr);
    ASSERT_EQ(plan.steps.size(), 1u);
    EXPECT_EQ(plan.steps[0].phase, Phase::phase1);
}

TEST(Launch, ContextPythiaPhase2WithoutAFinishedPhase1IsRefusedWithTheWayOut) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    // A failed Phase 1 does not count.
    stored_run(store, dir, Design::context_pythia, Phase::phase1, RunStatus::failed, tiny());
    const std::string m = error_of(
        [&] { resolve_launch(tiny(), LaunchMode::phase2, Design::context_pythia, store); });
    EXPECT_NE(m.find("needs a finished Phase 1: launch Phase 1 first, or tick the ablation"),
              std::string::npos)
        << m;
    // Pythia needs none.
    EXPECT_EQ(resolve_launch(tiny(), LaunchMode::phase2, Design::pythia, store).plan.steps.size(),
              1u);
}

// The GUI's path: Phase 1, then Phase 2 of Context-Pythia, then of Pythia. The Phase 2 launch
// names the stored Phase 1 it trains on (a Phase 1 that ran out of iterations counts: its block
// is trained) and joins its experiment, so the comparison finds both designs in one place.
TEST(Launch, StepByStepRunsBuildOneExperimentWithProvenance) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const ExperimentParams phase1_params = params_for_launch(tiny(), LaunchMode::phase1);
    const auto p1 = stored_run(store, dir, Design::context_pythia, Phase::phase1,
                               RunStatus::not_converged, phase1_params);
    const LaunchRequest ctx =
        resolve_launch(tiny(), LaunchMode::phase2, Design::context_pythia, store);
    EXPECT_EQ(ctx.params.context_block_run, p1);
    EXPECT_EQ(ctx.params.experiment, store.run(p1).experiment_id);
    ASSERT_EQ(ctx.plan.steps.size(), 1u);
    ASSERT_TRUE(ctx.plan.steps[0].block.has_value());
    EXPECT_EQ(ctx.plan.steps[0].block->kind, BlockSource::Kind::stored_run);
    EXPECT_EQ(ctx.plan.steps[0].block->run_id, std::optional<std::int64_t>(p1));

    const LaunchRequest pythia = resolve_launch(tiny(), LaunchMode::phase2, Design::pythia, store);
    EXPECT_EQ(pythia.params.experiment, store.run(p1).experiment_id);

    // Other terms (another seed): a new experiment, not a join.
    ExperimentParams other = tiny();
    other.seed = 7;
    EXPECT_EQ(resolve_launch(other, LaunchMode::phase2, Design::pythia, store).params.experiment,
              0);
}

TEST(Launch, JoiningAnExperimentTrainedOnOtherTermsIsRefusedNamingTheDifference) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const auto run =
        stored_run(store, dir, Design::pythia, Phase::phase2, RunStatus::finished, tiny());
    ExperimentParams p = tiny();
    p.experiment = store.run(run).experiment_id;
    p.phase2.learning_rate = 0.5;
    const std::string m = error_of([&] { plan_for(p, LaunchMode::full_comparison, &store); });
    // The stored experiment trained at the tiny preset's learning rate, 3e-3.
    EXPECT_NE(m.find("phase2.learning_rate: 0.003 vs 0.5"), std::string::npos) << m;
    EXPECT_NE(m.find("Leave --experiment out"), std::string::npos) << m;
}

// #14 item 7a: presets carry the training values that suit their size. MODEL_SPEC §4: the
// reference trains at 1e-4 (the 70m presets); the tiny presets at 3e-3 (measured, DEVIATIONS.md).
// A value given by hand is kept, and leaving it to the preset trains exactly as giving that value.
TEST(Presets, LearningRateComesFromTheSizePresetUnlessGiven) {
    ExperimentParams p = tiny();
    EXPECT_FALSE(p.phase2.learning_rate.has_value());
    std::vector<std::string> filled;
    EXPECT_EQ(p.with_presets(&filled).phase2.learning_rate, std::optional<double>(3e-3));
    ASSERT_EQ(filled.size(), 1u);
    EXPECT_NE(filled[0].find("phase2.learning_rate: 0.003 (from the tiny preset"),
              std::string::npos)
        << filled[0];
    p.size = cp::model::ModelSize::m70;
    EXPECT_EQ(p.with_presets().phase2.learning_rate, std::optional<double>(1e-4));
    p.phase2.learning_rate = 0.02;
    filled.clear();
    EXPECT_EQ(p.with_presets(&filled).phase2.learning_rate, std::optional<double>(0.02));
    EXPECT_TRUE(filled.empty());
    ExperimentParams given = tiny(), left = tiny();
    given.phase2.learning_rate = 3e-3;
    EXPECT_TRUE(cp::train::experiment_differences(given, left).empty());
    given.phase2.learning_rate = 1e-4;
    EXPECT_FALSE(cp::train::experiment_differences(given, left).empty());
}

TEST(Launch, AStoredRunThatIsNotAFinishedPhase1IsRefused) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    ExperimentParams p = tiny();
    p.context_block_run =
        stored_run(store, dir, Design::pythia, Phase::phase2, RunStatus::finished, tiny());
    p.models = {Design::context_pythia};
    const std::string m = error_of([&] { plan_for(p, LaunchMode::full_comparison, &store); });
    EXPECT_NE(m.find("is not a finished Phase 1 run (it is phase2, finished)"), std::string::npos)
        << m;
}

TEST(Launch, LatestCompletedPhase1SkipsStoppedRunsAndMissingCheckpoints) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const auto good =
        stored_run(store, dir, Design::context_pythia, Phase::phase1, RunStatus::finished, tiny());
    stored_run(store, dir, Design::context_pythia, Phase::phase1, RunStatus::stopped, tiny());
    const auto gone =
        stored_run(store, dir, Design::context_pythia, Phase::phase1, RunStatus::finished, tiny());
    std::filesystem::remove(store.run(gone).checkpoint_path);
    ASSERT_TRUE(latest_completed_phase1(store).has_value());
    EXPECT_EQ(latest_completed_phase1(store)->id, good);
}

// #25: a ContextBlock is trained at one context width, so Context-Pythia at a quarter and an
// eighth of the width gets a Phase 1 of its own, and Context-KV (Context-Pythia's widths) reads
// Context-Pythia's: three designs, two Phase 1s, each Phase 2 on the block of its width.
TEST(Plan, EachContextWidthGetsItsOwnPhase1AndEachDesignReadsTheBlockOfItsWidth) {
    ExperimentParams p = tiny();
    p.models = {Design::context_pythia_128, Design::pythia, Design::context_kv,
                Design::context_pythia};
    const ExperimentPlan plan = plan_for(p, LaunchMode::full_comparison, nullptr);
    ASSERT_EQ(plan.steps.size(), 6u) << plan.describe();
    EXPECT_EQ(plan.steps[0].phase, Phase::phase1);
    EXPECT_EQ(plan.steps[0].design, Design::context_pythia_128);
    EXPECT_EQ(plan.steps[1].phase, Phase::phase1);
    EXPECT_EQ(plan.steps[1].design, Design::context_pythia);
    for (std::size_t i = 2; i < 6; ++i) EXPECT_EQ(plan.steps[i].phase, Phase::phase2);
    // The widths they read: 16 and 32 at tiny (a quarter and a half of Pythia's 64).
    EXPECT_EQ(p.model_config(Design::context_pythia_128).context_dim, 16);
    EXPECT_EQ(p.model_config(Design::context_pythia_64).context_dim, 8);
    EXPECT_EQ(p.model_config(Design::context_kv).context_dim, 32);
    // --context-dim sets the family's width, not its quarter's.
    p.context_dim = 48;
    EXPECT_EQ(p.model_config(Design::context_pythia).context_dim, 48);
    EXPECT_EQ(p.model_config(Design::context_pythia_128).context_dim, 16);
}

TEST(Plan, AStoredBlockServesTheDesignsOfItsWidthAndTheOthersTrainTheirOwn) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    ExperimentParams p = tiny();
    p.context_block_run = stored_run(store, dir, Design::context_pythia, Phase::phase1,
                                     RunStatus::finished, tiny());
    p.models = {Design::context_pythia, Design::context_pythia_64};
    const ExperimentPlan plan = plan_for(p, LaunchMode::full_comparison, &store);
    ASSERT_EQ(plan.steps.size(), 3u) << plan.describe();
    EXPECT_EQ(plan.steps[0].phase, Phase::phase1);
    EXPECT_EQ(plan.steps[0].design, Design::context_pythia_64);
    EXPECT_EQ(plan.steps[1].block->kind, BlockSource::Kind::stored_run);
    EXPECT_EQ(plan.steps[1].block->run_id, p.context_block_run);
    EXPECT_EQ(plan.steps[2].block->kind, BlockSource::Kind::this_plan);
    // A block that no chosen design can read is refused, naming both widths.
    p.models = {Design::context_pythia_64};
    const std::string m = error_of([&] { plan_for(p, LaunchMode::full_comparison, &store); });
    EXPECT_NE(m.find("at context width 32"), std::string::npos) << m;
    EXPECT_NE(m.find("context-pythia-64 reads 8"), std::string::npos) << m;
}

TEST(Launch, Phase2OfANarrowContextPythiaReadsTheLatestPhase1OfItsWidthOnly) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const auto narrow = stored_run(store, dir, Design::context_pythia_128, Phase::phase1,
                                   RunStatus::finished, tiny());
    const auto wide = stored_run(store, dir, Design::context_pythia, Phase::phase1,
                                 RunStatus::finished, tiny());
    EXPECT_EQ(latest_completed_phase1(store)->id, wide);
    EXPECT_EQ(latest_completed_phase1(store, Design::context_pythia_128)->id, narrow);
    EXPECT_FALSE(latest_completed_phase1(store, Design::context_pythia_64).has_value());
    const LaunchRequest r =
        resolve_launch(tiny(), LaunchMode::phase2, Design::context_pythia_128, store);
    EXPECT_EQ(r.params.context_block_run, narrow);
    const std::string m = error_of(
        [&] { resolve_launch(tiny(), LaunchMode::phase2, Design::context_pythia_64, store); });
    EXPECT_NE(m.find("Context-Pythia-64"), std::string::npos) << m;
    EXPECT_NE(m.find("launch Phase 1 first"), std::string::npos) << m;
}

// #26: the tiny preset spaces context-kv's contexts by the trained length (interval 32 / 8 = 4:
// eight contexts at the end of a 32-token chunk); an interval that leaves layer 0 fewer than 4 at
// the trained length (16: two) is warned about with the largest that would do (32 / 4 = 8).
TEST(Plan, ContextKvIsWarnedAboutWhenItsLayer0SeesTooFewContexts) {
    ExperimentParams p = tiny();
    p.models = {Design::context_kv};
    EXPECT_EQ(p.model_config(Design::context_kv).context_interval, 4);
    const auto has_warning = [](const TrainingBudget& b) {
        for (const std::string& w : b.warnings)
            if (w.find("context-kv's layer 0") != std::string::npos) return w;
        return std::string();
    };
    EXPECT_EQ(has_warning(*training_budget(p, LaunchMode::full_comparison)), "");
    p.context_interval = 16;
    EXPECT_EQ(p.model_config(Design::context_kv).context_interval, 16);
    const std::string w = has_warning(*training_budget(p, LaunchMode::full_comparison));
    EXPECT_NE(w.find("sees at most 2 contexts at the trained length 32"), std::string::npos) << w;
    EXPECT_NE(w.find("--context-interval to at most 8"), std::string::npos) << w;
    EXPECT_TRUE(p.problems().empty()) << "warned, not refused";
}

// ---- the parameter schema ----

TEST(ParamSchema, KeysAndOptionsAreUniqueAndEveryEntryIsComplete) {
    std::set<std::string> keys, options;
    for (const ParamSpec& s : param_schema()) {
        EXPECT_TRUE(keys.insert(s.key).second) << s.key;
        EXPECT_TRUE(options.insert(s.cli).second) << s.cli;
        EXPECT_FALSE(s.help.empty()) << s.key;
        EXPECT_TRUE(s.get && s.set) << s.key;
    }
    for (const char* key : {"samples", "seq_length", "epochs"})
        EXPECT_EQ(param(key).default_text(), "") << key << " must have no default";
}

// Every parameter set to a value other than its default survives JSON both ways. The values
// come from each type's rules here, not from the program.
TEST(ParamSchema, EveryParameterRoundTripsThroughJson) {
    ExperimentParams p;
    for (const ParamSpec& s : param_schema()) {
        nlohmann::json v;
        switch (s.type) {
            case ParamType::required_integer:
                v = 77;
                break;
            case ParamType::integer:
                v = s.get(p).get<std::int64_t>() + 3;
                break;
            case ParamType::seed:
                v = 12345;
                break;
            case ParamType::real:  // null: a value left to the size preset
                v = s.get(p).is_null() ? 0.02 : s.get(p).get<double>() * 0.5 + 0.01;
                break;
            case ParamType::text:
                v = "custom " + s.key;
                break;
            case ParamType::flag:
                v = !s.get(p).get<bool>();
                break;
            case ParamType::choice:
                v = s.choices.back();
                break;
            case ParamType::text_list:
                v = {"nlp", "brown"};
                break;
            case ParamType::integer_list:
                v = {64, 256};
                break;
            case ParamType::design_list:
                v = {"pythia"};
                break;
        }
        s.set(p, v);
        EXPECT_EQ(s.get(p), v) << s.key;
    }
    const ExperimentParams back = ExperimentParams::from_json(p.to_json());
    for (const ParamSpec& s : param_schema()) EXPECT_EQ(s.get(back), s.get(p)) << s.key;
}

TEST(ParamSchema, JsonRefusesAnUnknownChoiceAsTheCommandLineDoes) {
    const auto json_error = [](const char* text) {
        return error_of([&] { ExperimentParams::from_json(nlohmann::json::parse(text)); });
    };
    const std::string cli = error_of([] { param("device").parse_text("tpu"); });
    const std::string js = json_error(R"({"device": "tpu"})");
    EXPECT_NE(cli.find("--device must be auto, cpu or cuda (got 'tpu')"), std::string::npos) << cli;
    EXPECT_NE(js.find("device must be auto, cpu or cuda (got 'tpu')"), std::string::npos) << js;
    EXPECT_NE(json_error(R"({"models": ["gpt-2"]})").find("unknown design 'gpt-2'"),
              std::string::npos);
    EXPECT_NE(json_error(R"({"precision": "fp8"})").find("fp32 or bf16"), std::string::npos);
    // Records of an older workbench say "both" for the two models there were: never more.
    const ExperimentParams old = ExperimentParams::from_json(nlohmann::json::parse(
        R"({"samples": 100, "models": "both", "phase1": {"batch_size": 5000}})"));
    EXPECT_EQ(old.models, (std::vector<Design>{Design::context_pythia, Design::pythia}));
    EXPECT_EQ(old.phase1.batch_size, 5000);
    EXPECT_EQ(old.samples, std::optional<std::int64_t>(100));
}

TEST(ParamSchema, TypedTextIsReadByTypeWithMessagesNamingTheOption) {
    EXPECT_EQ(param("phase2.learning_rate").parse_text("1e-3"), nlohmann::json(0.001));
    EXPECT_EQ(param("eval.kv_lengths").parse_text("64,128"), nlohmann::json({64, 128}));
    EXPECT_NE(error_of([] {
                  param("phase2.batch_size").parse_text("3.5");
              }).find("--batch-size must be a whole number (got '3.5')"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  param("phase2.learning_rate").parse_text("fast");
              }).find("--lr must be a number (got 'fast')"),
              std::string::npos);
}

TEST(ParamSchema, SingleFieldRulesComeFromTheSchema) {
    ExperimentParams p = tiny();
    p.phase2.validation_fraction = 1.5;
    p.phase1.learning_rate = 1e39;
    std::set<std::string> fields;
    for (const auto& problem : p.problems()) fields.insert(problem.field);
    EXPECT_TRUE(fields.count("phase2.validation_fraction"));
    EXPECT_TRUE(fields.count("phase1.learning_rate"));  // beyond float32
    EXPECT_EQ(fields.size(), 2u);
}

// #14 item 7b, the issue's own example: 300 samples x 32, 1 epoch. By hand: 30 chunks validate
// (10%), 270 train; ceil(270 / 32) = 9 optimizer steps on 270 x 32 = 8,640 target tokens; Phase 1
// reads the 270 training chunks of 33 tokens = 8,910 tokens, in ceil(8910 / 4096) = 3 batches.
TEST(Budget, TheNineStepExampleIsCountedAndWarnedBeforeLaunch) {
    ExperimentParams p = tiny();
    p.samples = 300;
    p.seq_length = 32;
    p.epochs = 1;
    const auto b = training_budget(p, LaunchMode::full_comparison);
    ASSERT_TRUE(b.has_value());
    EXPECT_TRUE(b->phase1 && b->phase2);
    EXPECT_EQ(b->phase2_steps_per_epoch, 9);
    EXPECT_EQ(b->phase2_steps, 9);
    EXPECT_EQ(b->phase2_tokens, 8640);
    EXPECT_EQ(b->phase1_tokens, 8910);
    EXPECT_EQ(b->phase1_batches, 3);
    ASSERT_EQ(b->warnings.size(), 1u);
    EXPECT_NE(b->warnings[0].find("9 Phase 2 optimizer steps are too few"), std::string::npos);
    EXPECT_NE(b->describe().find("Warning: 9 Phase 2"), std::string::npos) << b->describe();
    // 4000 x 32, 2 epochs: 3600 train chunks, ceil(3600 / 32) = 113 steps an epoch, 226 in all;
    // 2000 x 64, 1 epoch: 57 steps, under the 86 measured to learn on validation.
    p.samples = 4000;
    p.epochs = 2;
    const auto enough = training_budget(p, LaunchMode::full_comparison);
    ASSERT_TRUE(enough.has_value());
    EXPECT_EQ(enough->phase2_steps, 226);
    EXPECT_TRUE(enough->warnings.empty());
    p.samples = 2000;
    p.seq_length = 64;
    p.epochs = 1;
    EXPECT_EQ(training_budget(p, LaunchMode::full_comparison)->warnings.size(), 1u);
    // The two cells of the validation measurement around the threshold (docs/results/
    // step-warning.csv): 1000 x 64 x 2 epochs = 2 x ceil(900 / 32) = 58 steps warns (Context-Pythia
    // had not learned there), 1500 x 64 x 2 = 2 x ceil(1350 / 32) = 86 does not (both had).
    p.samples = 1000;
    p.epochs = 2;
    EXPECT_EQ(training_budget(p, LaunchMode::full_comparison)->phase2_steps, 58);
    EXPECT_EQ(training_budget(p, LaunchMode::full_comparison)->warnings.size(), 1u);
    p.samples = 1500;
    EXPECT_EQ(training_budget(p, LaunchMode::full_comparison)->phase2_steps, 86);
    EXPECT_TRUE(training_budget(p, LaunchMode::full_comparison)->warnings.empty());
    p.seq_length = 32;
    // Phase 1 alone trains no language model, so nothing to warn about Phase 2.
    p.phase1_only = true;
    const auto phase1 = training_budget(p, LaunchMode::phase1);
    ASSERT_TRUE(phase1.has_value());
    EXPECT_TRUE(phase1->phase1);
    EXPECT_FALSE(phase1->phase2);
    EXPECT_TRUE(phase1->warnings.empty());
    // Nothing to count until the required fields are set.
    p.epochs.reset();
    EXPECT_FALSE(training_budget(p, LaunchMode::full_comparison).has_value());
}

// #14, bad input: --seeds 0, negative or beyond the cap, and a group joined to one experiment,
// are refused by name before any work.
TEST(Seeds, BadSeedCountsAreRefusedByName) {
    const auto problem = [](auto change) {
        ExperimentParams p = tiny();
        change(p);
        std::string all;
        for (const auto& x : p.problems()) all += x.field + ": " + x.message + "\n";
        return all;
    };
    EXPECT_NE(problem([](auto& p) { p.seeds = 0; }).find("seeds: seeds must be at least 1 (got 0)"),
              std::string::npos);
    EXPECT_NE(problem([](auto& p) { p.seeds = -3; }).find("seeds must be at least 1 (got -3)"),
              std::string::npos);
    EXPECT_NE(problem([](auto& p) { p.seeds = 33; }).find("seeds 33 is more than 32"),
              std::string::npos);
    EXPECT_NE(problem([](auto& p) {
                  p.seeds = 2;
                  p.experiment = 4;
              }).find("use one or the other"),
              std::string::npos);
    EXPECT_EQ(problem([](auto& p) { p.seeds = 32; }), "");
}

// pythia-gqa's K/V heads: the preset's unless given (4 of 8 at 70m, 2 of 4 at tiny, as
// KV_METHODS.md's default 4 at the 70M widths), 1 is multi-query; a count that does not divide
// the query heads is refused by name; other designs are untouched.
TEST(Params, KvHeadsReachOnlyTheGroupedQueryDesign) {
    ExperimentParams p = tiny();
    EXPECT_EQ(p.model_config(Design::pythia_gqa).kv_heads, 2);
    p.size = cp::model::ModelSize::m70;
    EXPECT_EQ(p.model_config(Design::pythia_gqa).kv_heads, 4);
    p.kv_heads = 1;
    EXPECT_EQ(p.model_config(Design::pythia_gqa).kv_heads, 1);
    EXPECT_EQ(p.model_config(Design::pythia).kv_heads, 0);
    EXPECT_TRUE(p.problems().empty());
    // pythia-mla's latent: hidden 512 - 16 rotary dims (0.25 of head_dim 64) unless given.
    EXPECT_EQ(p.model_config(Design::pythia_mla).kv_latent, 496);
    p.kv_latent = 240;
    EXPECT_EQ(p.model_config(Design::pythia_mla).kv_latent, 240);
    EXPECT_EQ(p.model_config(Design::pythia_gqa).kv_latent, 0);
    p.kv_heads = 3;
    std::string all;
    for (const auto& x : p.problems()) all += x.field + ": " + x.message + "\n";
    EXPECT_NE(all.find("kv_heads: kv_heads 3 must divide the 8 query heads of the 70m presets"),
              std::string::npos)
        << all;
}

// #18: a sweep's grid expands into its product (first axis slowest), each cell checked as any
// experiment; the sweep is named by what it trains (the same grid and options: the same uid;
// another value: another); the Slurm script has one array task per cell running its cell, with
// the flags passed through; bad axes are refused by name.
TEST(Sweep, TheGridExpandsIntoCellsNamedByWhatTheyTrain) {
    ExperimentParams base = tiny();
    base.samples.reset();
    const std::vector<GridAxis> grid = {parse_grid_axis("context_dim=64,128"),
                                        parse_grid_axis("models=pythia;context-pythia,pythia"),
                                        parse_grid_axis("samples=100,200")};
    const Sweep s = make_sweep(base, grid, "widths");
    ASSERT_EQ(s.cells.size(), 8u);
    EXPECT_EQ(s.cells[0].label(), "context_dim=64 models=pythia samples=100");
    EXPECT_EQ(s.cells[1].label(), "context_dim=64 models=pythia samples=200");
    EXPECT_EQ(s.cells[7].label(), "context_dim=128 models=context-pythia,pythia samples=200");
    EXPECT_EQ(s.cells[7].params.context_dim, 128);
    EXPECT_EQ(s.cells[7].params.models, (std::vector<Design>{Design::context_pythia, Design::pythia}));
    EXPECT_EQ(s.cells[7].params.sweep_cell, s.uid + ":7");
    EXPECT_EQ(s.uid.size(), 16u);
    EXPECT_EQ(make_sweep(base, grid, "another name").uid, s.uid) << "the name is not what it trains";
    ExperimentParams other = base;
    other.seed = 1;
    EXPECT_NE(make_sweep(other, grid).uid, s.uid);
    EXPECT_EQ(Sweep::from_json(s.to_json()).uid, s.uid);
    const std::string command = s.cell_command(s.cells[3]);
    EXPECT_NE(command.find("--sweep-cell " + s.uid + ":3"), std::string::npos) << command;

    const std::string script = slurm_script(s, "/tmp/sw", "/opt/cp/context-pythia",
                                            {"--partition=gpu", "--time=01:00:00"});
    EXPECT_NE(script.find("#SBATCH --array=0-7\n"), std::string::npos) << script;
    EXPECT_NE(script.find("#SBATCH --partition=gpu\n"), std::string::npos);
    EXPECT_NE(script.find("#SBATCH --output=/tmp/sw/logs/slurm-%A_%a.out\n"), std::string::npos);
    EXPECT_NE(script.find("/opt/cp/context-pythia sweep run-cell --sweep-dir /tmp/sw --cell \"$SLURM_ARRAY_TASK_ID\""),
              std::string::npos)
        << script;

    EXPECT_NE(error_of([] { parse_grid_axis("widths=1,2"); }).find("no experiment parameter 'widths'"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_grid_axis("db=a.db,b.db"); }).find("says where or how a run is kept"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_grid_axis("context_dim=64,x"); }).find("value 'x'"), std::string::npos);
    EXPECT_NE(error_of([&] { make_sweep(base, {parse_grid_axis("context_dim=30")}); })
                  .find("sweep cell 0 (context_dim=30) is not a valid experiment"),
              std::string::npos);
}

// The workbench's grid box: one axis per line; blank and '#' lines ignored, a bad line named by
// its number; "Write Slurm job" leaves the manifest and an executable script that reads back.
TEST(Sweep, GridLinesAndTheSlurmJobAsTheWorkbenchWritesThem) {
    const auto grid = parse_grid_lines("  context_dim=64,128 \n\n# widths first\nlr=3e-3,1e-2\r\n");
    ASSERT_EQ(grid.size(), 2u);
    EXPECT_EQ(grid[0].key, "context_dim");
    EXPECT_EQ(grid[0].values, (std::vector<std::string>{"64", "128"}));
    EXPECT_EQ(grid[1].key, "phase2.learning_rate");
    EXPECT_EQ(grid[1].values, (std::vector<std::string>{"3e-3", "1e-2"}));
    EXPECT_NE(error_of([] { parse_grid_lines("context_dim=64\nwidth=2"); })
                  .find("grid line 2: --grid: no experiment parameter 'width'"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_grid_lines("\n# nothing\n"); }).find("the grid is empty"),
              std::string::npos);

    cp::test::TempDir dir;
    const Sweep s = make_sweep(tiny(), grid, "widths");
    const auto script = write_slurm_job(s, dir / "job", "/opt/cp/context-pythia", {"--time=00:10:00"});
    EXPECT_EQ(script, dir / "job" / "sweep.sbatch");
    EXPECT_NE(std::filesystem::status(script).permissions() & std::filesystem::perms::owner_exec,
              std::filesystem::perms::none);
    const std::string text = cp::test::read_text(script);
    EXPECT_NE(text.find("#SBATCH --array=0-3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("#SBATCH --time=00:10:00\n"), std::string::npos) << text;
    EXPECT_EQ(read_manifest(dir / "job").uid, s.uid);
    EXPECT_EQ(read_manifest(dir / "job").cells.size(), 4u);
}

namespace {

// Sets `p` from option texts as the command line gives them (each value parsed by its spec's
// type, a repeated option's values collected), as the CLI's params_from does.
template <class P>
P from_options(const std::vector<BasicParamSpec<P>>& schema,
               const std::vector<std::pair<std::string, std::vector<std::string>>>& given) {
    P p;
    for (const auto& option : given) {
        // Not a structured binding: C++17 lambdas cannot capture one (clang refuses).
        const std::string& cli = option.first;
        const std::vector<std::string>& values = option.second;
        const auto it = std::find_if(schema.begin(), schema.end(),
                                     [&](const auto& s) { return s.cli == cli; });
        if (it == schema.end()) throw cp::Error("no option --" + cli);
        if (!it->repeated && it->type != ParamType::text_list) {
            it->set(p, it->parse_text(values.front()));
            continue;
        }
        nlohmann::json all = nlohmann::json::array();
        for (const std::string& v : values) {
            const nlohmann::json item = it->parse_text(v);
            if (item.is_array())
                for (const auto& x : item) all.push_back(x);
            else
                all.push_back(item);
        }
        it->set(p, all);
    }
    return p;
}

template <class P>
void expect_unique_names(const std::vector<BasicParamSpec<P>>& schema) {
    std::set<std::string> keys, clis;
    for (const auto& s : schema) {
        EXPECT_TRUE(keys.insert(s.key).second) << s.key;
        EXPECT_TRUE(clis.insert(s.cli).second) << s.cli;
        EXPECT_TRUE(s.get && s.set) << s.key;
    }
}

}  // namespace

// #29: cache-eval's and bench's options come from parameter schemas made like the experiment's:
// each option reaches its own member (values chosen by hand, every one unlike its default).
TEST(OtherSchemas, CacheEvalOptionsReachTheirMembers) {
    expect_unique_names(cache_eval_schema());
    const CacheEvalParams p = from_options(
        cache_eval_schema(),
        {{"run", {"3", "5"}}, {"seq-length", {"48"}}, {"corpus", {"brown", "nlp"}},
         {"policy", {"full", "int8"}}, {"budgets", {"0.5,0.25"}}, {"calibration-tokens", {"999"}},
         {"prefill-chunk", {"4"}}, {"prefill", {"-1"}}, {"eval-test-chunks", {"7"}},
         {"eval-last-word-passages", {"9"}}, {"kv-lengths", {"16,32"}}, {"batch", {"3"}},
         {"no-anatomy", {"x"}}, {"device", {"cpu"}}, {"threads", {"2"}}, {"db", {"a.db"}}});
    EXPECT_EQ(p.runs, (std::vector<std::int64_t>{3, 5}));
    EXPECT_EQ(p.seq_length, 48);
    EXPECT_EQ(p.corpora, (std::vector<std::string>{"brown", "nlp"}));
    ASSERT_EQ(p.policies.size(), 2u);
    EXPECT_EQ(p.policies[0].kind, cp::model::PolicyKind::full);
    EXPECT_EQ(p.policies[1].kind, cp::model::PolicyKind::int8);
    EXPECT_EQ(p.budgets, (std::vector<double>{0.5, 0.25}));
    EXPECT_EQ(p.calibration_tokens, 999);
    EXPECT_EQ(p.prefill_chunk, 4);
    EXPECT_EQ(p.prefill, -1);
    EXPECT_EQ(p.max_test_chunks, 7);
    EXPECT_EQ(p.max_last_word_passages, 9);
    EXPECT_EQ(p.kv_lengths, (std::vector<std::int64_t>{16, 32}));
    EXPECT_EQ(p.batch, 3);
    EXPECT_FALSE(p.anatomy);
    EXPECT_EQ(p.device, DeviceChoice::cpu);
    EXPECT_EQ(p.threads, 2);
    EXPECT_EQ(p.db, "a.db");
    // The defaults the help shows are the members' initialisers.
    for (const auto& s : cache_eval_schema())
        if (s.cli == "batch") EXPECT_EQ(s.default_text(), "16");
}

TEST(OtherSchemas, BenchOptionsReachTheirMembersAndEachCheckNamesItsOption) {
    expect_unique_names(bench_schema());
    const BenchOptions o = from_options(
        bench_schema(),
        {{"size", {"70m"}}, {"models", {"pythia,pythia-gqa"}}, {"device", {"cpu"}},
         {"dtype", {"bf16"}}, {"batch", {"3"}}, {"seq-length", {"64"}}, {"steps", {"4"}},
         {"warmup", {"0"}}, {"generate-tokens", {"100"}}, {"peak-tflops", {"1.5"}},
         {"threads", {"2"}}, {"attention", {"explicit"}}, {"profile", {"traces"}}});
    EXPECT_EQ(o.size, cp::model::ModelSize::m70);
    EXPECT_EQ(o.models, (std::vector<Design>{Design::pythia, Design::pythia_gqa}));
    EXPECT_EQ(o.device, DeviceChoice::cpu);
    EXPECT_EQ(o.precision, cp::model::Precision::bf16);
    EXPECT_EQ(o.batch, 3);
    EXPECT_EQ(o.seq_length, 64);
    EXPECT_EQ(o.steps, 4);
    EXPECT_EQ(o.warmup_steps, 0);
    EXPECT_EQ(o.generate_tokens, 100);
    EXPECT_EQ(o.peak_tflops, 1.5);
    EXPECT_EQ(o.threads, 2);
    EXPECT_EQ(o.attention, "explicit");
    EXPECT_EQ(o.profile_dir, "traces");
    EXPECT_NO_THROW(o.validate());
    BenchOptions bad;
    bad.steps = 0;
    bad.generate_tokens = 79;
    const std::string why = error_of([&] { bad.validate(); });
    EXPECT_NE(why.find("--steps must be at least 1"), std::string::npos) << why;
    EXPECT_NE(why.find("--generate-tokens must be at least 80"), std::string::npos) << why;
    EXPECT_EQ(why.find("--batch"), std::string::npos) << why;
}

// #29: one name per setting: the last-word passages are eval.max_last_word_passages everywhere
// (run's and cache-eval's --eval-last-word-passages); a record written before the rename, under
// eval.max_lambada_passages, still reads back, so an old database's experiments still join and
// compare.
TEST(OtherSchemas, ARecordWithTheOldNameOfASettingReadsBack) {
    const ExperimentParams old = ExperimentParams::from_json(
        nlohmann::json::parse(R"({"samples": 10, "seq_length": 16, "epochs": 1,
                                  "eval": {"max_lambada_passages": 7}})"));
    EXPECT_EQ(old.eval.max_last_word_passages, 7);
    ExperimentParams now;
    now.samples = 10;
    now.seq_length = 16;
    now.epochs = 1;
    now.eval.max_last_word_passages = 7;
    EXPECT_TRUE(experiment_differences(old, now).empty());
    EXPECT_EQ(now.to_json()["eval"].count("max_lambada_passages"), 0u);
    EXPECT_EQ(now.to_json()["eval"]["max_last_word_passages"], 7);
    // The new name wins over the old when a record has both.
    const ExperimentParams both = ExperimentParams::from_json(nlohmann::json::parse(
        R"({"eval": {"max_lambada_passages": 7, "max_last_word_passages": 9}})"));
    EXPECT_EQ(both.eval.max_last_word_passages, 9);
}
