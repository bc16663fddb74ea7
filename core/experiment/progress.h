// How an experiment reports while it runs: a plain C++ observer (no Qt), called on the training
// thread. Front ends adapt it (the CLI prints a progress line; the GUI queues Qt signals).
#pragma once

#include <cstdint>
#include <string>

#include "store/run_store.h"

namespace cp::train {

struct Progress {
    model::Design model = model::Design::pythia;
    store::Phase phase = store::Phase::phase2;
    std::int64_t step = 0, total = 0;
    std::int64_t epoch = -1;
    double loss = 0;
    double eta_seconds = -1;  // -1: not known yet
};

class ExperimentObserver {
  public:
    virtual ~ExperimentObserver() = default;
    virtual void on_run_started(std::int64_t /*run_id*/, model::Design /*model*/,
                                store::Phase /*phase*/) {}
    virtual void on_metric(const store::MetricPoint& /*point*/) {}
    virtual void on_progress(const Progress& /*progress*/) {}
    virtual void on_message(const std::string& /*text*/) {}
    virtual void on_run_finished(std::int64_t /*run_id*/, store::RunStatus /*status*/) {}
    // A seed group starts its `index`-th seed (0-based) of `count`.
    virtual void on_seed_started(std::uint64_t /*seed*/, std::int64_t /*index*/,
                                 std::int64_t /*count*/) {}
    // A sweep starts its cell `index` (0-based) of `count`, described by `label`.
    virtual void on_sweep_cell(std::int64_t /*index*/, std::int64_t /*count*/,
                               const std::string& /*label*/) {}
};

// One run's reporting: every metric point goes to the store (batched) and to the observer.
class RunLogger {
  public:
    RunLogger(store::RunStore& store, ExperimentObserver* observer, std::int64_t run_id,
              model::Design model, store::Phase phase);
    void metric(const std::string& name, std::int64_t step, std::int64_t epoch, double value);
    void result(const std::string& name, double value);
    void progress(std::int64_t step, std::int64_t total, double loss, std::int64_t epoch = -1);
    void message(const std::string& text);
    double elapsed_seconds() const;
    std::int64_t run_id() const { return run_id_; }
    store::RunStore& store() { return store_; }

  private:
    store::RunStore& store_;
    ExperimentObserver* observer_;
    std::int64_t run_id_;
    model::Design model_;
    store::Phase phase_;
    double started_;
};

}  // namespace cp::train
