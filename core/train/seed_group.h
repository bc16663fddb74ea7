// Repeated seeds: the whole experiment run N times with seeds s, s+1, ..., each a complete
// experiment in the store, held together by a group uid so that the comparison can report mean,
// spread and intervals (MODEL_SPEC §5). With one seed it is exactly one experiment, as before.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/experiment.h"

namespace cp::train {

struct SeedOutcome {
    std::uint64_t seed = 0;
    std::optional<ExperimentSummary> summary;  // absent when the seed failed before storing
    std::string error;                         // why it failed, when it did
    // Stored and every run finished (or, for Phase 1, ended not converged).
    bool finished() const;
};

struct GroupSummary {
    std::string group_uid;  // empty for one seed
    store::RunStatus status = store::RunStatus::finished;  // stopped wins; else failed if any
    std::vector<SeedOutcome> seeds;
    double wall_seconds = 0;
    std::vector<std::uint64_t> failed_seeds() const;
};

class SeedGroup {
  public:
    // Validates the parameters and prepares the data once (Experiment's constructor): bad input,
    // seeds included, is refused before anything is stored.
    SeedGroup(ExperimentParams params, LaunchMode mode, const std::atomic<bool>* stop = nullptr);

    const Experiment& experiment() const { return experiment_; }
    // Every seed trains as one rank of `group` (Experiment::train_in).
    void train_in(ProcessGroup* group) { experiment_.train_in(group); }

    // Runs the seeds in order into one group. A seed that fails is recorded (its runs marked
    // failed in the store) and the next seed runs; a stop ends the group after the current run.
    // The observer is told "seed k of N" before each.
    GroupSummary run(ExperimentObserver* observer, const std::atomic<bool>& stop);

  private:
    Experiment experiment_;
    std::uint64_t first_seed_;
    std::int64_t count_;
};

}  // namespace cp::train
