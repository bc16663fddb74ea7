#include "workspace/workspace.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "report/csv.h"
#include "report/selection.h"
#include "report/stamp.h"

namespace cp::workspace {

namespace fs = std::filesystem;

Workspace::Workspace(std::string database) : database_(std::move(database)) {}
Workspace::~Workspace() = default;

bool Workspace::exists() const {
    return !database_.empty() && fs::exists(database_);
}

void Workspace::check_database(const std::string& path) {
    store::RunStore check(path);  // throws for a database that is not ours, or newer
}

void Workspace::create_database(const std::string& path) {
    store::RunStore create(path);
}

store::RunStore& Workspace::store() {
    if (!store_) store_ = std::make_unique<store::RunStore>(database_);
    return *store_;
}

std::vector<store::ExperimentRow> Workspace::experiments() {
    return exists() ? store().experiments() : std::vector<store::ExperimentRow>{};
}

std::vector<store::RunRow> Workspace::runs() {
    return exists() ? store().runs() : std::vector<store::RunRow>{};
}

store::RunRow Workspace::run(std::int64_t id) {
    return store().run(id);
}

std::vector<store::MetricPoint> Workspace::metrics(std::int64_t run, const std::string& name) {
    return store().metrics(run, name);
}

void Workspace::for_each_metric(std::int64_t run,
                                const std::function<void(const store::MetricPoint&)>& f) {
    store().for_each_metric(run, f);
}

std::optional<train::ExperimentParams> Workspace::experiment_params(std::int64_t experiment) {
    const auto json = nlohmann::json::parse(store().experiment(experiment).params_json, nullptr, false);
    if (!json.is_object()) return std::nullopt;
    try {
        return train::ExperimentParams::from_json(json);
    } catch (const std::exception&) {  // parameters this build no longer reads
        return std::nullopt;
    }
}

std::vector<report::RunListing> Workspace::run_listing() {
    return exists() ? report::list_runs(store()) : std::vector<report::RunListing>{};
}

std::optional<std::int64_t> Workspace::showcase_experiment() {
    return exists() ? report::showcase_experiment(store()) : std::nullopt;
}

std::optional<std::int64_t> Workspace::latest_diversity_run() {
    return exists() ? report::latest_diversity_run(store()) : std::nullopt;
}

std::optional<std::int64_t> Workspace::latest_compressed_run() {
    return exists() ? report::latest_compressed_run(store()) : std::nullopt;
}

std::vector<store::RunRow> Workspace::trained_runs(std::int64_t experiment) {
    return report::trained_runs(store(), experiment);
}

std::vector<store::RunRow> Workspace::cache_eval_runs() {
    std::vector<store::RunRow> out;
    for (store::RunRow& r : runs())
        if (train::cache_eval_reads(r)) out.push_back(std::move(r));
    return out;
}

std::vector<store::RunRow> Workspace::diversity_runs() {
    std::vector<store::RunRow> out;
    const std::vector<store::RunRow> all = runs();
    for (auto it = all.rbegin(); it != all.rend(); ++it)
        if (!it->checkpoint_path.empty() &&
            fs::exists(train::diversity_path(it->checkpoint_path)))
            out.push_back(*it);
    return out;
}

train::ContextDiversity Workspace::context_diversity(std::int64_t run) {
    return train::read_context_diversity(train::diversity_path(store().run(run).checkpoint_path));
}

std::optional<std::int64_t> Workspace::phase1_of(std::int64_t run) {
    const store::RunRow r = store().run(run);
    return r.phase == store::Phase::phase1 ? std::optional<std::int64_t>(r.id)
                                           : r.context_block_run_id;
}

std::string Workspace::checkpoint_warning(std::int64_t run) {
    const store::RunRow r = store().run(run);
    if (r.checkpoint_origin != store::FileOrigin::unverified) return "";
    const auto file = store().run_file(run, store::file_role::checkpoint);
    return file ? "Warning: " + store::unverified_note(*file) : "";
}

report::DesignComparison Workspace::compare_designs(std::int64_t experiment, bool this_seed_only,
                                                    const std::string& reference) {
    return report::compare_designs(store(), experiment, this_seed_only, reference);
}

report::Comparison Workspace::compare_runs(std::int64_t a, std::int64_t b) {
    return report::compare_runs(store(), a, b);
}

std::vector<report::PositionSeries> Workspace::loss_by_position(const report::DesignComparison& c) {
    return report::loss_by_position(store(), c);
}

report::MeanCurve Workspace::mean_curve(const std::vector<std::int64_t>& runs,
                                        const std::string& metric) {
    return report::mean_curve(store(), runs, metric);
}

std::optional<report::KvAnatomy> Workspace::latest_anatomy(std::int64_t trained_run) {
    const auto id = report::latest_anatomy_of_run(store(), trained_run);
    if (!id) return std::nullopt;
    return report::load_anatomy(store(), *id);
}

std::vector<report::SweepListing> Workspace::sweeps() {
    return exists() ? report::list_sweeps(store()) : std::vector<report::SweepListing>{};
}

report::SweepSummary Workspace::sweep_summary(const std::string& uid) {
    return report::sweep_summary(store(), uid);
}

std::string Workspace::reproducing_command(std::int64_t run) {
    return report::stamp_of(store(), store().run(run).experiment_id).command;
}

std::string Workspace::stamp_and_files_text(std::int64_t run) {
    const std::int64_t experiment = store().run(run).experiment_id;
    const std::string files = report::run_files_text(store(), run);
    return "Experiment " + std::to_string(experiment) + ", reproducibility stamp:\n" +
           report::stamp_text(report::stamp_of(store(), experiment)) +
           (files.empty() ? "" : "\nRun " + std::to_string(run) + "'s files:\n" + files);
}

std::vector<std::string> Workspace::cache_eval_problems(const train::CacheEvalParams& p) {
    std::vector<std::string> problems = p.problems();
    if (p.runs.empty()) return problems;
    const store::RunRow r = store().run(p.runs.front());
    const std::optional<train::ExperimentParams> params = experiment_params(r.experiment_id);
    if (!params) return problems;
    for (const std::string& x : train::policy_problems(*params, r.model, p.policies))
        problems.push_back(x);
    return problems;
}

void Workspace::rename_run(std::int64_t run, const std::string& name) {
    store().set_text(run, "name", name);
}

void Workspace::set_notes(std::int64_t run, const std::string& notes) {
    store().set_text(run, "notes", notes);
}

void Workspace::delete_run(std::int64_t run) {
    store().delete_run(run);
}

store::ImportCounts Workspace::import_database(const std::string& path) {
    return store().import_database(path);
}

train::LaunchRequest Workspace::resolve_launch(const train::ExperimentParams& params,
                                               train::LaunchMode mode,
                                               std::optional<model::Design> phase2_design) {
    return train::resolve_launch(params, mode, phase2_design, store());
}

report::ExperimentReport Workspace::build_report(std::int64_t experiment) {
    return report::build_report(store(), experiment);
}

void Workspace::export_metrics_csv(std::int64_t run, const std::string& path) {
    report::CsvFile file(path);
    report::write_metrics_csv(store(), run, file.stream());
    file.commit();
}

void Workspace::export_sweep_csv(const std::string& uid, const std::string& path) {
    report::CsvFile file(path);
    report::write_sweep_summary_csv(store(), file.stream(), uid);
    file.commit();
}

}  // namespace cp::workspace
