#include "store/run_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>

#include "common/error.h"
#include "store/statement.h"

namespace cp::store {
using detail::Statement;
namespace {

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return text;
}

bool process_alive(std::int64_t pid) {
    if (pid <= 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

RunStore::RunStore(const std::string& path)
    : path_(path), last_flush_(std::chrono::steady_clock::now()) {
    const std::filesystem::path p(path);
    std::error_code ec;
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
        const std::string reason = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error("cannot open the database '" + path + "': " + reason +
                    " (choose another with --db)");
    }
    // SQLite opens a file it may not write read-only without a word; say so before any work.
    if (sqlite3_db_readonly(db_, "main") == 1) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error("the database '" + path +
                    "' is read-only (no write permission): make it writable, or choose another "
                    "with --db");
    }
    sqlite3_busy_timeout(db_,
                         10000);  // another process writing: wait up to 10 s, then a clear error
    try {
        // Reading the schema version is the first thing that touches the file: a file that is not
        // a database fails here, before anything is written.
        std::int64_t v = 0;
        {
            Statement version(db_, "PRAGMA user_version");
            version.step();
            v = version.integer(0);
        }
        if (v > kSchemaVersion)
            throw Error("database '" + path + "' has schema version " + std::to_string(v) +
                        ", newer than this workbench's " + std::to_string(kSchemaVersion) +
                        ": update the workbench");
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA foreign_keys=ON");
        migrate();
        adopt_legacy_files();
        recover_interrupted();
    } catch (const Error& e) {
        sqlite3_close(db_);
        db_ = nullptr;
        const std::string what = e.what();
        if (what.find("file is not a database") != std::string::npos)
            throw Error("'" + path +
                        "' is not a workbench database (SQLite says: file is not a database)");
        throw;
    }
}

RunStore::~RunStore() {
    try {
        flush();
    } catch (...) {
        // A destructor must not throw; the points lost are at most one batch.
    }
    sqlite3_close(db_);
}

void RunStore::exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        const std::string reason = message ? message : "unknown";
        sqlite3_free(message);
        throw Error("database error in '" + path_ + "': " + reason);
    }
}

namespace {
std::int64_t user_version(sqlite3* db) {
    Statement version(db, "PRAGMA user_version");
    version.step();
    return version.integer(0);
}
}  // namespace

