// Training on real text with the tiny presets: Phase 1 by its stop rule, Phase 2 beating the
// unigram entropy for both models, determinism for a seed, and the stop flag.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.h"
#include "data/corpus.h"
#include "data/splits.h"
#include "store/run_store.h"
#include "test_support.h"
#include "train/benchmark.h"
#include "train/context_measures.h"
#include "train/experiment.h"
#include "train/job.h"
#include "train/seed_group.h"
#include "train/sweep_runner.h"
#include "train/phase1.h"
#include "train/recorder.h"

using namespace cp::train;

namespace {

// Brown's training (or held-out test) stream of real text, as the experiment builds it.
std::vector<std::int64_t> brown_ids(std::size_t count, cp::data::Split split) {
    auto tok = cp::test::gpt2_tokenizer();
    const cp::data::Corpus brown = cp::data::read_corpus(cp::test::brown_dir());
    std::vector<std::int64_t> ids;
    for (std::size_t d = 0; d < brown.documents.size() && ids.size() < count; ++d) {
        if (cp::data::split_of_document(d) != split) continue;
        for (auto id : tok.encode(brown.documents[d].text)) ids.push_back(id);
        ids.push_back(*tok.end_of_text());
    }
    if (ids.size() > count) ids.resize(count);
    return ids;
}
std::vector<std::int64_t> brown_train_ids(std::size_t count) {
    return brown_ids(count, cp::data::Split::train);
}
std::vector<std::int64_t> brown_test_ids(std::size_t count) {
    return brown_ids(count, cp::data::Split::test);
}

// Unigram entropy (nats) of the tokens a run trains on: what a model that ignores context achieves.
double unigram_entropy(const std::vector<std::int64_t>& ids) {
    std::map<std::int64_t, double> counts;
    for (auto id : ids) counts[id] += 1;
    double h = 0;
    for (const auto& [id, c] : counts) h -= c / ids.size() * std::log(c / ids.size());
    return h;
}

ExperimentParams tiny_params(const cp::test::TempDir& dir) {
    ExperimentParams p;
    p.samples = 120;
    p.seq_length = 32;
    p.epochs = 1;
    p.models = {cp::model::Design::context_pythia, cp::model::Design::pythia};
    p.db = (dir / "w.db").string();
    p.checkpoint_dir = (dir / "runs").string();
    p.skip_evaluation = true;
    p.phase1.max_iterations = 5;
    return p;
}

class Collector : public ExperimentObserver {
  public:
    std::vector<cp::store::MetricPoint> points;
    void on_metric(const cp::store::MetricPoint& p) override { points.push_back(p); }
};

}  // namespace

namespace {

struct Phase1Run {
    Phase1Result result;
    std::vector<double> convergence, context_rank, loss;  // per iteration, as logged
    std::vector<torch::Tensor> block;                     // the block's weights after
};

// Phase 1 of a fresh tiny Context-Pythia (seed 3) on Brown training text, logging into a store.
Phase1Run phase1_of_tiny(double learning_rate, std::int64_t iterations) {
    auto net = cp::model::make_model(cp::model::preset("context-pythia-tiny"), 3);
    auto& model = static_cast<cp::model::ContextPythiaModel&>(*net);
    const torch::Tensor stream = torch::tensor(brown_train_ids(8192), torch::kInt64);
    const torch::Tensor held_out = torch::tensor(brown_test_ids(1024), torch::kInt64);
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const auto run =
        store.create_run({store.create_experiment("p1", "{}"), cp::model::Design::context_pythia,
                          cp::store::Phase::phase1, "cpu", "", std::nullopt});
    RunLogger log(store, nullptr, run, cp::model::Design::context_pythia, cp::store::Phase::phase1);
    Phase1Params params;
    params.max_iterations = iterations;
    params.learning_rate = learning_rate;
    params.convergence_target = 1.0;  // run every iteration, so the two runs line up
    std::atomic<bool> stop{false};
    Phase1Run out;
    out.result = run_phase1(model, stream, params, 3, log, stop, held_out);
    for (const auto& p : store.metrics(run, "convergence_rate")) out.convergence.push_back(p.value);
    for (const auto& p : store.metrics(run, "context_rank")) out.context_rank.push_back(p.value);
    for (const auto& p : store.metrics(run, "oacd_loss")) out.loss.push_back(p.value);
    for (const auto& p : model.context_block->parameters()) out.block.push_back(p.clone());
    return out;
}

}  // namespace

