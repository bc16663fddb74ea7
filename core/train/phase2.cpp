#include "train/phase2.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "store/metric_names.h"
#include "store/run_store.h"
#include "train/distributed.h"
#include "experiment/plan.h"

namespace cp::train {
namespace F = torch::nn::functional;

namespace {

// Experiment fills the size preset's value in before Phase 2 (ExperimentParams::with_presets).
double learning_rate_of(const Phase2Params& params) {
    if (!params.learning_rate)
        throw Error("internal error: Phase 2 started without a learning rate (with_presets)");
    return *params.learning_rate;
}

torch::Device device_of(model::CausalLm& model) {
    return model.parameters().front().device();
}

// Weights and optimizer state such that a kill at any instant leaves the run pointing at a whole,
// hashed pair: both are written under the epoch's own names (temporary file, then rename), the
// store then records the pair (one transaction), and only then do older epochs' files go. The
// checkpoint is `<stem>.epoch-E.safetensors`, its state `<stem>.epoch-E.optimizer.pt`.
std::string save_resumable_checkpoint(model::CausalLm& model, torch::optim::Optimizer& optimizer,
                                      const std::string& stem_path, std::int64_t epoch,
                                      std::int64_t step, double val_ppl, RunLogger& log,
                                      const std::map<std::string, std::string>& extra) {
    namespace fs = std::filesystem;
    const fs::path stem(stem_path);
    const fs::path folder = stem.parent_path();
    const std::string base = stem.stem().string() + ".epoch-" + std::to_string(epoch);
    const fs::path checkpoint = folder / (base + ".safetensors");
    const fs::path state = folder / (base + ".optimizer.pt");
    log.store().check_unclaimed(log.run_id(), checkpoint);
    log.store().check_unclaimed(log.run_id(), state);
    // Serialised in memory, then written by us: libtorch's own file writer aborts the process
    // (it throws from a destructor) when the disk fills up mid-write.
    std::ostringstream bytes;
    torch::save(optimizer, bytes);
    write_file_atomic(state, bytes.str());
    std::map<std::string, std::string> metadata = extra;
    metadata["cp_epoch"] = std::to_string(epoch);
    metadata["cp_step"] = std::to_string(step);
    metadata["cp_val_ppl"] = std::to_string(val_ppl);
    metadata["cp_optimizer_state"] = state.filename().string();
    model::save_checkpoint(model, checkpoint, metadata);
    log.store().record_files(log.run_id(), {{store::file_role::checkpoint, checkpoint},
                                            {store::file_role::optimizer_state, state}});
    const std::string prefix = stem.stem().string() + ".epoch-";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
        const fs::path name = entry.path().filename();
        if (name.string().rfind(prefix, 0) == 0 && name != checkpoint.filename() &&
            name != state.filename() &&
            (name.extension() == ".safetensors" || name.extension() == ".pt"))
            fs::remove(entry.path(), ec);
    }
    return checkpoint.string();
}

}  // namespace

std::vector<torch::Tensor> trainable_parameters(model::CausalLm& model) {
    std::vector<torch::Tensor> trainable;
    for (auto& p : model.parameters())
        if (p.requires_grad()) trainable.push_back(p);
    return trainable;
}

torch::Tensor batch_to_device(const torch::Tensor& batch, const torch::Device& device) {
    return device.is_cuda() ? batch.pin_memory().to(device, /*non_blocking=*/true)
                            : batch.to(device);
}

