#include "train/job.h"

#include "common/error.h"
#include "train/cache_eval.h"
#include "train/seed_group.h"
#include "train/sweep_runner.h"

namespace cp::train {
namespace {

std::string without_trailing_space(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

class ExperimentJob : public Job {
  public:
    ExperimentJob(ExperimentParams params, LaunchMode mode)
        : params_(std::move(params)), mode_(mode) {}

  protected:
    JobOutcome run_job(ExperimentObserver* observer, const std::atomic<bool>& stop) override {
        // Validates and prepares data (reading the stop flag between stages): nothing stored yet.
        SeedGroup group(params_, mode_, &stop);
        return outcome_of(group.run(observer, stop));
    }

  private:
    ExperimentParams params_;
    LaunchMode mode_;
};

class SweepJob : public Job {
  public:
    explicit SweepJob(Sweep sweep) : sweep_(std::move(sweep)) {}

  protected:
    JobOutcome run_job(ExperimentObserver* observer, const std::atomic<bool>& stop) override {
        return outcome_of(run_sweep(sweep_, observer, stop));
    }

  private:
    Sweep sweep_;
};

class CacheEvalJob : public Job {
  public:
    explicit CacheEvalJob(CacheEvalParams params) : params_(std::move(params)) {}

  protected:
    JobOutcome run_job(ExperimentObserver* observer, const std::atomic<bool>& stop) override {
        CacheEval eval(params_, &stop);  // checks and prepares the text: nothing stored yet
        return outcome_of(eval.run(observer, stop));
    }

  private:
    CacheEvalParams params_;
};

}  // namespace

JobOutcome Job::run(ExperimentObserver* observer, const std::atomic<bool>& stop) {
    try {
        return run_job(observer, stop);
    } catch (const StoppedBeforeStart& e) {
        return {store::RunStatus::stopped, e.what(), -1};
    } catch (const Error& e) {
        return {store::RunStatus::failed, e.what(), -1};
    } catch (const std::exception& e) {
        return {store::RunStatus::failed, std::string("internal error: ") + e.what(), -1};
    }
}

std::unique_ptr<Job> experiment_job(ExperimentParams params, LaunchMode mode) {
    return std::make_unique<ExperimentJob>(std::move(params), mode);
}

std::unique_ptr<Job> sweep_job(Sweep sweep) { return std::make_unique<SweepJob>(std::move(sweep)); }

std::unique_ptr<Job> cache_eval_job(CacheEvalParams params) {
    return std::make_unique<CacheEvalJob>(std::move(params));
}

JobOutcome outcome_of(const GroupSummary& g) {
    JobOutcome out{g.status, "", -1};
    for (const SeedOutcome& s : g.seeds) {
        if (s.summary) out.experiment_id = s.summary->experiment_id;
        if (s.finished()) continue;
        if (!out.message.empty()) out.message += "\n";
        out.message += "seed " + std::to_string(s.seed) + ": " +
                       (s.summary ? store::status_display_name(s.summary->status) : s.error);
    }
    return out;
}

JobOutcome outcome_of(const SweepOutcome& s) {
    JobOutcome out{s.status, "", s.experiments.empty() ? -1 : s.experiments.back()};
    out.message = std::to_string(s.ran) + " cells run, " + std::to_string(s.skipped) +
                  " skipped (finished before), " + std::to_string(s.failed) + " failed";
    const std::string errors = without_trailing_space(s.errors);
    if (!errors.empty()) out.message += "\n" + errors;
    return out;
}

JobOutcome outcome_of(const CacheEvalSummary& s) {
    JobOutcome out{s.status, "", s.trained.empty() ? -1 : s.trained.front().experiment_id};
    for (const auto& t : s.trained)
        for (const auto& o : t.policies) {
            if (o.status == store::RunStatus::finished) continue;
            if (!out.message.empty()) out.message += "\n";
            out.message += o.policy + ": " + store::status_display_name(o.status) + " " + o.message;
        }
    out.message = without_trailing_space(out.message);
    return out;
}

}  // namespace cp::train
