// One recorder for every run of an experiment: it creates the run, hands the step a logger,
// and records how it ended. The one copy of the failure handling lives here: an exception marks
// the run failed (an allocation failure is recognised by its type and told as the user's to fix)
// and is rethrown as cp::Error; the observer hears of every start and end.
#pragma once

#include <functional>
#include <string>

#include "store/run_store.h"
#include "experiment/progress.h"

namespace cp::train {

struct RunOutcome {
    store::RunStatus status = store::RunStatus::finished;
    std::string message;  // why, when not finished
};

class Recorder {
  public:
    // `sizes` goes into an out-of-memory message: "batch size 32 x seq_length 128, ...".
    Recorder(store::RunStore& store, ExperimentObserver* observer, std::string sizes)
        : store_(store), observer_(observer), sizes_(std::move(sizes)) {}

    struct Recorded {
        std::int64_t run_id = 0;
        RunOutcome outcome;
    };
    // Creates `run`, calls body(logger) and finishes the run with the outcome it returns.
    Recorded record(const store::NewRun& run, const std::function<RunOutcome(RunLogger&)>& body);

    store::RunStore& store() { return store_; }
    ExperimentObserver* observer() { return observer_; }

  private:
    store::RunStore& store_;
    ExperimentObserver* observer_;
    std::string sizes_;
};

// The text of a failed allocation (CPU or CUDA), or "" when `e` is another error: by type
// (c10::OutOfMemoryError, std::bad_alloc), with libtorch 1.13's CPU allocator message as the
// fallback (it throws a plain c10::Error).
std::string out_of_memory_detail(const std::exception& e);

}  // namespace cp::train
