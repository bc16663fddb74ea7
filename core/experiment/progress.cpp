#include "experiment/progress.h"

#include <chrono>

namespace cp::train {
namespace {
double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

RunLogger::RunLogger(store::RunStore& store, ExperimentObserver* observer, std::int64_t run_id,
                     model::Design model, store::Phase phase)
    : store_(store),
      observer_(observer),
      run_id_(run_id),
      model_(model),
      phase_(phase),
      started_(now_seconds()) {}

double RunLogger::elapsed_seconds() const {
    return now_seconds() - started_;
}

void RunLogger::metric(const std::string& name, std::int64_t step, std::int64_t epoch,
                       double value) {
    const store::MetricPoint p{run_id_, name, step, epoch, value, elapsed_seconds()};
    store_.add_metric(p);
    if (observer_) observer_->on_metric(p);
}

void RunLogger::result(const std::string& name, double value) {
    store_.set_result(run_id_, name, value);
}

void RunLogger::progress(std::int64_t step, std::int64_t total, double loss, std::int64_t epoch) {
    if (!observer_) return;
    Progress p{model_, phase_, step, total, epoch, loss, -1};
    const double elapsed = elapsed_seconds();
    if (step > 0 && total > 0)
        p.eta_seconds = elapsed / static_cast<double>(step) * static_cast<double>(total - step);
    observer_->on_progress(p);
}

void RunLogger::message(const std::string& text) {
    if (observer_) observer_->on_message(text);
}

}  // namespace cp::train