// MODEL_SPEC §3, the reference algorithm: iteration 0 only initialises (no forward pass, no
// Adam step), every later iteration takes one step; context_rank is measured on held-out text
// from iteration 0 (the untrained block) on, iterate measures from iteration 1.
TEST(Phase1, FollowsTheReferenceIterationScheme) {
    const Phase1Run one = phase1_of_tiny(0.003, 1);
    const auto fresh = cp::model::make_model(cp::model::preset("context-pythia-tiny"), 3);
    const auto fresh_block =
        static_cast<cp::model::ContextPythiaModel&>(*fresh).context_block->parameters();
    ASSERT_EQ(one.block.size(), fresh_block.size());
    for (std::size_t i = 0; i < one.block.size(); ++i)
        EXPECT_TRUE(torch::equal(one.block[i], fresh_block[i])) << "iteration 0 took a step";
    EXPECT_TRUE(one.loss.empty());
    ASSERT_EQ(one.context_rank.size(), 1u);
    // The untrained block's rank, measured independently here on the same held-out text.
    const double untrained =
        recurrent_context_rank(static_cast<cp::model::ContextPythiaModel&>(*fresh),
                               torch::tensor(brown_test_ids(1024), torch::kInt64));
    EXPECT_NEAR(one.context_rank[0], untrained, 1e-9);

    const Phase1Run ten = phase1_of_tiny(0.003, 10);
    EXPECT_EQ(ten.result.iterations, 10);
    EXPECT_EQ(ten.result.adam_steps, 9);  // at most 99 Adam steps in 100 iterations
    EXPECT_EQ(ten.loss.size(), 9u);
    EXPECT_EQ(ten.context_rank.size(), 10u);
    EXPECT_EQ(ten.context_rank[0], one.context_rank[0]);  // same seed, same untrained block
}

// What Phase 1's updates do, against the same 30 iterations with learning rate 0 (the block held
// fixed, the fixed-point iteration alone), same seed and text. Measured at the tiny width: the
// loss 0.04 vs 0.45 at iteration 29, convergence 0.15 vs 0.12. Which way the context rank moves
// is not asserted (#26): over three seeds it went -1.8, +3.4 and +5.5 points, no direction the
// seeds resolve (README, "Phase 1 hardly moves the rank"); a fixed block keeps its rank exactly.
TEST(Phase1, UpdatesHoldDownTheLossTheFixedPointDrivesUp) {
    const Phase1Run trained = phase1_of_tiny(0.003, 30), fixed = phase1_of_tiny(0.0, 30);
    ASSERT_EQ(trained.loss.size(), 29u);
    ASSERT_EQ(fixed.loss.size(), 29u);
    // The fixed point's forming drives OACD up (its centroid term grows); Adam holds it down.
    EXPECT_GT(fixed.loss.back(), fixed.loss.front() + 0.1);
    EXPECT_LT(trained.loss.back(), fixed.loss.back() - 0.1);
    // More tokens settle when the block is trained for it.
    EXPECT_GT(trained.convergence.back(), fixed.convergence.back());
    EXPECT_EQ(fixed.context_rank.back(),
              fixed.context_rank.front());  // a fixed block, a fixed rank
    std::cout << "context rank at width 32: " << trained.context_rank.front() << " untrained -> "
              << trained.context_rank.back() << " after 30 iterations; OACD " << trained.loss.back()
              << " vs " << fixed.loss.back() << " with the block fixed\n";
}

