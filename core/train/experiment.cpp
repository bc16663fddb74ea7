#include "train/experiment.h"
#include "train/diversity.h"

#include <chrono>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "data/bpe_tokenizer.h"
#include "data/data_paths.h"
#include "data/last_word.h"
#include "data/token_cache.h"
#include "model/autocast.h"
#include "model/checkpoint.h"
#include "model/models.h"
#include "store/run_store.h"
#include "train/evaluate.h"
#include "train/phase1.h"
#include "train/phase2.h"

namespace cp::train {
namespace fs = std::filesystem;

struct Experiment::Data {
    std::vector<std::int64_t> train_stream, test_stream;
    std::vector<LastWordItem> last_words;
    std::vector<std::int64_t> prompt;  // real text for the cache measurement
    std::string tokenizer_description;
    std::int64_t tokenizer_vocab = 0;
    // The held-out tokens whose context vectors the diversity view shows, with each token's
    // text (the hover) and its share of the training tokens (a colouring).
    std::vector<std::int64_t> diversity_ids;
    std::vector<std::string> diversity_tokens;
    std::vector<double> diversity_frequencies;
};

std::string choose_device(const std::string& requested) {
    const bool cuda = torch::cuda::is_available();
    if (requested == "cuda" && !cuda)
        throw Error(
            "device 'cuda' was asked for but no CUDA GPU is available to this libtorch (use "
            "--device cpu)");
    if (requested == "cpu") return "cpu";
    return cuda ? "cuda" : "cpu";
}

Experiment::Experiment(ExperimentParams params)
    : params_(std::move(params)), data_(std::make_unique<Data>()) {
    params_.validate();
    const model::ModelConfig config =
        model::preset(params_.size == "70m" ? "pythia-70m" : "pythia-tiny");
    choose_device(params_.device);  // a missing GPU is a parameter error, before any work

    data::BpeTokenizer tokenizer = data::BpeTokenizer::load(
        params_.tokenizer.empty() ? data::default_tokenizer_path() : fs::path(params_.tokenizer));
    if (tokenizer.vocab_size() > static_cast<std::uint32_t>(config.vocab_rows))
        throw Error("tokenizer: its vocabulary has " + std::to_string(tokenizer.vocab_size()) +
                    " tokens, more than the models' " + std::to_string(config.vocab_rows) +
                    " embedding rows");
    data_->tokenizer_description = tokenizer.description();
    data_->tokenizer_vocab = tokenizer.vocab_size();
    data::PrepareOptions options;
    options.cache_dir = data::default_cache_dir();
    for (const std::string& corpus : params_.corpora) {
        const data::TokenizedCorpus tc =
            data::TokenizedCorpus::prepare(data::resolve_corpus(corpus), tokenizer, options);
        for (data::TokenId id : tc.stream(data::Split::train, tokenizer.end_of_text()))
            data_->train_stream.push_back(id);
        for (data::TokenId id : tc.stream(data::Split::test, tokenizer.end_of_text()))
            data_->test_stream.push_back(id);
        // Last-word passages from the held-out documents' text (decoded from their tokens).
        for (std::size_t d = 0; d < tc.documents().size(); ++d) {
            if (tc.documents()[d].split != data::Split::test) continue;
            const auto ids = tc.document_tokens(d);
            for (const auto& passage : data::last_word_passages(tokenizer.decode(ids))) {
                if (static_cast<std::int64_t>(data_->last_words.size()) >=
                    params_.eval.max_lambada_passages)
                    break;
                LastWordItem item;
                for (auto id : tokenizer.encode(passage.context)) item.context.push_back(id);
                for (auto id : tokenizer.encode(" " + passage.word)) item.target.push_back(id);
                if (static_cast<std::int64_t>(item.context.size() + item.target.size()) <=
                    config.max_positions)
                    data_->last_words.push_back(std::move(item));
            }
        }
    }
    {
        const std::size_t n = std::min<std::size_t>(512, data_->test_stream.size());
        data_->diversity_ids.assign(data_->test_stream.begin(), data_->test_stream.begin() + n);
        std::map<std::int64_t, double> count;  // of the sampled ids only
        for (std::int64_t id : data_->diversity_ids) count[id] = 0;
        for (std::int64_t id : data_->train_stream)
            if (const auto it = count.find(id); it != count.end()) it->second += 1;
        const double total =
            static_cast<double>(std::max<std::size_t>(1, data_->train_stream.size()));
        for (std::int64_t id : data_->diversity_ids) {
            data_->diversity_tokens.push_back(tokenizer.decode({static_cast<data::TokenId>(id)}));
            data_->diversity_frequencies.push_back(count[id] / total);
        }
    }
    const std::int64_t seq = *params_.seq_length, samples = *params_.samples;
    budget_.train_tokens = static_cast<std::int64_t>(data_->train_stream.size());
    budget_.test_tokens = static_cast<std::int64_t>(data_->test_stream.size());
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
    data_->prompt.assign(
        data_->test_stream.begin(),
        data_->test_stream.begin() + std::min<std::int64_t>(256, budget_.test_tokens));
}

Experiment::~Experiment() = default;

namespace {

torch::Tensor chunks_of(const std::vector<std::int64_t>& stream, std::int64_t count,
                        std::int64_t width) {
    return torch::tensor(std::vector<std::int64_t>(stream.begin(), stream.begin() + count * width),
                         torch::kInt64)
        .view({count, width});  // (count, seq_length + 1)
}

// A failed allocation (CPU or CUDA) as the user's to fix, with the sizes that caused it; empty
// for any other error. The tensors of the failed step are freed by then, so the process (and the
// workbench) goes on.
std::string out_of_memory_advice(const std::exception& e, const std::string& stage,
                                 const ExperimentParams& p) {
    const std::string what = e.what();
    if (what.find("can't allocate memory") == std::string::npos &&
        what.find("out of memory") == std::string::npos &&
        what.find("std::bad_alloc") == std::string::npos)
        return "";
    const std::string first_line = what.substr(0, what.find('\n'));
    return "out of memory in " + stage + " (batch size " + std::to_string(p.phase2.batch_size) +
           " x seq_length " + std::to_string(*p.seq_length) + ", Phase 1 batch " +
           std::to_string(p.phase1.batch_size) +
           " tokens): lower the batch size or seq_length. Detail: " + first_line;
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

}  // namespace

ExperimentSummary Experiment::run(ExperimentObserver* observer, const std::atomic<bool>& stop) {
    const auto started = std::chrono::steady_clock::now();
    const ExperimentParams& p = params_;
    const std::int64_t seq = *p.seq_length, samples = *p.samples;
    ExperimentSummary summary;
    summary.device = choose_device(p.device);
    const torch::Device device(summary.device == "cuda" ? torch::kCUDA : torch::kCPU);
    if (p.threads > 0) torch::set_num_threads(static_cast<int>(p.threads));

    store::RunStore store(p.db.empty() ? default_database_path() : p.db);
    const std::string name = p.name.empty()
                                 ? p.size + " " + std::to_string(samples) + "x" +
                                       std::to_string(seq) + " seed " + std::to_string(p.seed)
                                 : p.name;
    nlohmann::json recorded = p.to_json();
    recorded["tokenizer_description"] = data_->tokenizer_description;
    recorded["device_used"] = summary.device;
    summary.experiment_id = store.create_experiment(name, recorded.dump());
    const fs::path checkpoints =
        (p.checkpoint_dir.empty() ? data::data_dir() / "runs" : fs::path(p.checkpoint_dir)) /
        ("experiment-" + std::to_string(summary.experiment_id));
    std::error_code ec;
    fs::create_directories(checkpoints, ec);
    if (ec)
        throw Error("cannot create the checkpoint folder '" + checkpoints.string() +
                    "': " + ec.message());

    // Data: Phase 2 chunks (last 10% validate), Phase 1's stream, held-out test chunks.
    const torch::Tensor chunks = chunks_of(data_->train_stream, samples, seq + 1);
    const std::int64_t val_count = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::llround(samples * p.phase2.validation_fraction)));
    const torch::Tensor train_chunks = chunks.narrow(0, 0, samples - val_count);
    const torch::Tensor val_chunks = chunks.narrow(0, samples - val_count, val_count);
    const torch::Tensor phase1_stream =
        torch::tensor(std::vector<std::int64_t>(data_->train_stream.begin(),
                                                data_->train_stream.begin() + samples * seq),
                      torch::kInt64);
    const std::int64_t test_count =
        std::min<std::int64_t>(p.eval.max_test_chunks, budget_.test_tokens / (seq + 1));
    const torch::Tensor test_chunks = chunks_of(data_->test_stream, test_count, seq + 1);

