// One piece of work a front end starts: an experiment (or seed group), a sweep, or a cache
// evaluation, behind one interface. The workbench's worker thread runs any of them the same way
// (app/workbench/experiment_worker.cpp); what each outcome says is decided and tested here.
//
// A job opens its own store on the thread it runs on (SQLite connections are per thread; the
// window's Workspace keeps its own), from the database its parameters name.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "experiment/cache_eval_params.h"
#include "experiment/experiment_params.h"
#include "experiment/plan.h"
#include "experiment/progress.h"
#include "experiment/sweep.h"
#include "store/run_kinds.h"

namespace cp::train {

struct GroupSummary;
struct SweepOutcome;
struct CacheEvalSummary;

struct JobOutcome {
    store::RunStatus status = store::RunStatus::finished;
    // What did not finish, one line each ("seed 1: diverged"), or a sweep's counts; empty when
    // everything finished.
    std::string message;
    std::int64_t experiment_id = -1;  // the experiment to show afterwards; -1: nothing stored
};

class Job {
  public:
    virtual ~Job() = default;
    // Validates and prepares (nothing stored before; the stop flag is read between stages),
    // then runs, recording into the database. Never throws: a refusal or a failure is the
    // outcome (failed, or stopped when the stop flag ended it before anything was stored).
    JobOutcome run(ExperimentObserver* observer, const std::atomic<bool>& stop);

  protected:
    virtual JobOutcome run_job(ExperimentObserver* observer, const std::atomic<bool>& stop) = 0;
};

// The resolved parameters of a launch (experiment/plan.h's resolve_launch): one experiment, or a
// seed group when params.seeds > 1.
std::unique_ptr<Job> experiment_job(ExperimentParams params, LaunchMode mode);
// The cells of a sweep in order, in this process (train/sweep_runner.h).
std::unique_ptr<Job> sweep_job(Sweep sweep);
// Trained runs or a checkpoint under cache policies (train/cache_eval.h).
std::unique_ptr<Job> cache_eval_job(CacheEvalParams params);

// Each kind's outcome from its summary: which seeds, cells or policies did not finish.
JobOutcome outcome_of(const GroupSummary& g);
JobOutcome outcome_of(const SweepOutcome& s);
JobOutcome outcome_of(const CacheEvalSummary& s);

}  // namespace cp::train