TEST(Phase1, AdamOnOacdWithInputsHeldFixedLowersTheLossAndTheCentroid) {
    // Phase 1's loss moves with the fixed point; with its inputs held, each step must descend.
    auto net = cp::model::make_model(cp::model::preset("context-pythia-tiny"), 3);
    auto& model = static_cast<cp::model::ContextPythiaModel&>(*net);
    const torch::Tensor ids = torch::tensor(brown_train_ids(4096), torch::kInt64);
    torch::Tensor e;
    {
        torch::NoGradGuard no_grad;
        e = model.embed(ids.view({1, -1}))[0];
    }
    torch::manual_seed(1);
    const torch::Tensor previous = torch::randn({4096, 32}) * 0.5;
    auto block = model.context_block;
    torch::optim::Adam adam(block->parameters(), torch::optim::AdamOptions(0.003));
    double first = 0, last = 0, first_centroid = 0, last_centroid = 0;
    for (int it = 0; it < 30; ++it) {
        adam.zero_grad();
        const OacdLoss l = oacd_loss(block->step(previous, e), 0.1);
        l.loss.backward();
        adam.step();
        if (it == 0) first = l.loss.item<double>(), first_centroid = l.centroid.item<double>();
        last = l.loss.item<double>();
        last_centroid = l.centroid.item<double>();
    }
    EXPECT_LT(last, first);
    EXPECT_LT(last_centroid, first_centroid);
}

TEST(Phase2, BothModelsBeatTheUnigramEntropyOfTheirTrainingTokens) {
    cp::test::TempDir dir;
    ExperimentParams p = tiny_params(dir);
    // About eight minutes on two cores: the tiny models still compute 50304-way softmaxes.
    p.samples = 4000;
    p.epochs = 4;
    p.phase2.learning_rate = 1e-2;  // the tiny models learn fast; the reference 1e-4 suits 70M
    p.phase2.batch_size = 32;
    p.phase1.max_iterations = 20;
    Experiment experiment(p);
    std::atomic<bool> stop{false};
    const ExperimentSummary s = experiment.run(nullptr, stop);
    // The unigram entropy of Brown's training split (1.14 M tokens, 7.30 nats). The plug-in entropy
    // of the run's own 119k training tokens (7.17 nats) understates a unigram model's: rare tokens
    // look likelier in a small sample than they are.
    const auto all_train = brown_train_ids(2'000'000);
    const double h = unigram_entropy(all_train);
    ASSERT_EQ(s.models.size(), 2u);
    for (const auto& m : s.models) {
        EXPECT_EQ(m.status, cp::store::RunStatus::finished) << m.model;
        EXPECT_LT(m.best_val_loss, h)
            << m.model << ": validation loss " << m.best_val_loss << " nats, unigram entropy " << h;
        std::cout << m.model << ": best validation loss " << m.best_val_loss
                  << " nats vs unigram entropy " << h << "\n";
    }
}