    const std::string tiny_or_70m = p.size == "70m" ? "70m" : "tiny";
    // Context vectors of held-out text for the workbench's diversity view, beside the checkpoint.
    const auto save_diversity = [&](model::ContextPythiaModel& net, const std::string& ckpt,
                                    const std::string& stage) {
        write_context_diversity(
            context_diversity(net, data_->diversity_ids, data_->diversity_tokens,
                              data_->diversity_frequencies, stage),
            diversity_path(ckpt));
    };
    const auto run_model = [&](const std::string& model_name, std::shared_ptr<model::CausalLm> net,
                               const std::string& label) {
        ModelSummary s;
        s.model = model_name;
        s.parameters = model::count_parameters(*net);
        s.run_id =
            store.create_run(summary.experiment_id, model_name, "phase2", summary.device, label);
        if (observer) observer->on_run_started(s.run_id, model_name, "phase2");
        RunLogger log(store, observer, s.run_id, model_name, "phase2");
        try {
            log.result("parameters_total", static_cast<double>(s.parameters.total));
            log.result("parameters_trainable", static_cast<double>(s.parameters.trainable));
            const std::string ckpt = (checkpoints / (model_name + ".safetensors")).string();
            Phase2Result p2;
            {
                // Phase 2 and evaluation only: the diversity sample is computed in float32.
                const model::AutocastScope autocast(device, p.precision);
                p2 = run_phase2(*net, train_chunks, val_chunks, p.phase2, *p.epochs, p.seed, ckpt,
                                log, stop);
            }
            fill_summary(s, p2);
            store.set_text(s.run_id, "checkpoint_path", p2.checkpoint);
            if (model_name == "context-pythia" && !p2.checkpoint.empty())
                save_diversity(static_cast<model::ContextPythiaModel&>(*net), p2.checkpoint,
                               "after Phase 2");
            log.result("epochs_run", static_cast<double>(p2.epochs_run));
            log.result("best_epoch", static_cast<double>(p2.best_epoch));
            log.result("best_val_ppl", p2.best_val_ppl);
            log.result("best_val_loss", p2.best_val_loss);
            log.result("best_val_accuracy", p2.best_val_accuracy);
            log.result("train_tokens_per_second", p2.train_tokens_per_second);
            log.result("seconds_per_epoch", p2.seconds_per_epoch);
            if (p2.status == "finished" && !p.skip_evaluation) {
                const model::AutocastScope eval_autocast(device, p.precision);
                RunLogger eval_log(store, observer, s.run_id, model_name, "evaluation");
                const EvalResult e =
                    evaluate_model(*net, test_chunks, data_->last_words, data_->prompt, p.eval,
                                   p.phase2.batch_size, eval_log, stop);
                s.test_ppl = e.test_ppl;
                s.test_accuracy = e.test_accuracy;
                s.last_word_accuracy = e.last_word_accuracy;
                s.last_word_ppl = e.last_word_ppl;
                s.last_word_passages = e.last_word_passages;
                s.generation_tokens_per_second = e.generation_tokens_per_second;
                s.kv = e.kv;
                if (stop.load()) s.status = "stopped";
            }
            log.result("wall_seconds", log.elapsed_seconds());
            store.finish_run(s.run_id, s.status, p2.message);
        } catch (const std::exception& e) {
            const std::string oom = out_of_memory_advice(e, "Phase 2 of " + model_name, p);
            store.finish_run(s.run_id, "failed", oom.empty() ? e.what() : oom);
            if (observer) observer->on_run_finished(s.run_id, "failed");
            if (!oom.empty()) throw Error(oom);
            throw;
        }
        if (observer) observer->on_run_finished(s.run_id, s.status);
        summary.models.push_back(s);
        if (s.status != "finished") summary.status = s.status;
    };

