// Phase 1: the ContextBlock alone, trained for diversity with the OACD loss by parallel
// fixed-point iterations over the training stream (MODEL_SPEC.md §3, the reference algorithm).
#pragma once

#include <atomic>

#include "model/models.h"
#include "train/experiment_params.h"
#include "train/progress.h"

namespace cp::train {

struct Phase1Result {
    std::int64_t iterations = 0;
    double convergence_rate = 0;
    double effective_rank = 0;
    double oacd_loss = 0;
    bool converged = false;  // reached the convergence target (else max iterations or stop)
    bool stopped = false;    // the stop flag ended it
    double seconds = 0;
};

// Trains model.context_block on `stream` (N token ids, int64, real text) in place.
Phase1Result run_phase1(model::ContextPythiaModel& model, const torch::Tensor& stream,
                        const Phase1Params& params, std::uint64_t seed, RunLogger& log,
                        const std::atomic<bool>& stop);

}  // namespace cp::train