TEST(Experiment, SameSeedGivesTheSameLossesOnCpu) {
    const auto losses = [](std::uint64_t seed) {
        cp::test::TempDir dir;
        ExperimentParams p = tiny_params(dir);
        p.seed = seed;
        Experiment e(p);
        Collector c;
        std::atomic<bool> stop{false};
        e.run(&c, stop);
        std::vector<double> out;
        for (const auto& point : c.points)
            if (point.name == "train_loss" || point.name == "oacd_loss") out.push_back(point.value);
        return out;
    };
    const auto a = losses(7), b = losses(7), c = losses(8);
    ASSERT_GT(a.size(), 10u);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(Experiment, StopFlagEndsTheRunAsStoppedWithItsPointsKept) {
    cp::test::TempDir dir;
    ExperimentParams p = tiny_params(dir);
    p.models = {cp::model::Design::pythia};
    p.samples = 600;
    p.epochs = 5;
    p.phase2.batch_size = 8;
    Experiment e(p);
    std::atomic<bool> stop{false};
    struct StopAfter : ExperimentObserver {
        std::atomic<bool>* stop;
        int seen = 0;
        void on_metric(const cp::store::MetricPoint& point) override {
            if (point.name == "train_loss" && ++seen == 5) stop->store(true);
        }
    } observer;
    observer.stop = &stop;
    const ExperimentSummary s = e.run(&observer, stop);
    EXPECT_EQ(s.status, cp::store::RunStatus::stopped);
    cp::store::RunStore store(p.db);
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, cp::store::RunStatus::stopped);
    EXPECT_EQ(store.metrics(runs[0].id, "train_loss").size(), 5u);
    EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(Experiment, EachInvalidParameterIsRefusedByNameAndNothingIsWritten) {
    cp::test::TempDir dir;
    const auto refused = [&](const std::function<void(ExperimentParams&)>& change,
                             const std::string& expected) {
        ExperimentParams p = tiny_params(dir);
        change(p);
        try {
            Experiment e(p);
            ADD_FAILURE() << "accepted; expected: " << expected;
        } catch (const cp::Error& err) {
            EXPECT_NE(std::string(err.what()).find(expected), std::string::npos) << err.what();
        }
    };
    refused([](auto& p) { p.samples.reset(); }, "samples is required");
    refused([](auto& p) { p.seq_length.reset(); }, "seq_length is required");
    refused([](auto& p) { p.epochs.reset(); }, "epochs is required");
    refused([](auto& p) { p.epochs = 0; }, "epochs must be positive");
    refused([](auto& p) { p.samples = 10'000'000; }, "samples: the corpus (");
    // Size, device and precision are enums: a value outside them cannot be held, and is refused
    // where text becomes parameters (a record, the CLI, the form), naming the choices.
    for (const auto& refusal : std::vector<std::pair<const char*, const char*>>{
             {R"({"size": "7b"})", "size must be tiny or 70m (got '7b')"},
             {R"({"device": "tpu"})", "device must be auto, cpu or cuda"},
             {R"({"precision": "fp8"})", "precision must be fp32 or bf16 (got 'fp8')"}}) {
        const std::string why = cp::test::error_of(
            [&] { ExperimentParams::from_json(nlohmann::json::parse(refusal.first)); });
        EXPECT_NE(why.find(refusal.second), std::string::npos) << why;
    }
    refused([](auto& p) { p.phase2.learning_rate = -1; }, "phase2.learning_rate must be positive");
    refused([](auto& p) { p.phase2.learning_rate = 1e39; },
            "phase2.learning_rate 1e+39 is beyond float32's range");
    refused([](auto& p) { p.phase2.readback_every = -1; }, "readback_every must be 0");
    refused([](auto& p) { p.phase1.convergence_target = 1.5; },
            "phase1.convergence_target must be in (0, 1]");
    refused([](auto& p) { p.phase2.validation_fraction = 1.0; },
            "phase2.validation_fraction must be between 0 and 1");
    refused([](auto& p) { p.corpora = {"/nonexistent/corpus"}; },
            "corpus not found: '/nonexistent/corpus'");
    EXPECT_FALSE(std::filesystem::exists(dir / "w.db"));
    EXPECT_FALSE(std::filesystem::exists(dir / "runs"));
}

TEST(Experiment, AskedSamplesBeyondTheCorpusSayHowManyAreAllowed) {
    cp::test::TempDir dir;
    ExperimentParams p = tiny_params(dir);
    p.samples = 10'000'000;
    try {
        Experiment e(p);
        FAIL();
    } catch (const cp::Error& err) {
        // Brown's training stream counted here: whole chunks of seq_length + 1 = 33 tokens.
        const std::size_t tokens = brown_train_ids(std::numeric_limits<std::size_t>::max()).size();
        EXPECT_NE(
            std::string(err.what())
                .find("allows at most " + std::to_string(tokens / 33) + " samples of 33 tokens"),
            std::string::npos)
            << err.what();
    }
}

TEST(Phase2, ResumingFromACheckpointContinuesExactlyAsAnUninterruptedRun) {
    cp::test::TempDir dir;
    const auto epoch2_losses = [&](const std::string& db, std::int64_t epochs,
                                   const std::string& resume, std::string* checkpoint) {
        ExperimentParams p = tiny_params(dir);
        p.db = (dir / db).string();
        p.models = {cp::model::Design::pythia};
        p.samples = 200;
        p.epochs = epochs;
        p.phase2.learning_rate = 3e-3;
        p.phase2.patience = 5;
        p.phase2.resume_from = resume;
        Experiment e(p);
        Collector c;
        std::atomic<bool> stop{false};
        const ExperimentSummary s = e.run(&c, stop);
        if (checkpoint) *checkpoint = s.models.at(0).checkpoint;
        std::vector<double> out;
        for (const auto& point : c.points)
            if (point.name == "train_loss" && point.epoch == 2) out.push_back(point.value);
        return out;
    };
    const auto uninterrupted = epoch2_losses("a.db", 2, "", nullptr);
    std::string checkpoint;
    EXPECT_TRUE(epoch2_losses("b.db", 1, "", &checkpoint).empty());
    ASSERT_FALSE(checkpoint.empty());
    // Resumed in the database that recorded the checkpoint (it is checked against that record).
    const auto resumed = epoch2_losses("b.db", 2, checkpoint, nullptr);
    ASSERT_FALSE(uninterrupted.empty());
    EXPECT_EQ(resumed, uninterrupted);
}

// Losses read back every N steps (what a GPU needs) give the same per-step curve as every step.
TEST(Phase2, ReadingLossesBackEveryFewStepsGivesTheSameCurve) {
    const auto curve = [](std::int64_t readback) {
        cp::test::TempDir dir;
        ExperimentParams p = tiny_params(dir);
        p.models = {cp::model::Design::pythia};
        p.phase2.batch_size = 8;  // 108 training chunks: 14 steps, the last one short
        p.phase2.readback_every = readback;
        Experiment e(p);
        Collector c;
        std::atomic<bool> stop{false};
        EXPECT_EQ(e.run(&c, stop).status, cp::store::RunStatus::finished);
        std::vector<std::pair<std::int64_t, double>> out;
        for (const auto& point : c.points)
            if (point.name == "train_loss" || point.name == "train_loss_epoch")
                out.emplace_back(point.step, point.value);
        return out;
    };
    const auto every_step = curve(1), every_five = curve(5);
    ASSERT_EQ(every_step.size(), 15u);  // 14 steps and the epoch's mean
    EXPECT_EQ(every_five, every_step);
}

// An absurd learning rate: the run ends as diverged, naming the step, even when the loss is only
// read back every few steps; the database stays consistent.
TEST(Phase2, AnAbsurdLearningRateEndsTheRunAsDivergedAtItsStep) {
    cp::test::TempDir dir;
    ExperimentParams p = tiny_params(dir);
    p.models = {cp::model::Design::pythia};
    p.phase2.batch_size = 8;
    p.phase2.learning_rate = 1e6;
    p.phase2.readback_every = 3;
    Experiment e(p);
    std::atomic<bool> stop{false};
    const ExperimentSummary s = e.run(nullptr, stop);
    EXPECT_EQ(s.status, cp::store::RunStatus::diverged);
    cp::store::RunStore store(p.db);
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, cp::store::RunStatus::diverged);
    EXPECT_NE(runs[0].error.find("the training loss became"), std::string::npos) << runs[0].error;
    EXPECT_NE(runs[0].error.find(" at step "), std::string::npos) << runs[0].error;
    // Every point before the divergence is kept, and none after it.
    const auto points = store.metrics(runs[0].id, "train_loss");
    for (const auto& point : points) EXPECT_TRUE(std::isfinite(point.value));
    EXPECT_NE(runs[0].error.find("at step " + std::to_string(points.size() + 1)), std::string::npos)
        << runs[0].error << " after " << points.size() << " finite points";
    EXPECT_EQ(store.integrity_check(), "ok");
}