StepOutput train_step(model::CausalLm& model, torch::optim::Optimizer& optimizer,
                      const torch::Tensor& batch, const std::vector<torch::Tensor>& trainable,
                      double clip_grad_norm) {
    const std::int64_t seq = batch.size(1) - 1;
    optimizer.zero_grad();
    StepOutput out;
    out.logits = model.forward(batch.narrow(1, 0, seq));  // (B, seq, V)
    out.loss = F::cross_entropy(out.logits.reshape({-1, out.logits.size(2)}).to(torch::kFloat32),
                                batch.narrow(1, 1, seq).reshape({-1}));
    out.loss.backward();
    if (clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(trainable, clip_grad_norm);
    optimizer.step();
    return out;
}

LossAndAccuracy evaluate_chunks(model::CausalLm& model, const torch::Tensor& chunks,
                                std::int64_t batch_size) {
    torch::NoGradGuard no_grad;
    model.eval();
    const torch::Device device = device_of(model);
    double loss_sum = 0;
    std::int64_t correct = 0, tokens = 0;
    for (std::int64_t start = 0; start < chunks.size(0); start += batch_size) {
        const torch::Tensor batch =
            chunks.narrow(0, start, std::min(batch_size, chunks.size(0) - start)).to(device);
        const torch::Tensor inputs = batch.narrow(1, 0, batch.size(1) - 1),
                            targets = batch.narrow(1, 1, batch.size(1) - 1);
        // float32 logits for the loss, also under bf16 autocast.
        const torch::Tensor logits = model.forward(inputs).to(torch::kFloat32);  // (B, T, V)
        loss_sum += F::cross_entropy(logits.reshape({-1, logits.size(2)}), targets.reshape({-1}),
                                     F::CrossEntropyFuncOptions().reduction(torch::kSum))
                        .item<double>();
        correct += (logits.argmax(-1) == targets).sum().item<std::int64_t>();
        tokens += targets.numel();
    }
    model.train();
    LossAndAccuracy r;
    r.tokens = tokens;
    if (tokens > 0) {
        r.loss = loss_sum / static_cast<double>(tokens);
        r.accuracy = static_cast<double>(correct) / static_cast<double>(tokens);
    }
    return r;
}

DataParallelStep data_parallel_step(model::CausalLm& model, torch::optim::Optimizer& optimizer,
                                    const torch::Tensor& local_batch, std::int64_t global_rows,
                                    const std::vector<torch::Tensor>& trainable,
                                    double clip_grad_norm, ProcessGroup& group) {
    const std::int64_t seq = local_batch.size(1) - 1;
    optimizer.zero_grad();
    const torch::Tensor targets = local_batch.narrow(1, 1, seq);
    const torch::Tensor logits = model.forward(local_batch.narrow(1, 0, seq)).to(torch::kFloat32);
    // This rank's part of the global mean: its rows' summed loss over the global batch's tokens.
    const torch::Tensor part =
        F::cross_entropy(logits.reshape({-1, logits.size(2)}), targets.reshape({-1}),
                         F::CrossEntropyFuncOptions().reduction(torch::kSum)) /
        static_cast<double>(global_rows * seq);
    part.backward();
    // One set of collectives: every gradient, the loss and the correct count.
    std::vector<torch::Tensor> summed;
    for (const torch::Tensor& p : trainable) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        summed.push_back(p.grad());
    }
    DataParallelStep out;
    out.loss = part.detach().to(torch::kFloat32).reshape({1}).clone();
    out.correct = (logits.detach().argmax(-1) == targets).sum().to(torch::kFloat32).reshape({1});
    summed.push_back(out.loss);
    summed.push_back(out.correct);
    group.allreduce_sum(summed);
    if (clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(trainable, clip_grad_norm);
    optimizer.step();
    out.loss = out.loss.squeeze();
    out.correct = out.correct.squeeze().to(torch::kInt64);
    return out;
}

namespace {

// One Phase 2 run, as small steps: resume, epochs (steps with deferred loss read-back), validation,
// early stopping and the best checkpoint.
class Phase2Run {
  public:
    Phase2Run(model::CausalLm& model, const torch::Tensor& train_chunks,
              const torch::Tensor& val_chunks, const Phase2Params& params, std::int64_t epochs,
              const std::string& checkpoint_path, RunLogger& log, const std::atomic<bool>& stop,
              ProcessGroup* group)
        : model_(model),
          train_(train_chunks),
          val_(val_chunks),
          params_(params),
          epochs_(epochs),
          checkpoint_path_(checkpoint_path),
          log_(log),
          stop_(stop),
          device_(device_of(model)),
          trainable_(trainable_parameters(model)),
          optimizer_(
              trainable_,
              torch::optim::AdamWOptions(learning_rate_of(params)).weight_decay(params.weight_decay)),
          steps_per_epoch_((train_chunks.size(0) + params.batch_size - 1) / params.batch_size),
          // Losses stay on the device and are read back every `readback_` steps: on a GPU a
          // read-back waits for the queue to drain, leaving it idle between steps.
          readback_(params.readback_every > 0 ? params.readback_every
                                              : (device_.is_cuda() ? 25 : 1)),
          group_(group) {
        // Every rank starts from rank 0's weights (the same seed gives the same, but a rank
        // that loaded another file must not drift apart).
        if (group_) group_->broadcast_from_rank0(trainable_);
    }

    Phase2Result run() {
        model_.train();
        std::int64_t first_epoch = 1;
        if (!params_.resume_from.empty()) first_epoch = resume();
        step_ = steps_per_epoch_ * (first_epoch - 1);
        for (std::int64_t epoch = first_epoch; epoch <= epochs_; ++epoch) {
            const EpochTotals totals = train_epoch(epoch);
            if (result_.status != store::RunStatus::finished || totals.tokens == 0) break;
            if (!end_epoch(epoch, totals)) break;
        }
        return finish();
    }

  private:
    struct PendingStep {
        std::int64_t step, tokens;
        torch::Tensor loss, correct;  // on the device, 0-dim
    };
    struct EpochTotals {
        double loss = 0, seconds = 0;
        std::int64_t correct = 0, tokens = 0;
    };

    // The checkpoint's weights and optimizer state, checked against the run that recorded them
    // (plan_for checked them before any work; this is the read); returns the first epoch still
    // to run. The pair is copied into this run's folder, so this run owns what it continues.
    std::int64_t resume() {
        const ResumeFiles files = verified_resume_files(log_.store(), params_.resume_from);
        const std::string from = files.checkpoint.path.string();
        const model::SafetensorsFile file(from);
        const auto epoch = file.metadata().find("cp_epoch");
        if (epoch == file.metadata().end())
            throw Error("'" + from + "' is not a Phase 2 checkpoint (no cp_epoch in its metadata)");
        model::load_weights(model_, from);
        load_optimizer_state(file, files);
        const std::int64_t first_epoch = std::stoll(epoch->second) + 1;
        const auto ppl = file.metadata().find("cp_val_ppl");
        result_.best_epoch = first_epoch - 1;
        result_.best_val_ppl = ppl == file.metadata().end()
                                   ? std::numeric_limits<double>::infinity()
                                   : std::stod(ppl->second);
        result_.best_val_loss = std::log(result_.best_val_ppl);
        log_.message("resuming after epoch " + std::to_string(first_epoch - 1) + " of '" + from +
                     "'");
        const auto step = file.metadata().find("cp_step");
        if (!checkpoint_path_.empty())
            result_.checkpoint = save_resumable_checkpoint(
                model_, optimizer_, checkpoint_path_, first_epoch - 1,
                step == file.metadata().end() ? 0 : std::stoll(step->second),
                result_.best_val_ppl, log_, params_.checkpoint_metadata);
        // Shuffles continue as if never interrupted: the generator advances past earlier epochs.
        for (std::int64_t e = 1; e < first_epoch; ++e)
            torch::randperm(train_.size(0), torch::TensorOptions().dtype(torch::kInt64));
        return first_epoch;
    }

    void load_optimizer_state(const model::SafetensorsFile& file, const ResumeFiles& files) {
        // The recorded state; a checkpoint from before schema 6 names it in its metadata.
        std::string state;
        if (files.optimizer_state) {
            state = files.optimizer_state->path.string();
        } else {
            const auto named = file.metadata().find("cp_optimizer_state");
            const std::string from = files.checkpoint.path.string();
            state = named == file.metadata().end()
                        ? from + ".optimizer.pt"
                        : (files.checkpoint.path.parent_path() / named->second).string();
        }
        if (!std::filesystem::exists(state))
            throw Error("optimizer state '" + state +
                        "' is missing: it is written beside each checkpoint");
        try {
            torch::load(optimizer_, state);
        } catch (const c10::Error& e) {
            throw Error("cannot read the optimizer state '" + state +
                        "': " + e.what_without_backtrace());
        }
    }

    // The epoch's training steps, shuffled deterministically for the seed and epoch; each batch
    // is sent to the device one step ahead of its use.
    EpochTotals train_epoch(std::int64_t epoch) {
        const std::int64_t n = train_.size(0), seq = train_.size(1) - 1;
        const torch::Tensor order = torch::randperm(n, torch::TensorOptions().dtype(torch::kInt64));
        const auto load_batch = [&](std::int64_t b) {
            const torch::Tensor idx =
                order.narrow(0, b * params_.batch_size,
                             std::min(params_.batch_size, n - b * params_.batch_size));
            return batch_to_device(train_.index_select(0, idx), device_);  // (B, seq + 1)
        };
        EpochTotals totals;
        const auto start = std::chrono::steady_clock::now();
        torch::Tensor next = steps_per_epoch_ > 0 ? load_batch(0) : torch::Tensor();
        for (std::int64_t b = 0;
             b < steps_per_epoch_ && result_.status == store::RunStatus::finished; ++b) {
            if (stop_.load()) {
                result_.status = store::RunStatus::stopped;
                result_.message = "stopped by the user at step " + std::to_string(step_);
                break;
            }
            const torch::Tensor batch = next;
            if (b + 1 < steps_per_epoch_) next = load_batch(b + 1);
            ++step_;
            if (group_) {
                // This rank's share of the global batch; the step sums over the ranks.
                const auto [begin, end] = group_->shard(batch.size(0));
                const DataParallelStep out = data_parallel_step(
                    model_, optimizer_, batch.narrow(0, begin, end - begin), batch.size(0),
                    trainable_, params_.clip_grad_norm, *group_);
                pending_.push_back({step_, batch.size(0) * seq, out.loss, out.correct});
            } else {
                const torch::Tensor targets = batch.narrow(1, 1, seq);
                const StepOutput out =
                    train_step(model_, optimizer_, batch, trainable_, params_.clip_grad_norm);
                pending_.push_back({step_, targets.numel(), out.loss.detach(),
                                    (out.logits.detach().argmax(-1) == targets).sum()});
            }
            if (static_cast<std::int64_t>(pending_.size()) >= readback_) drain(epoch, totals);
        }
        drain(epoch, totals);  // waits for the device: the epoch's time below is the real time
        totals.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        train_seconds_ += totals.seconds;
        train_tokens_ += totals.tokens;
        return totals;
    }

    // Reads the pending losses back: one point per step for the curves; the first non-finite
    // loss ends the run as diverged.
    void drain(std::int64_t epoch, EpochTotals& totals) {
        if (pending_.empty()) return;
        std::vector<torch::Tensor> losses, correct;
        for (const auto& s : pending_) {
            losses.push_back(s.loss);
            correct.push_back(s.correct);
        }
        const torch::Tensor host_losses =
            torch::stack(losses).to(torch::kCPU, torch::kDouble).contiguous();
        const torch::Tensor host_correct =
            torch::stack(correct).to(torch::kCPU, torch::kInt64).contiguous();
        const double* loss_values = host_losses.data_ptr<double>();
        const std::int64_t* correct_counts = host_correct.data_ptr<std::int64_t>();
        for (std::size_t i = 0; i < pending_.size(); ++i) {
            const double loss = loss_values[i];
            if (!std::isfinite(loss)) {
                result_.status = store::RunStatus::diverged;
                result_.message = std::string("the training loss became ") +
                                  (std::isnan(loss) ? "NaN"
                                   : loss > 0       ? "+Inf"
                                                    : "-Inf") +
                                  " at step " + std::to_string(pending_[i].step) + " (epoch " +
                                  std::to_string(epoch) + "): lower the learning rate";
                break;
            }
            totals.correct += correct_counts[i];
            totals.tokens += pending_[i].tokens;
            totals.loss += loss * static_cast<double>(pending_[i].tokens);
            log_.metric(names::train_loss, pending_[i].step, epoch, loss);
            log_.progress(pending_[i].step, steps_per_epoch_ * epochs_, loss, epoch);
        }
        pending_.clear();
    }

    // Validation, the epoch's metrics, the best checkpoint; false when early stopping ends it.
    bool end_epoch(std::int64_t epoch, const EpochTotals& t) {
        const LossAndAccuracy val = evaluate_chunks(model_, val_, params_.batch_size);
        const double val_ppl = std::exp(val.loss);
        result_.epochs_run = epoch;
        const double tokens = static_cast<double>(t.tokens);
        log_.metric(names::train_loss_epoch, step_, epoch, t.loss / tokens);
        log_.metric(names::train_accuracy, step_, epoch, static_cast<double>(t.correct) / tokens);
        log_.metric(names::val_loss, step_, epoch, val.loss);
        log_.metric(names::val_ppl, step_, epoch, val_ppl);
        log_.metric(names::val_accuracy, step_, epoch, val.accuracy);
        log_.metric(names::seconds_per_epoch, step_, epoch, t.seconds);
        log_.metric(names::train_tokens_per_second, step_, epoch, tokens / t.seconds);
        if (result_.best_epoch < 0 || val_ppl < result_.best_val_ppl) {
            result_.best_epoch = epoch;
            result_.tokens_to_best = train_tokens_;
            result_.best_val_loss = val.loss;
            result_.best_val_ppl = val_ppl;
            result_.best_val_accuracy = val.accuracy;
            epochs_without_improvement_ = 0;
            save_best(epoch, val_ppl);
            return true;
        }
        if (++epochs_without_improvement_ <= params_.patience) return true;
        log_.message("early stop after epoch " + std::to_string(epoch) +
                     ": validation perplexity " + std::to_string(val_ppl) +
                     " is worse than epoch " + std::to_string(result_.best_epoch) + "'s " +
                     std::to_string(result_.best_val_ppl));
        return false;
    }

    void save_best(std::int64_t epoch, double val_ppl) {
        if (checkpoint_path_.empty()) return;
        result_.checkpoint = save_resumable_checkpoint(model_, optimizer_, checkpoint_path_, epoch,
                                                       step_, val_ppl, log_,
                                                       params_.checkpoint_metadata);
    }

    Phase2Result finish() {
        result_.tokens_trained = train_tokens_;
        if (train_seconds_ > 0)
            result_.train_tokens_per_second = static_cast<double>(train_tokens_) / train_seconds_;
        if (result_.epochs_run > 0 || train_seconds_ > 0)
            result_.seconds_per_epoch =
                train_seconds_ / static_cast<double>(std::max<std::int64_t>(1, result_.epochs_run));
        // Evaluation uses the best epoch's weights.
        if (!result_.checkpoint.empty()) model::load_weights(model_, result_.checkpoint);
        return result_;
    }

    model::CausalLm& model_;
    const torch::Tensor& train_;
    const torch::Tensor& val_;
    const Phase2Params& params_;
    std::int64_t epochs_;
    std::string checkpoint_path_;
    RunLogger& log_;
    const std::atomic<bool>& stop_;
    torch::Device device_;
    std::vector<torch::Tensor> trainable_;
    torch::optim::AdamW optimizer_;
    std::int64_t steps_per_epoch_, readback_;
    std::int64_t step_ = 0, epochs_without_improvement_ = 0, train_tokens_ = 0;
    ProcessGroup* group_ = nullptr;  // data-parallel ranks; null for one process
    double train_seconds_ = 0;
    std::vector<PendingStep> pending_;
    Phase2Result result_;
};

}  // namespace

Phase2Result run_phase2(model::CausalLm& model, const torch::Tensor& train_chunks,
                        const torch::Tensor& val_chunks, const Phase2Params& params,
                        std::int64_t epochs, std::uint64_t seed, const std::string& checkpoint_path,
                        RunLogger& log, const std::atomic<bool>& stop, ProcessGroup* group) {
    torch::manual_seed(seed);
    return Phase2Run(model, train_chunks, val_chunks, params, epochs, checkpoint_path, log, stop,
                     group)
        .run();
}

}  // namespace cp::train