    // Phase 1, then Phase 2 of Context-Pythia on the frozen ContextBlock.
    if (p.models != ModelChoice::pythia) {
        auto net = model::make_model(model::preset("context-pythia-" + tiny_or_70m), p.seed);
        net->to(device);
        auto& context = static_cast<model::ContextPythiaModel&>(*net);
        std::string label;
        if (!p.phase2.resume_from.empty()) {
            label = "resumed from " + p.phase2.resume_from;
        } else if (!p.context_block_from.empty()) {
            // Phase 1 ran earlier: its checkpoint holds the trained ContextBlock (and the same
            // seed's initial language-model weights).
            model::load_weights(*net, p.context_block_from);
            label = "ContextBlock from " + p.context_block_from;
        } else if (p.ablation_untrained_context_block) {
            label = "ablation: untrained ContextBlock (no Phase 1)";
        } else {
            const std::int64_t run_id =
                store.create_run(summary.experiment_id, "context-pythia", "phase1", summary.device);
            summary.phase1_run_id = run_id;
            if (observer) observer->on_run_started(run_id, "context-pythia", "phase1");
            RunLogger log(store, observer, run_id, "context-pythia", "phase1");
            try {
                const Phase1Result r =
                    run_phase1(context, phase1_stream.to(device), p.phase1, p.seed, log, stop);
                summary.phase1_iterations = r.iterations;
                summary.phase1_convergence_rate = r.convergence_rate;
                summary.phase1_effective_rank = r.effective_rank;
                summary.phase1_converged = r.converged;
                log.result("iterations", static_cast<double>(r.iterations));
                log.result("final_convergence_rate", r.convergence_rate);
                log.result("effective_rank", r.effective_rank);
                log.result(
                    "effective_rank_pct",
                    100.0 * r.effective_rank / static_cast<double>(context.config().context_dim));
                log.result("converged", r.converged ? 1.0 : 0.0);
                log.result("seconds", r.seconds);
                log.result("wall_seconds", log.elapsed_seconds());
                const std::string ckpt =
                    (checkpoints / "context-pythia-phase1.safetensors").string();
                model::save_checkpoint(*net, ckpt, {{"cp_phase", "phase1"}});
                store.set_text(run_id, "checkpoint_path", ckpt);
                save_diversity(context, ckpt, "after Phase 1");
                const std::string status = r.stopped ? "stopped" : "finished";
                store.finish_run(run_id, status,
                                 r.stopped ? "stopped by the user"
                                 : r.converged
                                     ? ""
                                     : "reached max iterations before the convergence target");
                if (observer) observer->on_run_finished(run_id, status);
                if (r.stopped) summary.status = "stopped";
            } catch (const std::exception& e) {
                const std::string oom = out_of_memory_advice(e, "Phase 1", p);
                store.finish_run(run_id, "failed", oom.empty() ? e.what() : oom);
                if (observer) observer->on_run_finished(run_id, "failed");
                if (!oom.empty()) throw Error(oom);
                throw;
            }
        }
        // Phase 2 trains the language model only, whichever way the block came to be.
        context.freeze_context_block();
        if (summary.status == "finished" && !p.phase1_only) run_model("context-pythia", net, label);
    }
    if (p.models != ModelChoice::context_pythia && summary.status == "finished" && !p.phase1_only) {
        auto net = model::make_model(model::preset("pythia-" + tiny_or_70m), p.seed);
        net->to(device);
        run_model("pythia", net,
                  p.phase2.resume_from.empty() ? "" : "resumed from " + p.phase2.resume_from);
    }
    store.flush();
    summary.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary;
}

}  // namespace cp::train