// bf16 autocast is a recorded run parameter, and it is really on: the KV cache measured from the
// cache tensors holds bf16, half the float32 bytes.
TEST(Experiment, Bf16AutocastTrainsIsRecordedAndHalvesTheMeasuredCache) {
    cp::test::TempDir dir;
    ExperimentParams p = tiny_params(dir);
    p.models = {cp::model::Design::pythia};
    p.precision = cp::model::Precision::bf16;
    p.skip_evaluation = false;
    p.eval.max_test_chunks = 4;
    p.eval.max_last_word_passages = 4;
    p.eval.kv_lengths = {64};
    Experiment e(p);
    std::atomic<bool> stop{false};
    const ExperimentSummary s = e.run(nullptr, stop);
    ASSERT_EQ(s.status, cp::store::RunStatus::finished);
    ASSERT_EQ(s.models.size(), 1u);
    EXPECT_TRUE(std::isfinite(s.models[0].best_val_ppl));
    EXPECT_TRUE(std::isfinite(s.models[0].test_ppl));
    ASSERT_EQ(s.models[0].kv.size(), 1u);
    // Last word: at most the 4 passages asked for, with n and a 95% interval around the accuracy.
    EXPECT_GT(s.models[0].last_word_passages, 0);
    EXPECT_LE(s.models[0].last_word_passages, 4);
    EXPECT_LE(s.models[0].last_word_accuracy_low, s.models[0].last_word_accuracy);
    EXPECT_GE(s.models[0].last_word_accuracy_high, s.models[0].last_word_accuracy);
    EXPECT_GT(s.models[0].last_word_accuracy_high, 0.0);  // never empty, even at 0 correct
    // bf16: layers x 2 (K, V) x layer width x 2 bytes, from the preset (float32 would be 4).
    const cp::model::ModelConfig tiny = cp::model::preset("pythia-tiny");
    EXPECT_DOUBLE_EQ(s.models[0].kv[0].kv_bytes_per_token(),
                     static_cast<double>(tiny.layers * 2 * tiny.layer_width() * 2));
    cp::store::RunStore store(p.db);
    const auto recorded = nlohmann::json::parse(store.experiment(s.experiment_id).params_json);
    EXPECT_EQ(recorded.at("precision"), "bf16");
    // #28: it trains as fp32 does (the 2.4+ autocast API on libtorch 2.x, the older one on 1.13):
    // the same steps in float32 reach a best validation loss within 0.05 nats of bf16's.
    cp::test::TempDir dir32;
    ExperimentParams p32 = p;
    p32.precision = cp::model::Precision::fp32;
    p32.db = (dir32 / "w.db").string();
    p32.checkpoint_dir = (dir32 / "runs").string();
    Experiment e32(p32);
    const ExperimentSummary s32 = e32.run(nullptr, stop);
    ASSERT_EQ(s32.status, cp::store::RunStatus::finished);
    EXPECT_NEAR(std::log(s.models[0].best_val_ppl), std::log(s32.models[0].best_val_ppl), 0.05);
}

