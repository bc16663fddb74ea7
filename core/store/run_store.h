// The SQLite run store: experiments, their runs, live metric points and final results, in one
// file (WAL, versioned schema, batched writes). A run left `running` by a process that is gone
// is marked `interrupted` on the next open, with its data kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
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
// 6: the files a run depends on (run_files: its checkpoint, optimizer state, context diversity,
// K/V bases), each with its size and SHA-256 and a path relative to the database's own folder
// (<database>.files), so two databases never share a file and every read checks what it loads.
constexpr int kSchemaVersion = 6;

// Where a run's file came from, and so how far a read can trust it.
enum class FileOrigin {
    owned,       // written into this database's folder; size and SHA-256 recorded when written
    external,    // another database's file, linked by `db import --link`; its hash recorded then
    unverified,  // recorded before checkpoints were hashed and not attributable to this run
                 // (another database may have overwritten it): used, but always said so
};
const char* file_origin_key(FileOrigin origin);

// The roles of a run's files: one file per role and run.
namespace file_role {
inline const std::string checkpoint = "checkpoint";
inline const std::string optimizer_state = "optimizer-state";
inline const std::string diversity = "diversity";
// Where a run's initial weights came from: the conversion record of its pretrained checkpoint.
inline const std::string init_record = "init-record";
// The per-head K/V bases a lowrank policy projects onto, calibrated on `tokens` training tokens.
inline std::string kv_bases(std::int64_t tokens) {
    return "kv-bases-" + std::to_string(tokens);
}
}  // namespace file_role

struct RunFile {
    std::int64_t run_id = 0;
    std::string role;
    std::filesystem::path path;  // absolute, resolved against the database's folder
    std::string stored_path;     // as stored: relative to the database's folder, or absolute
    std::int64_t size = -1;      // -1 and "" when unknown (unverified)
    std::string sha256;
    FileOrigin origin = FileOrigin::owned;
};

// What the user is told whenever an unverified file is used.
std::string unverified_note(const RunFile& file);

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
    // How far the checkpoint can be trusted (RunStore::verified_file checks the file itself).
    FileOrigin checkpoint_origin = FileOrigin::owned;
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
    std::int64_t files_copied = 0, files_linked = 0;
    // The files the other database names that are not there (or not as it recorded them): each
    // run is imported without that file, and the line says so.
    std::vector<std::string> files_missing;
};
// How `import_database` brings the imported runs' files: copied into this database's folder
// (hashes verified), or recorded where they are as external files.
enum class ImportFiles { copy, link };

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
    // The runs' files come along (ImportFiles).
    ImportCounts import_database(const std::string& other_path,
                                 ImportFiles files = ImportFiles::copy);

    // ---- the files a run depends on (run_files.cpp) ----
    // The folder this database owns for its runs' files: "<database>.files" beside it.
    std::filesystem::path files_folder() const;
    // The run's own folder, <base>/<run uid> (base: files_folder() when empty), created; throws
    // cp::Error naming the path when it cannot be created or written.
    std::filesystem::path make_run_folder(std::int64_t run_id,
                                          const std::filesystem::path& base = {});
    // Records a run's files, hashing each now, in one transaction; a role recorded before is
    // replaced. Refuses (before recording anything) a path another run records as its own.
    void record_files(std::int64_t run_id,
                      const std::vector<std::pair<std::string, std::filesystem::path>>& files);
    std::optional<RunFile> run_file(std::int64_t run_id, const std::string& role);
    std::vector<RunFile> run_files(std::int64_t run_id);
    // The file a run recorded under `path` (the same file, however the path is spelled), if any.
    std::optional<RunFile> file_at(const std::filesystem::path& path);
    // The file, checked before any work reads it: refuses, naming the run and the file, a role
    // never recorded, a missing file, and a file whose size or SHA-256 is not what was recorded
    // ("run 2's checkpoint was changed after it was written: expected sha256 …, found …"). An
    // unverified file is returned as it is: its origin says so and the caller tells the user.
    RunFile verified_file(std::int64_t run_id, const std::string& role);
    // Refuses to write `path` for `run_id` when another run records it as its own file.
    void check_unclaimed(std::int64_t run_id, const std::filesystem::path& path);

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
    void migrate_to_v6();
    void adopt_legacy_files();
    void recover_interrupted();
    std::string file_hash(const std::filesystem::path& path);
    std::string resolve_stored(const std::string& stored) const;
    std::string stored_form(const std::filesystem::path& path) const;
    void insert_file(std::int64_t run_id, const std::string& role, const std::string& stored,
                     std::int64_t size, const std::string& sha256, FileOrigin origin);
    void import_files(const std::string& other_path, ImportFiles mode, ImportCounts& counts);
    void insert_attached_rows(ImportCounts& counts);
    void insert_attached_series(ImportCounts& counts);

    sqlite3* db_ = nullptr;
    std::string path_;
    std::vector<MetricPoint> pending_;
    std::chrono::steady_clock::time_point last_flush_;
    std::vector<std::int64_t> recovered_;
    std::size_t flush_every_ = 256;
    // Hashes already computed in this process, by path, size and modification time: a launch
    // checks a file more than once before it reads it.
    struct HashMemo {
        std::int64_t size = -1;
        std::filesystem::file_time_type mtime;
        std::string sha256;
    };
    std::map<std::string, HashMemo> hashes_;
};

}  // namespace cp::store
