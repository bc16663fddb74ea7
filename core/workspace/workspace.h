// The workbench's one owner of its database (#29): the open run store, every question a view asks
// of it answered as a typed read model, every change a view asks for made here. Torch-free, so
// the window, its views and their tests stand on it without a tensor; the views never open the
// store, parse the stored parameters or decide which runs qualify for what — core does, here.
// One instance per open database, used on the GUI thread (the worker's jobs open their own).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "report/comparison.h"
#include "report/design_comparison.h"
#include "report/experiment_report.h"
#include "report/exports.h"
#include "report/kv_anatomy.h"
#include "report/sweep_table.h"
#include "store/run_store.h"
#include "experiment/cache_eval_params.h"
#include "experiment/context_diversity.h"
#include "experiment/experiment_params.h"
#include "experiment/plan.h"

namespace cp::workspace {

class Workspace {
  public:
    // Opens nothing yet: reads of a database that does not exist give nothing, and the file is
    // made by the first write (or the first run).
    explicit Workspace(std::string database);
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;

    const std::string& database() const { return database_; }
    bool exists() const;

    // A workbench database (not newer than this build): throws naming the problem otherwise.
    static void check_database(const std::string& path);
    // Makes an empty database at `path`; throws when it cannot.
    static void create_database(const std::string& path);

    // ---- what the views show ----------------------------------------------------------------
    std::vector<store::ExperimentRow> experiments();
    std::vector<store::RunRow> runs();
    store::RunRow run(std::int64_t id);
    std::vector<store::MetricPoint> metrics(std::int64_t run, const std::string& name);
    void for_each_metric(std::int64_t run, const std::function<void(const store::MetricPoint&)>& f);
    // An experiment's parameters as recorded; nullopt when they cannot be read as this build's.
    std::optional<train::ExperimentParams> experiment_params(std::int64_t experiment);
    std::vector<report::RunListing> run_listing();
    // What a first look shows (report/selection.h): the experiment, the latest run with context
    // vectors, the latest run evaluated under cache policies.
    std::optional<std::int64_t> showcase_experiment();
    std::optional<std::int64_t> latest_diversity_run();
    std::optional<std::int64_t> latest_compressed_run();
    std::vector<store::RunRow> trained_runs(std::int64_t experiment);
    // The runs cache-eval reads (train::cache_eval_reads), in the store's order.
    std::vector<store::RunRow> cache_eval_runs();
    // The runs whose context vectors were saved beside their checkpoint, newest first.
    std::vector<store::RunRow> diversity_runs();
    train::ContextDiversity context_diversity(std::int64_t run);
    // The Phase 1 run whose iterations a run's context rank is read from: itself (a Phase 1) or
    // the one its ContextBlock came from.
    std::optional<std::int64_t> phase1_of(std::int64_t run);
    // "" or the warning that a run's checkpoint was recorded before checkpoints were hashed.
    std::string checkpoint_warning(std::int64_t run);
    report::DesignComparison compare_designs(std::int64_t experiment, bool this_seed_only = false,
                                             const std::string& reference = "");
    report::Comparison compare_runs(std::int64_t a, std::int64_t b);
    std::vector<report::PositionSeries> loss_by_position(const report::DesignComparison& c);
    report::MeanCurve mean_curve(const std::vector<std::int64_t>& runs, const std::string& metric);
    std::optional<report::KvAnatomy> latest_anatomy(std::int64_t trained_run);
    std::vector<report::SweepListing> sweeps();
    report::SweepSummary sweep_summary(const std::string& uid);
    // How the run's experiment is reproduced: the command alone, and the stamp with the run's files.
    std::string reproducing_command(std::int64_t run);
    std::string stamp_and_files_text(std::int64_t run);
    // Everything wrong with a cache evaluation before it starts: its own parameters and each
    // policy against the model its (first) run trained. Empty when it can go.
    std::vector<std::string> cache_eval_problems(const train::CacheEvalParams& p);

    // ---- what the views ask for ---------------------------------------------------------------
    void rename_run(std::int64_t run, const std::string& name);
    void set_notes(std::int64_t run, const std::string& notes);
    void delete_run(std::int64_t run);  // the store refuses a running run
    store::ImportCounts import_database(const std::string& path);
    // The launch as core resolves it (the plan, a Phase 2's stored Phase 1): CLI and GUI alike.
    train::LaunchRequest resolve_launch(const train::ExperimentParams& params, train::LaunchMode mode,
                                        std::optional<model::Design> phase2_design);
    report::ExperimentReport build_report(std::int64_t experiment);
    void export_metrics_csv(std::int64_t run, const std::string& path);
    void export_sweep_csv(const std::string& uid, const std::string& path);

  private:
    store::RunStore& store();
    std::string database_;
    std::unique_ptr<store::RunStore> store_;
};

}  // namespace cp::workspace