// #28 item 5, on a GPU (skipped without one): bf16 autocast through the 2.4+ API on CUDA trains
// as float32 does: the same steps reach a best validation loss within 0.05 nats.
TEST(Experiment, Bf16TrainsLikeFp32_CUDA) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    std::atomic<bool> stop{false};
    std::map<std::string, double> best;
    for (const char* precision : {"bf16", "fp32"}) {
        cp::test::TempDir dir;
        ExperimentParams p = tiny_params(dir);
        p.models = {cp::model::Design::pythia};
        p.device = DeviceChoice::cuda;
        p.precision = *cp::model::precision_from_key(precision);
        const ExperimentSummary s = Experiment(p).run(nullptr, stop);
        ASSERT_EQ(s.status, cp::store::RunStatus::finished) << precision;
        best[precision] = std::log(s.models.at(0).best_val_ppl);
    }
    EXPECT_NEAR(best["bf16"], best["fp32"], 0.05);
}

// #28 item 5, on a GPU: the KV bytes counted from the cache tensors are what the CUDA caching
// allocator gained while the cache filled (bench's two columns), within the allocator's rounding
// (512 bytes a block) and the prompt's ids.
TEST(Bench, KvBytesFromTheTensorsMatchTheAllocator_CUDA) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    cp::train::BenchOptions o;
    o.device = DeviceChoice::cuda;
    o.models = {cp::model::Design::pythia};
    o.batch = 2;
    o.seq_length = 32;
    o.steps = 1;
    o.warmup_steps = 1;
    o.generate_tokens = 64;  // a power of two: the cache's capacity is its length
    const nlohmann::json g = cp::train::run_benchmark(o)["models"]["pythia"]["generation"];
    const double tensors = g["kv_allocated_bytes_tensors"].get<double>();
    const double allocator =
        g["kv_bytes_per_token_allocator"].get<double>() * g["cache_tokens"].get<double>();
    ASSERT_GT(tensors, 0);
    EXPECT_GE(allocator, tensors);
    EXPECT_LE(allocator, tensors + 512.0 * 16 + 4096);
}

