// Phase 1: the ContextBlock alone, trained for diversity with the OACD loss by parallel
// fixed-point iterations over the training stream (MODEL_SPEC.md §3, the reference algorithm).
#pragma once

#include <atomic>

#include "model/models.h"
#include "experiment/experiment_params.h"
#include "experiment/progress.h"

namespace cp::train {

class ProcessGroup;  // train/distributed.h

struct Phase1Result {
    std::int64_t iterations = 0;       // including iteration 0, which only initialises
    std::int64_t adam_steps = 0;       // one per iteration after 0
    std::int64_t skipped_batches = 0;  // batches whose OACD loss was NaN/Inf (as the reference)
    double convergence_rate = 0;
    double iterate_rank = 0;          // of the last fixed-point iterate (noisy inputs)
    double context_rank = 0;          // of the recurrent contexts of the held-out sample, after
    double context_rank_initial = 0;  // the same before the first step: the untrained block
    double oacd_loss = 0;
    bool converged = false;  // reached the convergence target (else max iterations or stop)
    bool stopped = false;    // the stop flag ended it
    double seconds = 0;
};

// Trains model.context_block on `stream` (N token ids, int64, real text: the Phase 2 training
// chunks) in place, following the reference algorithm of MODEL_SPEC.md §3. `held_out` (token
// ids of held-out text, 1-D) is the fixed sample on which context_rank is measured each
// iteration; empty: not measured. With a process group, each rank fills its batches' rows and
// the sum over the ranks fills them all.
Phase1Result run_phase1(model::ContextPythiaModel& model, const torch::Tensor& stream,
                        const Phase1Params& params, std::uint64_t seed, RunLogger& log,
                        const std::atomic<bool>& stop, const torch::Tensor& held_out = {},
                        ProcessGroup* group = nullptr);

// The effective rank of the contexts Phase 2 reads: the block run as a recurrence (c_0 = 0, no
// noise) over `ids` (1-D, held-out text).
double recurrent_context_rank(model::ContextPythiaModel& model, const torch::Tensor& ids);

}  // namespace cp::train
