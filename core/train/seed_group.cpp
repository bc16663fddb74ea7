#include "train/seed_group.h"

#include <chrono>

#include "store/run_store.h"

namespace cp::train {

bool SeedOutcome::finished() const {
    return summary && store::completed(summary->status);
}

std::vector<std::uint64_t> GroupSummary::failed_seeds() const {
    std::vector<std::uint64_t> out;
    for (const SeedOutcome& s : seeds)
        if (!s.finished()) out.push_back(s.seed);
    return out;
}

SeedGroup::SeedGroup(ExperimentParams params, LaunchMode mode, const std::atomic<bool>* stop)
    : experiment_(params, mode, stop), first_seed_(params.seed), count_(params.seeds) {}

GroupSummary SeedGroup::run(ExperimentObserver* observer, const std::atomic<bool>& stop) {
    const auto started = std::chrono::steady_clock::now();
    GroupSummary group;
    if (count_ > 1) {
        const ExperimentParams& p = experiment_.params();
        store::RunStore store(p.db.empty() ? default_database_path() : p.db);
        group.group_uid = store.new_group_uid();
    }
    for (std::int64_t k = 0; k < count_ && !stop.load(); ++k) {
        SeedOutcome outcome;
        outcome.seed = first_seed_ + static_cast<std::uint64_t>(k);
        if (count_ > 1) {
            experiment_.become_group_member(group.group_uid, outcome.seed);
            if (observer) {
                observer->on_seed_started(outcome.seed, k, count_);
                observer->on_message("seed " + std::to_string(outcome.seed) + " (" +
                                     std::to_string(k + 1) + " of " + std::to_string(count_) +
                                     ")");
            }
        }
        try {
            outcome.summary = experiment_.run(observer, stop);
        } catch (const Error& e) {
            // The failed run is marked in the store; the other seeds still say something.
            outcome.error = e.what();
            if (observer)
                observer->on_message("seed " + std::to_string(outcome.seed) +
                                     " failed: " + outcome.error);
            if (count_ == 1) throw;
        }
        if (outcome.summary && outcome.summary->status == store::RunStatus::stopped)
            group.status = store::RunStatus::stopped;
        else if (!outcome.finished() && group.status == store::RunStatus::finished)
            group.status = outcome.summary ? outcome.summary->status : store::RunStatus::failed;
        group.seeds.push_back(std::move(outcome));
    }
    if (stop.load() && group.status == store::RunStatus::finished &&
        static_cast<std::int64_t>(group.seeds.size()) < count_)
        group.status = store::RunStatus::stopped;
    group.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return group;
}

}  // namespace cp::train
