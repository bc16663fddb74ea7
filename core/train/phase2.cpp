#include "train/phase2.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace cp::train {
namespace F = torch::nn::functional;

namespace {

torch::Device device_of(model::CausalLm& model) {
    return model.parameters().front().device();
}

// Weights and optimizer state such that a kill at any instant leaves a checkpoint whose optimizer
// state exists and belongs to it: the state is written first under a per-epoch name (temporary
// file, then rename), the checkpoint (all-or-nothing) names it, and only then do older states go.
void save_resumable_checkpoint(model::CausalLm& model, torch::optim::Optimizer& optimizer,
                               const std::string& checkpoint_path, std::int64_t epoch,
                               std::int64_t step, double val_ppl) {
    namespace fs = std::filesystem;
    const fs::path checkpoint(checkpoint_path);
    const std::string state_name =
        checkpoint.filename().string() + ".epoch-" + std::to_string(epoch) + ".optimizer.pt";
    const fs::path state = checkpoint.parent_path() / state_name;
    // Serialised in memory, then written by us: libtorch's own file writer aborts the process
    // (it throws from a destructor) when the disk fills up mid-write.
    std::ostringstream bytes;
    torch::save(optimizer, bytes);
    write_file_atomic(state, bytes.str());
    model::save_checkpoint(model, checkpoint_path,
                           {{"cp_epoch", std::to_string(epoch)},
                            {"cp_step", std::to_string(step)},
                            {"cp_val_ppl", std::to_string(val_ppl)},
                            {"cp_optimizer_state", state_name}});
    const std::string prefix = checkpoint.filename().string() + ".";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(checkpoint.parent_path(), ec)) {
        const std::string name = entry.path().filename().string();
        if (name != state_name && name.rfind(prefix, 0) == 0 &&
            name.size() > prefix.size() + 13 &&
            name.compare(name.size() - 13, 13, ".optimizer.pt") == 0)
            fs::remove(entry.path(), ec);
    }
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

Phase2Result run_phase2(model::CausalLm& model, const torch::Tensor& train_chunks,
                        const torch::Tensor& val_chunks, const Phase2Params& params,
                        std::int64_t epochs, std::uint64_t seed, const std::string& checkpoint_path,
                        RunLogger& log, const std::atomic<bool>& stop) {
    using clock = std::chrono::steady_clock;
    torch::manual_seed(seed);
    const torch::Device device = device_of(model);
    const std::vector<torch::Tensor> trainable = trainable_parameters(model);
    torch::optim::AdamW optimizer(
        trainable,
        torch::optim::AdamWOptions(params.learning_rate).weight_decay(params.weight_decay));
    model.train();

    // Resume: the checkpoint's weights and optimizer state, then the epochs after its own.
    std::int64_t first_epoch = 1;
    Phase2Result result;
    if (!params.resume_from.empty()) {
        const model::SafetensorsFile file(params.resume_from);
        const auto epoch = file.metadata().find("cp_epoch");
        if (epoch == file.metadata().end())
            throw Error("'" + params.resume_from +
                        "' is not a Phase 2 checkpoint (no cp_epoch in its metadata)");
        model::load_weights(model, params.resume_from);
        // The checkpoint names its optimizer state (older checkpoints: <checkpoint>.optimizer.pt).
        const auto named = file.metadata().find("cp_optimizer_state");
        const std::string optimizer_state =
            named == file.metadata().end()
                ? params.resume_from + ".optimizer.pt"
                : (std::filesystem::path(params.resume_from).parent_path() / named->second).string();
        if (!std::filesystem::exists(optimizer_state))
            throw Error("optimizer state '" + optimizer_state +
                        "' is missing: it is written beside each checkpoint");
        try {
            torch::load(optimizer, optimizer_state);
        } catch (const c10::Error& e) {
            throw Error("cannot read the optimizer state '" + optimizer_state +
                        "': " + e.what_without_backtrace());
        }
        first_epoch = std::stoll(epoch->second) + 1;
        const auto ppl = file.metadata().find("cp_val_ppl");
        result.best_epoch = first_epoch - 1;
        result.best_val_ppl = ppl == file.metadata().end() ? std::numeric_limits<double>::infinity()
                                                           : std::stod(ppl->second);
        result.best_val_loss = std::log(result.best_val_ppl);
        result.checkpoint = params.resume_from;
        log.message("resuming after epoch " + std::to_string(first_epoch - 1) + " of '" +
                    params.resume_from + "'");
        // Shuffles continue as if never interrupted: the generator advances past earlier epochs.
        for (std::int64_t e = 1; e < first_epoch; ++e)
            torch::randperm(train_chunks.size(0), torch::TensorOptions().dtype(torch::kInt64));
    }

    const std::int64_t n = train_chunks.size(0);
    const std::int64_t steps_per_epoch = (n + params.batch_size - 1) / params.batch_size;
    const std::int64_t total_steps = steps_per_epoch * epochs;
    const std::int64_t seq = train_chunks.size(1) - 1;
    std::int64_t step = steps_per_epoch * (first_epoch - 1), epochs_without_improvement = 0;
    double train_seconds = 0;
    std::int64_t train_tokens = 0;
    // Losses stay on the device and are read back every `readback` steps: on a GPU a read-back
    // waits for the queue to drain, so reading every step would leave it idle between steps.
    const std::int64_t readback =
        params.readback_every > 0 ? params.readback_every : (device.is_cuda() ? 25 : 1);
    struct PendingStep {
        std::int64_t step, tokens;
        torch::Tensor loss, correct;  // on the device, 0-dim
    };
    std::vector<PendingStep> pending;
    for (std::int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
        // Shuffle the training chunks, deterministically for the seed and epoch.
        const torch::Tensor order = torch::randperm(n, torch::TensorOptions().dtype(torch::kInt64));
        // Each batch is sent to the device one step ahead of its use.
        const auto load_batch = [&](std::int64_t b) {
            const torch::Tensor idx = order.narrow(
                0, b * params.batch_size, std::min(params.batch_size, n - b * params.batch_size));
            return batch_to_device(train_chunks.index_select(0, idx), device);  // (B, seq + 1)
        };
        double epoch_loss = 0;
        std::int64_t epoch_correct = 0, epoch_tokens = 0;
        // Reads the pending losses back: one point per step for the curves, and the first
        // non-finite loss ends the run as diverged.
        const auto drain = [&] {
            if (pending.empty()) return;
            std::vector<torch::Tensor> losses, correct;
            for (const auto& s : pending) {
                losses.push_back(s.loss);
                correct.push_back(s.correct);
            }
            const torch::Tensor host_losses =
                torch::stack(losses).to(torch::kCPU, torch::kDouble).contiguous();
            const torch::Tensor host_correct =
                torch::stack(correct).to(torch::kCPU, torch::kInt64).contiguous();
            const double* loss_values = host_losses.data_ptr<double>();
            const std::int64_t* correct_counts = host_correct.data_ptr<std::int64_t>();
            for (std::size_t i = 0; i < pending.size(); ++i) {
                const double loss_value = loss_values[i];
                if (!std::isfinite(loss_value)) {
                    result.status = "diverged";
                    result.message = std::string("the training loss became ") +
                                     (std::isnan(loss_value) ? "NaN" : loss_value > 0 ? "+Inf" : "-Inf") +
                                     " at step " + std::to_string(pending[i].step) + " (epoch " +
                                     std::to_string(epoch) + "): lower the learning rate";
                    break;
                }
                const std::int64_t tokens = pending[i].tokens;
                epoch_correct += correct_counts[i];
                epoch_tokens += tokens;
                epoch_loss += loss_value * static_cast<double>(tokens);
                log.metric("train_loss", pending[i].step, epoch, loss_value);
                log.progress(pending[i].step, total_steps, loss_value, epoch);
            }
            pending.clear();
        };
        const auto epoch_start = clock::now();
        torch::Tensor next = steps_per_epoch > 0 ? load_batch(0) : torch::Tensor();
        for (std::int64_t b = 0; b < steps_per_epoch && result.status == "finished"; ++b) {
            if (stop.load()) {
                result.status = "stopped";
                result.message = "stopped by the user at step " + std::to_string(step);
                break;
            }
            const torch::Tensor batch = next;
            if (b + 1 < steps_per_epoch) next = load_batch(b + 1);
            const torch::Tensor targets = batch.narrow(1, 1, seq);
            const StepOutput out =
                train_step(model, optimizer, batch, trainable, params.clip_grad_norm);
            ++step;
            pending.push_back({step, targets.numel(), out.loss.detach(),
                               (out.logits.detach().argmax(-1) == targets).sum()});
            if (static_cast<std::int64_t>(pending.size()) >= readback) drain();
        }
        drain();  // waits for the device: the epoch's time below is the real time
        const double epoch_seconds =
            std::chrono::duration<double>(clock::now() - epoch_start).count();
        train_seconds += epoch_seconds;
        train_tokens += epoch_tokens;
        if (result.status != "finished" || epoch_tokens == 0) break;

        const LossAndAccuracy val = evaluate_chunks(model, val_chunks, params.batch_size);
        const double val_ppl = std::exp(val.loss);
        result.epochs_run = epoch;
        log.metric("train_loss_epoch", step, epoch, epoch_loss / static_cast<double>(epoch_tokens));
        log.metric("train_accuracy", step, epoch,
                   static_cast<double>(epoch_correct) / static_cast<double>(epoch_tokens));
        log.metric("val_loss", step, epoch, val.loss);
        log.metric("val_ppl", step, epoch, val_ppl);
        log.metric("val_accuracy", step, epoch, val.accuracy);
        log.metric("seconds_per_epoch", step, epoch, epoch_seconds);
        log.metric("train_tokens_per_second", step, epoch,
                   static_cast<double>(epoch_tokens) / epoch_seconds);
        if (result.best_epoch < 0 || val_ppl < result.best_val_ppl) {
            result.best_epoch = epoch;
            result.best_val_loss = val.loss;
            result.best_val_ppl = val_ppl;
            result.best_val_accuracy = val.accuracy;
            epochs_without_improvement = 0;
            if (!checkpoint_path.empty() && checkpoint_path != params.resume_from) {
                save_resumable_checkpoint(model, optimizer, checkpoint_path, epoch, step, val_ppl);
                result.checkpoint = checkpoint_path;
            }
        } else if (++epochs_without_improvement > params.patience) {
            log.message("early stop after epoch " + std::to_string(epoch) +
                        ": validation perplexity " + std::to_string(val_ppl) +
                        " is worse than epoch " + std::to_string(result.best_epoch) + "'s " +
                        std::to_string(result.best_val_ppl));
            break;
        }
    }
    if (train_seconds > 0)
        result.train_tokens_per_second = static_cast<double>(train_tokens) / train_seconds;
    if (result.epochs_run > 0 || train_seconds > 0)
        result.seconds_per_epoch =
            train_seconds / static_cast<double>(std::max<std::int64_t>(1, result.epochs_run));
    // Evaluation uses the best epoch's weights.
    if (!result.checkpoint.empty()) model::load_weights(model, result.checkpoint);
    return result;
}

}  // namespace cp::train