// ---- the recorder: the one copy of the failure handling ----

TEST(Recorder, OutOfMemoryIsRecognisedByItsTypeNotByItsText) {
    EXPECT_NE(cp::train::out_of_memory_detail(std::bad_alloc()), "");
    const c10::OutOfMemoryError cuda(c10::SourceLocation{"alloc", "CUDACachingAllocator.cpp", 1},
                                     "CUDA out of memory. Tried to allocate 2.00 GiB");
    EXPECT_NE(cp::train::out_of_memory_detail(cuda).find("CUDA out of memory"), std::string::npos);
    // Other errors are not out-of-memory, whatever their text says.
    EXPECT_EQ(cp::train::out_of_memory_detail(std::runtime_error("out of memory")), "");
    EXPECT_EQ(cp::train::out_of_memory_detail(cp::Error("the run is out of memory")), "");
}

TEST(Recorder, AFailedStepMarksItsRunFailedWithTheWayOutAndAnOutcomeIsRecorded) {
    cp::test::TempDir dir;
    cp::store::RunStore store((dir / "w.db").string());
    const auto e = store.create_experiment("x", "{}");
    cp::train::Recorder recorder(store, nullptr, "batch size 2000 x seq_length 256");
    const cp::store::NewRun run{
        e, cp::model::Design::pythia, cp::store::Phase::phase2, "cpu", "", std::nullopt};
    const std::string m = cp::test::error_of([&] {
        recorder.record(run, [](RunLogger&) -> cp::train::RunOutcome { throw std::bad_alloc(); });
    });
    EXPECT_NE(m.find("out of memory in Phase 2 of pythia (batch size 2000 x seq_length 256): "
                     "lower the batch size or seq_length"),
              std::string::npos)
        << m;
    const auto failed = store.runs().back();
    EXPECT_EQ(failed.status, cp::store::RunStatus::failed);
    EXPECT_EQ(failed.error, m);
    const auto done = recorder.record(run, [](RunLogger& log) {
        log.result("best_val_ppl", 42.0);
        return cp::train::RunOutcome{cp::store::RunStatus::diverged, "the loss became NaN"};
    });
    EXPECT_EQ(store.run(done.run_id).status, cp::store::RunStatus::diverged);
    EXPECT_EQ(store.run(done.run_id).error, "the loss became NaN");
    EXPECT_EQ(store.results(done.run_id).at(0).second, 42.0);
}

