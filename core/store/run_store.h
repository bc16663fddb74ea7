// The SQLite run store: experiments, their runs, live metric points and final results, in one
// file (WAL, versioned schema, batched writes). A run left `running` by a process that is gone
// is marked `interrupted` on the next open, with its data kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/design.h"
#include "store/run_kinds.h"

struct sqlite3;

namespace cp::store {

// 2: experiments and runs carry a random uid, so that importing another machine's database can
// tell a run it already holds from a new one.
// 3: a run records the run its ContextBlock came from (context_block_run_id), so provenance is a
// column, not a guess from names or run order.
// 4: experiments repeated with consecutive seeds share a group uid (experiments.group_uid).
// 5: a run can be the evaluation of a trained run under a KV-cache policy (evaluates_run_id,
// cache_policy: "int8:group=32,residual=32"), so policies sit beside the trained designs.
constexpr int kSchemaVersion = 5;

struct MetricPoint {
    std::int64_t run_id = 0;
    std::string name;
    std::int64_t step = 0;
    std::int64_t epoch = 0;  // -1 when not per epoch
    double value = 0;
    double wall_time = 0;  // seconds since the run started
};

struct RunRow {
    std::int64_t id = 0, experiment_id = 0;
    model::Design model = model::Design::pythia;
    Phase phase = Phase::phase2;
    RunStatus status = RunStatus::running;
    std::string started_at, finished_at, device, error, checkpoint_path, name, notes, uid;
    // The Phase 1 run whose ContextBlock this run trained on (Phase 2 of a design that needs
    // one); empty otherwise, for the untrained-block ablation, or for a block from a file.
    std::optional<std::int64_t> context_block_run_id;
    // An evaluation under a cache policy: the trained run it evaluates (empty for a checkpoint
    // file from elsewhere) and the policy's text; "" for every other run.
    std::optional<std::int64_t> evaluates_run_id;
    std::string cache_policy;
};

// What a new run is; everything else about it is filled in as it goes.
struct NewRun {
    std::int64_t experiment_id = 0;
    model::Design model = model::Design::pythia;
    Phase phase = Phase::phase2;
    std::string device, name;
    std::optional<std::int64_t> context_block_run_id;
    std::optional<std::int64_t> evaluates_run_id = std::nullopt;
    std::string cache_policy = "";
};

struct ExperimentRow {
    std::int64_t id = 0;
    std::string name, created_at, params_json, notes, uid;
    std::string group_uid;  // the seed group it belongs to; empty when it ran alone
};

// What `import_database` added; importing the same file again adds zeros.
struct ImportCounts {
    std::int64_t experiments = 0, runs = 0, metric_points = 0, results = 0;
};

// The SQLite library's version ("3.40.1"), for the reproducibility stamp and the About box.
std::string sqlite_version();

class RunStore {
  public:
    // Opens (creating when missing) the database; throws cp::Error naming the path for a file
    // that is not a database, a newer schema, or an unwritable location.
    explicit RunStore(const std::string& path);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    const std::string& path() const { return path_; }
    // Runs found `running` by this open whose process had gone, now `interrupted`.
    const std::vector<std::int64_t>& recovered_runs() const { return recovered_; }

    std::int64_t create_experiment(const std::string& name, const std::string& params_json,
                                   const std::string& group_uid = "");
    // A fresh random uid for a seed group.
    std::string new_group_uid();
    std::int64_t create_run(const NewRun& run);
    // Buffered: written in one transaction every `flush_every` points or half a second.
    void add_metric(const MetricPoint& point);
    void flush();
    void set_result(std::int64_t run_id, const std::string& name, double value);
    void set_text(std::int64_t run_id, const std::string& column,
                  const std::string& value);  // checkpoint_path, notes, name
    void finish_run(std::int64_t run_id, RunStatus status, const std::string& error = "");

    // Deletes the run with its metrics and results (one transaction); throws for an unknown id
    // and refuses a run that is still running (stop it first).
    void delete_run(std::int64_t run_id);
    // Why a run may not be deleted, or "" when it may: the rule delete_run enforces, for front
    // ends to ask before they ask the user to confirm.
    static std::string deletion_refusal(const RunRow& run);
    // Merges another workbench database into this one, in one transaction: experiments and runs
    // not yet here (by uid) are added under new ids with every metric point and result; runs
    // that were `running` there arrive `interrupted`. The other file is upgraded to this schema
    // when older; a missing file, a non-database or a newer schema is refused before any change.
    ImportCounts import_database(const std::string& other_path);

    std::vector<ExperimentRow> experiments();
    ExperimentRow experiment(std::int64_t experiment_id);  // throws for an unknown id
    // The experiments of a seed group, by id (empty for an empty or unknown uid).
    std::vector<ExperimentRow> group(const std::string& group_uid);
    std::vector<RunRow> runs(std::optional<std::int64_t> experiment_id = std::nullopt);
    RunRow run(std::int64_t run_id);
    std::vector<MetricPoint> metrics(std::int64_t run_id, const std::string& name = "");
    // Calls `sink` for each point of a run in recording order, without building a vector:
    // the export path for runs with millions of points.
    void for_each_metric(std::int64_t run_id, const std::function<void(const MetricPoint&)>& sink);
    std::int64_t metric_count(std::int64_t run_id);
    std::vector<std::pair<std::string, double>> results(std::int64_t run_id);
    // Every run's results in one query (run listings).
    std::map<std::int64_t, std::map<std::string, double>> all_results();
    std::string integrity_check();

  private:
    void exec(const char* sql);
    void migrate();
    void migrate_to_v2();
    void migrate_to_v3();
    void migrate_to_v4();
    void migrate_to_v5();
    void recover_interrupted();

    sqlite3* db_ = nullptr;
    std::string path_;
    std::vector<MetricPoint> pending_;
    std::chrono::steady_clock::time_point last_flush_;
    std::vector<std::int64_t> recovered_;
    std::size_t flush_every_ = 256;
};

}  // namespace cp::store