// Each step re-reads the version inside its write transaction, so two processes opening an old
// file at once upgrade it once.
void RunStore::migrate() {
    if (user_version(db_) < 1) {
        exec("BEGIN IMMEDIATE");
        if (user_version(db_) < 1) {
            exec(R"(
                CREATE TABLE IF NOT EXISTS experiments(
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL,
                    params_json TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '');
                CREATE TABLE IF NOT EXISTS runs(
                    id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
                    model TEXT NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL,
                    started_at TEXT NOT NULL, finished_at TEXT NOT NULL DEFAULT '', device TEXT NOT NULL DEFAULT '',
                    error TEXT NOT NULL DEFAULT '', checkpoint_path TEXT NOT NULL DEFAULT '',
                    name TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '', owner_pid INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS metrics(
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
                    step INTEGER NOT NULL, epoch INTEGER NOT NULL, value REAL NOT NULL, wall_time REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name, step);
                CREATE TABLE IF NOT EXISTS results(
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
                    value REAL NOT NULL, PRIMARY KEY(run_id, name));
                PRAGMA user_version = 1;
            )");
        }
        exec("COMMIT");
    }
    if (user_version(db_) < 2) migrate_to_v2();
    if (user_version(db_) < 3) migrate_to_v3();
    if (user_version(db_) < 4) migrate_to_v4();
    if (user_version(db_) < 5) migrate_to_v5();
    if (user_version(db_) < 6) migrate_to_v6();
}

void RunStore::migrate_to_v2() {
    exec("BEGIN IMMEDIATE");
    if (user_version(db_) < 2) {
        exec(R"(
            ALTER TABLE experiments ADD COLUMN uid TEXT NOT NULL DEFAULT '';
            ALTER TABLE runs ADD COLUMN uid TEXT NOT NULL DEFAULT '';
            UPDATE experiments SET uid = lower(hex(randomblob(16))) WHERE uid = '';
            UPDATE runs SET uid = lower(hex(randomblob(16))) WHERE uid = '';
            CREATE UNIQUE INDEX experiments_by_uid ON experiments(uid);
            CREATE UNIQUE INDEX runs_by_uid ON runs(uid);
            PRAGMA user_version = 2;
        )");
    }
    exec("COMMIT");
}

// v3: provenance as a column. Older files recorded it nowhere; the Context-Pythia Phase 2 runs
// of an experiment that ran its own Phase 1 trained on that Phase 1 (the only way v2 ran
// them), so the latest earlier Phase 1 of the same experiment is filled in.
void RunStore::migrate_to_v3() {
    exec("BEGIN IMMEDIATE");
    if (user_version(db_) < 3) {
        exec(R"(
            ALTER TABLE runs ADD COLUMN context_block_run_id INTEGER
                REFERENCES runs(id) ON DELETE SET NULL;
            UPDATE runs SET context_block_run_id = (
                SELECT max(p.id) FROM runs p
                WHERE p.experiment_id = runs.experiment_id AND p.phase = 'phase1'
                  AND p.id < runs.id)
            WHERE model = 'context-pythia' AND phase = 'phase2'
              AND name NOT LIKE 'ablation:%' AND name NOT LIKE 'ContextBlock from %';
            PRAGMA user_version = 3;
        )");
    }
    exec("COMMIT");
}

// v4: experiments repeated with seeds s, s+1, ... share a group uid (empty: no group). A uid,
// not an id, so an imported group stays one group without remapping.
void RunStore::migrate_to_v4() {
    exec("BEGIN IMMEDIATE");
    if (user_version(db_) < 4) {
        exec(R"(
            ALTER TABLE experiments ADD COLUMN group_uid TEXT NOT NULL DEFAULT '';
            CREATE INDEX experiments_by_group ON experiments(group_uid);
            PRAGMA user_version = 4;
        )");
    }
    exec("COMMIT");
}

// v5: evaluations of a trained run under a KV-cache policy. Deleting the trained run deletes
// them (they say nothing without it).
void RunStore::migrate_to_v5() {
    exec("BEGIN IMMEDIATE");
    if (user_version(db_) < 5) {
        exec(R"(
            ALTER TABLE runs ADD COLUMN evaluates_run_id INTEGER
                REFERENCES runs(id) ON DELETE CASCADE;
            ALTER TABLE runs ADD COLUMN cache_policy TEXT NOT NULL DEFAULT '';
            CREATE INDEX runs_by_evaluated ON runs(evaluates_run_id);
            PRAGMA user_version = 5;
        )");
    }
    exec("COMMIT");
}

// v6: the files a run depends on, hashed. Older files recorded only a checkpoint path, which
// every database wrote under the same <data>/runs/experiment-N folder: those paths arrive as
// 'legacy' rows that adopt_legacy_files (run_files.cpp) attributes or marks unverified.
// Evaluation runs' paths name the checkpoint they evaluated (not a file of theirs): not moved.
void RunStore::migrate_to_v6() {
    exec("BEGIN IMMEDIATE");
    if (user_version(db_) < 6) {
        exec(R"(
            CREATE TABLE run_files(
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                role TEXT NOT NULL, path TEXT NOT NULL,
                size INTEGER NOT NULL DEFAULT -1, sha256 TEXT NOT NULL DEFAULT '',
                origin TEXT NOT NULL DEFAULT 'owned',
                PRIMARY KEY(run_id, role));
            INSERT INTO run_files(run_id, role, path, origin)
                SELECT id, 'checkpoint', checkpoint_path, 'legacy' FROM runs
                WHERE checkpoint_path != '' AND phase != 'evaluation';
            PRAGMA user_version = 6;
        )");
    }
    exec("COMMIT");
}

std::string sqlite_version() {
    return sqlite3_libversion();
}

std::string RunStore::new_group_uid() {
    Statement q(db_, "SELECT lower(hex(randomblob(16)))");
    q.step();
    return q.text(0);
}

void RunStore::recover_interrupted() {
    std::vector<std::int64_t> stale;
    {
        Statement q(db_, "SELECT id, owner_pid FROM runs WHERE status = 'running'");
        while (q.step())
            if (q.integer(1) != ::getpid() && !process_alive(q.integer(1)))
                stale.push_back(q.integer(0));
    }
    for (std::int64_t id : stale)
        finish_run(id, RunStatus::interrupted, "the process running it ended without finishing");
    recovered_ = stale;
}

std::int64_t RunStore::create_experiment(const std::string& name, const std::string& params_json,
                                        const std::string& group_uid) {
    Statement s(db_,
                "INSERT INTO experiments(name, created_at, params_json, uid, group_uid) "
                "VALUES(?, ?, ?, lower(hex(randomblob(16))), ?)");
    s.bind(1, name).bind(2, now_utc()).bind(3, params_json).bind(4, group_uid).step();
    return sqlite3_last_insert_rowid(db_);
}

std::int64_t RunStore::create_run(const NewRun& run) {
    Statement s(db_,
                "INSERT INTO runs(experiment_id, model, phase, status, started_at, device, name, "
                "owner_pid, uid, context_block_run_id, evaluates_run_id, cache_policy) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, lower(hex(randomblob(16))), ?, ?, ?)");
    s.bind(1, run.experiment_id)
        .bind(2, std::string(model::design_key(run.model)))
        .bind(3, std::string(phase_key(run.phase)))
        .bind(4, std::string(status_key(RunStatus::running)))
        .bind(5, now_utc())
        .bind(6, run.device)
        .bind(7, run.name)
        .bind(8, static_cast<std::int64_t>(::getpid()));
    if (run.context_block_run_id)
        s.bind(9, *run.context_block_run_id);
    else
        s.bind_null(9);
    if (run.evaluates_run_id)
        s.bind(10, *run.evaluates_run_id);
    else
        s.bind_null(10);
    s.bind(11, run.cache_policy);
    s.step();
    return sqlite3_last_insert_rowid(db_);
}

void RunStore::add_metric(const MetricPoint& point) {
    pending_.push_back(point);
    if (pending_.size() >= flush_every_ ||
        std::chrono::steady_clock::now() - last_flush_ > std::chrono::milliseconds(500))
        flush();
}

void RunStore::flush() {
    last_flush_ = std::chrono::steady_clock::now();
    if (pending_.empty()) return;
    exec("BEGIN IMMEDIATE");
    try {
        Statement s(db_,
                    "INSERT INTO metrics(run_id, name, step, epoch, value, wall_time) VALUES(?, ?, "
                    "?, ?, ?, ?)");
        for (const MetricPoint& p : pending_) {
            s.bind(1, p.run_id)
                .bind(2, p.name)
                .bind(3, p.step)
                .bind(4, p.epoch)
                .bind(5, p.value)
                .bind(6, p.wall_time);
            s.step();
            s.reset();
        }
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
    exec("COMMIT");
    pending_.clear();
}

void RunStore::set_result(std::int64_t run_id, const std::string& name, double value) {
    Statement s(db_, "INSERT OR REPLACE INTO results(run_id, name, value) VALUES(?, ?, ?)");
    s.bind(1, run_id).bind(2, name).bind(3, value).step();
}

void RunStore::set_text(std::int64_t run_id, const std::string& column, const std::string& value) {
    const char* sql = column == "checkpoint_path"
                          ? "UPDATE runs SET checkpoint_path = ? WHERE id = ?"
                      : column == "notes" ? "UPDATE runs SET notes = ? WHERE id = ?"
                      : column == "name"  ? "UPDATE runs SET name = ? WHERE id = ?"
                                          : nullptr;
    if (!sql) throw Error("internal error: runs has no editable column '" + column + "'");
    Statement s(db_, sql);
    s.bind(1, value).bind(2, run_id).step();
}

void RunStore::finish_run(std::int64_t run_id, RunStatus status, const std::string& error) {
    flush();
    Statement s(db_, "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?");
    s.bind(1, std::string(status_key(status))).bind(2, now_utc()).bind(3, error).bind(4, run_id);
    s.step();
}

std::vector<ExperimentRow> RunStore::experiments() {
    std::vector<ExperimentRow> out;
    Statement q(db_, "SELECT id, name, created_at, params_json, notes, uid, group_uid "
                     "FROM experiments ORDER BY id");
    while (q.step())
        out.push_back(
            {q.integer(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), q.text(6)});
    return out;
}

std::vector<ExperimentRow> RunStore::group(const std::string& group_uid) {
    std::vector<ExperimentRow> out;
    if (group_uid.empty()) return out;
    for (ExperimentRow& e : experiments())
        if (e.group_uid == group_uid) out.push_back(std::move(e));
    return out;
}

ExperimentRow RunStore::experiment(std::int64_t experiment_id) {
    Statement q(db_, "SELECT id, name, created_at, params_json, notes, uid, group_uid "
                     "FROM experiments WHERE id = ?");
    q.bind(1, experiment_id);
    if (!q.step())
        throw Error("no experiment " + std::to_string(experiment_id) + " in '" + path_ +
                    "' (see 'context-pythia experiments list')");
    return {q.integer(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5), q.text(6)};
}

namespace {
const char* kRunColumns =
    "SELECT id, experiment_id, model, phase, status, started_at, finished_at, device, error, "
    "checkpoint_path, name, notes, uid, context_block_run_id, evaluates_run_id, cache_policy, "
    "(SELECT path FROM run_files f WHERE f.run_id = runs.id AND f.role = 'checkpoint'), "
    "(SELECT origin FROM run_files f WHERE f.run_id = runs.id AND f.role = 'checkpoint') "
    "FROM runs ";
// The store boundary: stored text becomes enums here and nowhere else. A value this workbench
// does not know (a newer workbench wrote it) is named, with the way out.
template <typename E>
E known(std::optional<E> value, const char* column, const std::string& text, std::int64_t id) {
    if (!value)
        throw Error("run " + std::to_string(id) + " has " + column + " '" + text +
                    "', unknown to this workbench: update the workbench");
    return *value;
}
RunRow read_run(Statement& q, const std::filesystem::path& files_folder) {
    RunRow r;
    r.id = q.integer(0);
    r.experiment_id = q.integer(1);
    r.model = known(model::design_from_key(q.text(2)), "model", q.text(2), r.id);
    r.phase = known(phase_from_key(q.text(3)), "phase", q.text(3), r.id);
    r.status = known(status_from_key(q.text(4)), "status", q.text(4), r.id);
    r.started_at = q.text(5);
    r.finished_at = q.text(6);
    r.device = q.text(7);
    r.error = q.text(8);
    r.checkpoint_path = q.text(9);
    r.name = q.text(10);
    r.notes = q.text(11);
    r.uid = q.text(12);
    if (!q.null(13)) r.context_block_run_id = q.integer(13);
    if (!q.null(14)) r.evaluates_run_id = q.integer(14);
    r.cache_policy = q.text(15);
    // A run's own checkpoint is a recorded file (relative to the database's folder); an
    // evaluation's column names the checkpoint it evaluated.
    if (!q.null(16)) {
        const std::filesystem::path stored = q.text(16);
        r.checkpoint_path = (stored.is_absolute() ? stored : files_folder / stored).string();
        r.checkpoint_origin =
            q.text(17) == "owned"      ? FileOrigin::owned
            : q.text(17) == "external" ? FileOrigin::external
                                       : FileOrigin::unverified;
    }
    return r;
}
}  // namespace

std::vector<RunRow> RunStore::runs(std::optional<std::int64_t> experiment_id) {
    std::vector<RunRow> out;
    Statement q(db_, (std::string(kRunColumns) + (experiment_id ? "WHERE experiment_id = ? " : "") +
                      "ORDER BY id")
                         .c_str());
    if (experiment_id) q.bind(1, *experiment_id);
    while (q.step()) out.push_back(read_run(q, files_folder()));
    return out;
}

RunRow RunStore::run(std::int64_t run_id) {
    Statement q(db_, (std::string(kRunColumns) + "WHERE id = ?").c_str());
    q.bind(1, run_id);
    if (!q.step())
        throw Error("no run " + std::to_string(run_id) + " in '" + path_ +
                    "' (see 'context-pythia runs list')");
    return read_run(q, files_folder());
}

std::vector<MetricPoint> RunStore::metrics(std::int64_t run_id, const std::string& name) {
    flush();
    std::vector<MetricPoint> out;
    Statement q(db_, name.empty() ? "SELECT run_id, name, step, epoch, value, wall_time FROM "
                                    "metrics WHERE run_id = ? ORDER BY rowid"
                                  : "SELECT run_id, name, step, epoch, value, wall_time FROM "
                                    "metrics WHERE run_id = ? AND name = ? ORDER BY rowid");
    q.bind(1, run_id);
    if (!name.empty()) q.bind(2, name);
    while (q.step())
        out.push_back({q.integer(0), q.text(1), q.integer(2), q.integer(3), q.real(4), q.real(5)});
    return out;
}

void RunStore::for_each_metric(std::int64_t run_id,
                               const std::function<void(const MetricPoint&)>& sink) {
    flush();
    Statement q(db_,
                "SELECT name, step, epoch, value, wall_time FROM metrics WHERE run_id = ? "
                "ORDER BY rowid");
    q.bind(1, run_id);
    MetricPoint p;
    p.run_id = run_id;
    while (q.step()) {
        p.name = q.text(0);
        p.step = q.integer(1);
        p.epoch = q.integer(2);
        p.value = q.real(3);
        p.wall_time = q.real(4);
        sink(p);
    }
}

std::int64_t RunStore::metric_count(std::int64_t run_id) {
    flush();
    Statement q(db_, "SELECT count(*) FROM metrics WHERE run_id = ?");
    q.bind(1, run_id);
    q.step();
    return q.integer(0);
}

std::map<std::int64_t, std::map<std::string, double>> RunStore::all_results() {
    std::map<std::int64_t, std::map<std::string, double>> out;
    Statement q(db_, "SELECT run_id, name, value FROM results");
    while (q.step()) out[q.integer(0)][q.text(1)] = q.real(2);
    return out;
}

std::string RunStore::deletion_refusal(const RunRow& r) {
    // A running run belongs to a live process, which is still writing its points.
    if (r.status == RunStatus::running)
        return "run " + std::to_string(r.id) +
               " is still running: stop it first (Ctrl-C in its terminal, or Stop in the "
               "workbench)";
    return "";
}

void RunStore::delete_run(std::int64_t run_id) {
    // An unknown id is refused with the usual message.
    if (const std::string why = deletion_refusal(run(run_id)); !why.empty()) throw Error(why);
    flush();
    exec("BEGIN IMMEDIATE");
    try {
        Statement s(db_, "DELETE FROM runs WHERE id = ?");  // metrics and results cascade
        s.bind(1, run_id).step();
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
    exec("COMMIT");
}

// The imported runs' metric points, results and files.
void RunStore::insert_attached_series(ImportCounts& counts) {
    const auto changes = [this] { return static_cast<std::int64_t>(sqlite3_changes(db_)); };
    exec(R"(
        INSERT INTO main.metrics(run_id, name, step, epoch, value, wall_time)
            SELECT mr.id, m.name, m.step, m.epoch, m.value, m.wall_time
            FROM temp.import_runs ir
            JOIN main.runs mr ON mr.uid = ir.uid
            JOIN src.metrics m ON m.run_id = ir.src_id
            ORDER BY m.rowid;
    )");
    counts.metric_points = changes();
    exec(R"(
        INSERT INTO main.results(run_id, name, value)
            SELECT mr.id, x.name, x.value
            FROM temp.import_runs ir
            JOIN main.runs mr ON mr.uid = ir.uid
            JOIN src.results x ON x.run_id = ir.src_id;
    )");
    counts.results = changes();
    exec(R"(
        INSERT INTO main.run_files(run_id, role, path, size, sha256, origin)
            SELECT mr.id, f.role, f.path, f.size, f.sha256, f.origin
            FROM temp.import_file_rows f JOIN main.runs mr ON mr.uid = f.uid
            WHERE mr.uid IN (SELECT uid FROM temp.import_runs);
    )");
}

// Inside the import's transaction: the source's experiments and runs this store lacks (by uid),
// their provenance remapped, their metrics, results and files.
void RunStore::insert_attached_rows(ImportCounts& counts) {
    const auto changes = [this] { return static_cast<std::int64_t>(sqlite3_changes(db_)); };
    exec(R"(
        CREATE TEMP TABLE import_runs AS
            SELECT id AS src_id, uid FROM src.runs
            WHERE uid NOT IN (SELECT uid FROM main.runs);
    )");
    exec(R"(
        INSERT INTO main.experiments(name, created_at, params_json, notes, uid, group_uid)
            SELECT name, created_at, params_json, notes, uid, group_uid
            FROM src.experiments
            WHERE uid NOT IN (SELECT uid FROM main.experiments) ORDER BY id;
    )");
    counts.experiments = changes();
    exec(R"(
        INSERT INTO main.runs(experiment_id, model, phase, status, started_at, finished_at,
                              device, error, checkpoint_path, name, notes, owner_pid, uid,
                              cache_policy)
            SELECT e.id, r.model, r.phase,
                   CASE r.status WHEN 'running' THEN 'interrupted' ELSE r.status END,
                   r.started_at, r.finished_at, r.device,
                   CASE r.status WHEN 'running'
                       THEN 'imported while it was still running elsewhere' ELSE r.error END,
                   r.checkpoint_path, r.name, r.notes, 0, r.uid, r.cache_policy
            FROM src.runs r
            JOIN src.experiments se ON se.id = r.experiment_id
            JOIN main.experiments e ON e.uid = se.uid
            WHERE r.id IN (SELECT src_id FROM temp.import_runs) ORDER BY r.id;
    )");
    counts.runs = changes();
    // Provenance (the Phase 1 a run read, the run an evaluation evaluated) points at the
    // source's run ids: map them through the uids.
    for (const std::string column : {"context_block_run_id", "evaluates_run_id"}) {
        const std::string remap =
            "UPDATE main.runs SET " + column +
            " = (SELECT mp.id FROM src.runs r JOIN src.runs p ON p.id = r." + column +
            " JOIN main.runs mp ON mp.uid = p.uid WHERE r.uid = main.runs.uid)"
            " WHERE uid IN (SELECT uid FROM temp.import_runs);";
        exec(remap.c_str());
    }
    insert_attached_series(counts);
}

ImportCounts RunStore::import_database(const std::string& other_path, ImportFiles files) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(other_path, ec))
        throw Error("cannot import '" + other_path + "': no such file");
    if (fs::equivalent(other_path, path_, ec))
        throw Error("cannot import '" + other_path + "' into itself");
    try {
        // Validates the file (a database, not newer than ours), upgrades an older schema and
        // marks runs of dead processes interrupted, exactly as opening it here would.
        RunStore other(other_path);
    } catch (const Error& e) {
        throw Error("cannot import '" + other_path + "': " + e.what());
    }
    flush();
    {
        Statement attach(db_, "ATTACH DATABASE ? AS src");
        attach.bind(1, other_path).step();
    }
    ImportCounts counts;
    try {
        // The files first (copied or checked where they are), into temp.import_file_rows; the
        // rows that name them go in with the runs, in the one transaction below.
        import_files(other_path, files, counts);
        exec("BEGIN IMMEDIATE");
        try {
            insert_attached_rows(counts);
            exec("DROP TABLE temp.import_runs");
            exec("DROP TABLE temp.import_file_rows");
            exec("COMMIT");
        } catch (...) {
            exec("ROLLBACK");
            throw;
        }
    } catch (...) {
        exec("DROP TABLE IF EXISTS temp.import_file_rows");
        exec("DETACH DATABASE src");
        throw;
    }
    exec("DETACH DATABASE src");
    return counts;
}

std::vector<std::pair<std::string, double>> RunStore::results(std::int64_t run_id) {
    std::vector<std::pair<std::string, double>> out;
    Statement q(db_, "SELECT name, value FROM results WHERE run_id = ? ORDER BY name");
    q.bind(1, run_id);
    while (q.step()) out.emplace_back(q.text(0), q.real(1));
    return out;
}

std::string RunStore::integrity_check() {
    Statement q(db_, "PRAGMA integrity_check");
    std::string out;
    while (q.step()) out += (out.empty() ? "" : "\n") + q.text(0);
    return out;
}

}  // namespace cp::store
