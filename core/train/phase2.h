// Phase 2: language-model training of either model (MODEL_SPEC.md §4): AdamW, cross-entropy,
// per-step and per-epoch metrics, early stopping on validation perplexity, best checkpoint.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "model/models.h"
#include "experiment/experiment_params.h"
#include "experiment/progress.h"

namespace cp::train {

class ProcessGroup;  // train/distributed.h

struct Phase2Result {
    store::RunStatus status = store::RunStatus::finished;  // finished, stopped, diverged
    std::string message;                                   // why, for stopped/diverged
    std::int64_t epochs_run = 0;
    std::int64_t best_epoch = -1;  // 1-based; -1: no epoch completed
    double best_val_loss = 0, best_val_ppl = 0, best_val_accuracy = 0;
    double train_tokens_per_second = 0;
    double seconds_per_epoch = 0;  // training steps of one epoch, validation excluded
    // Target tokens the optimizer stepped on in this run (a resumed run counts from its resume).
    std::int64_t tokens_trained = 0;
    // Of those, the tokens up to the end of the best epoch: what the evaluated weights saw.
    std::int64_t tokens_to_best = 0;
    std::string checkpoint;        // the best epoch's weights (safetensors)
};

// chunks: (n, seq_length + 1) int64 token ids of real text; inputs [:-1], targets [1:].
// checkpoint_path names the run's checkpoints: "<run folder>/pythia.safetensors" writes each best
// epoch E as pythia.epoch-E.safetensors with pythia.epoch-E.optimizer.pt, recorded in the store
// as the run's files (result.checkpoint is the last); empty writes none.
Phase2Result run_phase2(model::CausalLm& model, const torch::Tensor& train_chunks,
                        const torch::Tensor& val_chunks, const Phase2Params& params,
                        std::int64_t epochs, std::uint64_t seed, const std::string& checkpoint_path,
                        RunLogger& log, const std::atomic<bool>& stop,
                        ProcessGroup* group = nullptr);

// The parameters that still train (Context-Pythia's frozen ContextBlock excluded).
std::vector<torch::Tensor> trainable_parameters(model::CausalLm& model);

// A (B, seq + 1) batch of token ids on `device`; on CUDA copied from pinned memory without
// blocking, so the copy overlaps the kernels already queued.
torch::Tensor batch_to_device(const torch::Tensor& batch, const torch::Device& device);

struct StepOutput {
    torch::Tensor loss;    // float32 cross-entropy, 0-dim, on the device (not read back)
    torch::Tensor logits;  // (B, seq, V)
};
// One optimisation step on a batch already on the model's device (inputs [:-1], targets [1:]):
// the step Phase 2 runs and `bench` times. The loss is float32 also under bf16 autocast.
StepOutput train_step(model::CausalLm& model, torch::optim::Optimizer& optimizer,
                      const torch::Tensor& batch, const std::vector<torch::Tensor>& trainable,
                      double clip_grad_norm);

// The same step as one rank's share of a global batch of `global_rows` rows (train/
// distributed.h): the loss of its rows over the global batch's target tokens, the gradients (and
// that loss, and the rows' correct predictions) summed over the ranks in buckets, then the clip
// and the step every rank takes alike. `loss` is the global batch's mean; `correct` its count of
// right predictions.
struct DataParallelStep {
    torch::Tensor loss, correct;  // 0-dim, on the device
};
DataParallelStep data_parallel_step(model::CausalLm& model, torch::optim::Optimizer& optimizer,
                                    const torch::Tensor& local_batch, std::int64_t global_rows,
                                    const std::vector<torch::Tensor>& trainable,
                                    double clip_grad_norm, ProcessGroup& group);

struct LossAndAccuracy {
    double loss = 0, accuracy = 0;
    std::int64_t tokens = 0;
};
// Mean cross-entropy and token accuracy over chunks, without gradient.
LossAndAccuracy evaluate_chunks(model::CausalLm& model, const torch::Tensor& chunks,
                                std::int64_t batch_size);

}  // namespace cp::train