// MODEL_SPEC §5's FLOPs per token, worked out by hand from the tiny presets' widths at seq 128.
TEST(Benchmark, TrainingFlopsPerTokenCountMatmulWeightsOnlyAndFrozenOnesAtFour) {
    // pythia-tiny: width 64, 2 layers, MLP 256. Per layer qkv 64x192 + dense 64x64 + MLP 2 x
    // 64x256 = 49,152; head 64 x 50,304 = 3,219,456; trained 3,317,760 x 6; attention
    // 12 x 2 x 64 x 128 = 196,608.
    auto pythia = cp::model::make_model(cp::model::preset("pythia-tiny"), 0);
    EXPECT_DOUBLE_EQ(cp::train::training_flops_per_token(*pythia, 128), 6.0 * 3'317'760 + 196'608);
    // context-pythia-tiny: layers at width 32, MLP 128: per layer 32x96 + 32x32 + 2 x 32x128 =
    // 12,288; head 32 x 50,304 = 1,609,728; trained 1,634,304 x 6; the frozen ContextBlock's
    // Linear (32 + 64) x 32 = 3,072 x 4; attention 12 x 2 x 32 x 128 = 98,304.
    auto context = cp::model::make_model(cp::model::preset("context-pythia-tiny"), 0);
    static_cast<cp::model::ContextPythiaModel&>(*context).freeze_context_block();
    EXPECT_DOUBLE_EQ(cp::train::training_flops_per_token(*context, 128),
                     6.0 * 1'634'304 + 4.0 * 3'072 + 98'304);
}

// DATA.md "Splits", end to end: 120 samples of 33 tokens, 10% (12 chunks) validating, so Phase 1
// reads the 108 training chunks' 3,564 tokens and not one token more.
TEST(Experiment, Phase1ReadsTheTrainingChunksOnly) {
    cp::test::TempDir dir;
    ExperimentParams p = tiny_params(dir);
    p.models = {cp::model::Design::context_pythia};
    p.phase1_only = true;
    p.phase1.max_iterations = 2;
    Experiment e(p);
    std::atomic<bool> stop{false};
    const ExperimentSummary s = e.run(nullptr, stop);
    ASSERT_TRUE(s.phase1_run_id.has_value());
    cp::store::RunStore store(p.db);
    std::map<std::string, double> results;
    for (const auto& [k, v] : store.results(*s.phase1_run_id)) results[k] = v;
    EXPECT_EQ(results.at("phase1_tokens"), 108.0 * 33.0);
    // The record says where a default is not the reference's.
    const auto params = nlohmann::json::parse(store.experiment(s.experiment_id).params_json);
    EXPECT_NE(params["reference_notes"]["phase1.batch_size"].get<std::string>().find("5000"),
              std::string::npos);
}

// #29: the workbench runs every kind of job through one interface; a refusal is the outcome
// (failed, naming the problem) and nothing is stored: the database is not even created.
TEST(Jobs, ARefusedExperimentIsAFailedOutcomeAndStoresNothing) {
    cp::test::TempDir dir;
    ExperimentParams p;  // samples, seq_length and epochs left out: no defaults
    p.db = (dir / "w.db").string();
    std::atomic<bool> stop{false};
    const JobOutcome out = experiment_job(p, LaunchMode::full_comparison)->run(nullptr, stop);
    EXPECT_EQ(out.status, cp::store::RunStatus::failed);
    EXPECT_NE(out.message.find("samples is required"), std::string::npos) << out.message;
    EXPECT_EQ(out.experiment_id, -1);
    EXPECT_FALSE(std::filesystem::exists(p.db));
}

// What each kind's outcome says, from summaries made by hand: the seeds, cells and policies that
// did not finish, one line each, and the experiment to show.
TEST(Jobs, OutcomesNameWhatDidNotFinish) {
    GroupSummary g;
    g.status = cp::store::RunStatus::failed;
    SeedOutcome ok;
    ok.seed = 1;
    ok.summary = ExperimentSummary{};
    ok.summary->experiment_id = 4;
    SeedOutcome bad;
    bad.seed = 2;
    bad.error = "diverged at step 3";
    g.seeds = {ok, bad};
    const JobOutcome seeds = outcome_of(g);
    EXPECT_EQ(seeds.status, cp::store::RunStatus::failed);
    EXPECT_EQ(seeds.message, "seed 2: diverged at step 3");
    EXPECT_EQ(seeds.experiment_id, 4);  // the last seed that stored something

    SweepOutcome s;
    s.status = cp::store::RunStatus::failed;
    s.ran = 3;
    s.skipped = 1;
    s.failed = 1;
    s.experiments = {7, 9};
    s.errors = "cell 2 (seed=2): out of memory\n";
    const JobOutcome sweep = outcome_of(s);
    EXPECT_EQ(sweep.message,
              "3 cells run, 1 skipped (finished before), 1 failed\ncell 2 (seed=2): out of memory");
    EXPECT_EQ(sweep.experiment_id, 9);
}
