#include "train/recorder.h"

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <new>

#include "common/error.h"

namespace cp::train {

std::string out_of_memory_detail(const std::exception& e) {
    const std::string what = e.what();
    const std::string first_line = what.substr(0, what.find('\n'));
    if (dynamic_cast<const c10::OutOfMemoryError*>(&e) || dynamic_cast<const std::bad_alloc*>(&e))
        return first_line.empty() ? "std::bad_alloc" : first_line;
#if !defined(TORCH_VERSION_MAJOR) || TORCH_VERSION_MAJOR < 2
    // libtorch 1.13's CPU allocator throws a plain c10::Error.
    if (dynamic_cast<const c10::Error*>(&e) &&
        what.find("can't allocate memory") != std::string::npos)
        return first_line;
#endif
    return "";
}

Recorder::Recorded Recorder::record(const store::NewRun& run,
                                    const std::function<RunOutcome(RunLogger&)>& body) {
    Recorded r;
    r.run_id = store_.create_run(run);
    if (observer_) observer_->on_run_started(r.run_id, run.model, run.phase);
    RunLogger log(store_, observer_, r.run_id, run.model, run.phase);
    try {
        r.outcome = body(log);
    } catch (const std::exception& e) {
        const std::string oom = out_of_memory_detail(e);
        const std::string message =
            oom.empty() ? e.what()
                        : "out of memory in " + std::string(store::phase_display_name(run.phase)) +
                              " of " + model::design_key(run.model) + " (" + sizes_ +
                              "): lower the batch size or seq_length. Detail: " + oom;
        store_.finish_run(r.run_id, store::RunStatus::failed, message);
        if (observer_) observer_->on_run_finished(r.run_id, store::RunStatus::failed);
        if (!oom.empty()) throw Error(message);
        throw;
    }
    store_.finish_run(r.run_id, r.outcome.status, r.outcome.message);
    if (observer_) observer_->on_run_finished(r.run_id, r.outcome.status);
    return r;
}

}  // namespace cp::train
