// The files a run depends on: where they live (the database's own folder, one folder per run
// uid), their recorded size and SHA-256, the check before every read, their import, and the
// adoption of files that databases before schema 6 wrote into one shared folder.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sha256.h"
#include "store/run_store.h"
#include "store/statement.h"

namespace cp::store {
namespace fs = std::filesystem;
using detail::Statement;

namespace {

FileOrigin origin_from_key(const std::string& key) {
    if (key == "owned") return FileOrigin::owned;
    if (key == "external") return FileOrigin::external;
    return FileOrigin::unverified;  // also 'legacy', a row not yet adopted
}

std::string role_display(const std::string& role) {
    if (role == file_role::optimizer_state) return "optimizer state";
    if (role == file_role::diversity) return "context-diversity file";
    if (role.rfind("kv-bases-", 0) == 0) return "K/V bases (" + role.substr(9) + " tokens)";
    return role;
}

std::string run_role(std::int64_t run_id, const std::string& role) {
    return "run " + std::to_string(run_id) + "'s " + role_display(role);
}

std::int64_t bytes_of(const fs::path& path) {
    std::error_code ec;
    const auto n = fs::file_size(path, ec);
    return ec ? -1 : static_cast<std::int64_t>(n);
}

// Seconds since the epoch of the file's last write; -1 when it cannot be read.
std::int64_t modified_at(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : -1;
}

// "2026-12-06T06:12:24Z" -> seconds since the epoch; -1 for "" or another form.
std::int64_t parse_utc(const std::string& text) {
    std::tm tm{};
    if (text.empty() || !strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
    return static_cast<std::int64_t>(timegm(&tm));
}

// The __metadata__ of a safetensors header (8-byte little-endian length, then JSON); empty when
// the file is not one.
std::map<std::string, std::string> safetensors_metadata(const fs::path& path) {
    std::map<std::string, std::string> out;
    std::ifstream in(path, std::ios::binary);
    unsigned char length_bytes[8] = {};
    if (!in.read(reinterpret_cast<char*>(length_bytes), 8)) return out;
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | length_bytes[i];
    if (length == 0 || length > (std::uint64_t{100} << 20)) return out;
    std::string header(length, '\0');
    if (!in.read(header.data(), static_cast<std::streamsize>(length))) return out;
    const nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("__metadata__") || !j["__metadata__"].is_object()) return out;
    for (const auto& [k, v] : j["__metadata__"].items())
        if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

// Copies `from` to `to` through a temporary name beside it, renamed into place only when `to`
// does not exist yet: a file already there is never replaced.
void copy_into_place(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    if (ec)
        throw Error("cannot create the folder '" + to.parent_path().string() +
                    "': " + ec.message());
    const fs::path tmp = to.string() + ".tmp." + std::to_string(::getpid());
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw Error("cannot copy '" + from.string() + "' to '" + to.string() + "': " + ec.message() +
                    " (is the disk full?)");
    }
    if (::link(tmp.c_str(), to.c_str()) != 0 && errno != EEXIST) {
        const std::string reason = std::strerror(errno);
        fs::remove(tmp, ec);
        throw Error("cannot place '" + to.string() + "': " + reason);
    }
    fs::remove(tmp, ec);
}

}  // namespace

const char* file_origin_key(FileOrigin origin) {
    switch (origin) {
        case FileOrigin::owned:
            return "owned";
        case FileOrigin::external:
            return "external";
        case FileOrigin::unverified:
            return "unverified";
    }
    return "unverified";
}

std::string unverified_note(const RunFile& f) {
    return run_role(f.run_id, f.role) + " '" + f.path.string() +
           "' is unverified: it was written before checkpoints were hashed, into a folder every "
           "database shared, and cannot be attributed to this run (another database may have "
           "overwritten it)";
}

fs::path RunStore::files_folder() const {
    return fs::absolute(fs::path(path_ + ".files")).lexically_normal();
}

std::string RunStore::resolve_stored(const std::string& stored) const {
    const fs::path p(stored);
    return (p.is_absolute() ? p : files_folder() / p).lexically_normal().string();
}

// Inside the database's folder: relative to it (the database moves with its folder); elsewhere
// (an explicit --checkpoint-dir, a linked import): absolute.
std::string RunStore::stored_form(const fs::path& path) const {
    const fs::path absolute = fs::absolute(path).lexically_normal();
    const fs::path relative = absolute.lexically_relative(files_folder());
    if (!relative.empty() && *relative.begin() != "..") return relative.string();
    return absolute.string();
}

std::string RunStore::file_hash(const fs::path& path) {
    const std::int64_t size = bytes_of(path);
    std::error_code ec;
    const auto mtime = fs::last_write_time(path, ec);
    const std::string key = fs::absolute(path).lexically_normal().string();
    if (const auto it = hashes_.find(key);
        !ec && it != hashes_.end() && it->second.size == size && it->second.mtime == mtime)
        return it->second.sha256;
    const std::string sha = sha256_file(path);
    if (!ec) hashes_[key] = {size, mtime, sha};
    return sha;
}

fs::path RunStore::make_run_folder(std::int64_t run_id, const fs::path& base) {
    const fs::path folder = (base.empty() ? files_folder() : fs::absolute(base)) / run(run_id).uid;
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec || ::access(folder.c_str(), W_OK) != 0)
        throw Error("cannot create or write the folder for run " + std::to_string(run_id) +
                    "'s files '" + folder.string() + "': " +
                    (ec ? ec.message() : std::string(std::strerror(errno))) +
                    " (make it writable, or choose another place with --db or --checkpoint-dir)");
    return folder;
}

void RunStore::insert_file(std::int64_t run_id, const std::string& role, const std::string& stored,
                           std::int64_t size, const std::string& sha256, FileOrigin origin) {
    Statement s(db_,
                "INSERT OR REPLACE INTO run_files(run_id, role, path, size, sha256, origin) "
                "VALUES(?, ?, ?, ?, ?, ?)");
    s.bind(1, run_id).bind(2, role).bind(3, stored).bind(4, size).bind(5, sha256);
    s.bind(6, std::string(file_origin_key(origin))).step();
}

void RunStore::record_files(std::int64_t run_id,
                            const std::vector<std::pair<std::string, fs::path>>& files) {
    struct Hashed {
        std::string role, stored, sha256;
        std::int64_t size;
    };
    std::vector<Hashed> hashed;
    for (const auto& [role, path] : files) {
        check_unclaimed(run_id, path);
        const std::int64_t size = bytes_of(path);
        if (size < 0) throw Error("cannot record " + run_role(run_id, role) + " '" +
                                  path.string() + "': the file is not there");
        hashed.push_back({role, stored_form(path), file_hash(path), size});
    }
    exec("BEGIN IMMEDIATE");
    try {
        for (const Hashed& h : hashed)
            insert_file(run_id, h.role, h.stored, h.size, h.sha256, FileOrigin::owned);
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
    exec("COMMIT");
}

std::vector<RunFile> RunStore::run_files(std::int64_t run_id) {
    std::vector<RunFile> out;
    Statement q(db_, "SELECT role, path, size, sha256, origin FROM run_files WHERE run_id = ? "
                     "ORDER BY role");
    q.bind(1, run_id);
    while (q.step())
        out.push_back({run_id, q.text(0), resolve_stored(q.text(1)), q.text(1), q.integer(2),
                       q.text(3), origin_from_key(q.text(4))});
    return out;
}

std::optional<RunFile> RunStore::run_file(std::int64_t run_id, const std::string& role) {
    for (RunFile& f : run_files(run_id))
        if (f.role == role) return std::move(f);
    return std::nullopt;
}

std::optional<RunFile> RunStore::file_at(const fs::path& path) {
    std::error_code ec;
    const fs::path wanted = fs::weakly_canonical(fs::absolute(path), ec);
    Statement q(db_, "SELECT run_id, role, path, size, sha256, origin FROM run_files");
    while (q.step()) {
        const fs::path here = resolve_stored(q.text(2));
        if (fs::weakly_canonical(here, ec) == wanted)
            return RunFile{q.integer(0), q.text(1), here,           q.text(2),
                           q.integer(3), q.text(4), origin_from_key(q.text(5))};
    }
    return std::nullopt;
}

void RunStore::check_unclaimed(std::int64_t run_id, const fs::path& path) {
    const std::optional<RunFile> holder = file_at(path);
    if (holder && holder->run_id != run_id)
        throw Error("refusing to write '" + path.string() + "' for run " + std::to_string(run_id) +
                    ": it is " + run_role(holder->run_id, holder->role) +
                    ", and no run's file is ever replaced");
}

RunFile RunStore::verified_file(std::int64_t run_id, const std::string& role) {
    const RunRow r = run(run_id);  // names an unknown run
    const std::optional<RunFile> f = run_file(run_id, role);
    const std::string what = run_role(run_id, role);
    if (!f)
        throw Error("run " + std::to_string(run_id) + " (" + model::design_key(r.model) +
                    ", " + status_key(r.status) + ") has no " + role_display(role) +
                    " recorded" +
                    (role == file_role::checkpoint ? ": it ended before its first checkpoint" : ""));
    if (bytes_of(f->path) < 0)
        throw Error(what + " '" + f->path.string() +
                    "' is missing: it was moved or deleted after it was written (a database "
                    "moves together with its folder '" +
                    files_folder().filename().string() + "')");
    if (f->origin == FileOrigin::unverified) return *f;
    const std::string found = file_hash(f->path);
    if (found != f->sha256)
        throw Error(what + " '" + f->path.string() +
                    "' was changed after it was written: expected sha256 " + f->sha256 +
                    ", found " + found + " (" + std::to_string(f->size) + " bytes recorded, " +
                    std::to_string(bytes_of(f->path)) + " there); it is not loaded");
    return *f;
}

// ---- import -------------------------------------------------------------------------------

// The other database's files for the runs about to be imported, copied into this database's
// folder (checked against their recorded hash first) or checked where they are (link), into
// temp.import_file_rows. A file that is not there, or not as recorded, is reported and left out.
void RunStore::import_files(const std::string& other_path, ImportFiles mode,
                            ImportCounts& counts) {
    exec("CREATE TEMP TABLE import_file_rows(uid TEXT, role TEXT, path TEXT, size INTEGER, "
         "sha256 TEXT, origin TEXT)");
    const fs::path other_folder = fs::absolute(fs::path(other_path + ".files")).lexically_normal();
    Statement q(db_, R"(
        SELECT r.id, r.uid, r.model, f.role, f.path, f.size, f.sha256, f.origin
        FROM src.run_files f JOIN src.runs r ON r.id = f.run_id
        WHERE r.uid NOT IN (SELECT uid FROM main.runs) ORDER BY r.id, f.role)");
    Statement add(db_, "INSERT INTO temp.import_file_rows VALUES(?, ?, ?, ?, ?, ?)");
    while (q.step()) {
        const std::string uid = q.text(1), role = q.text(3), stored = q.text(4), sha = q.text(6);
        const fs::path source =
            fs::path(stored).is_absolute() ? fs::path(stored) : other_folder / stored;
        const FileOrigin origin = origin_from_key(q.text(7));
        const std::string what = "run " + std::to_string(q.integer(0)) + " (" + q.text(2) +
                                 ") of '" + other_path + "': its " + role_display(role) + " '" +
                                 source.string() + "'";
        if (bytes_of(source) < 0) {
            counts.files_missing.push_back(what + " is not there; imported without it");
            continue;
        }
        if (origin != FileOrigin::unverified && sha256_file(source) != sha) {
            counts.files_missing.push_back(
                what + " was changed after it was written (sha256 differs); imported without it");
            continue;
        }
        std::string path = source.string();
        FileOrigin kept = origin == FileOrigin::unverified ? origin : FileOrigin::external;
        if (mode == ImportFiles::copy) {
            const fs::path target = files_folder() / uid / source.filename();
            copy_into_place(source, target);
            if (origin != FileOrigin::unverified && sha256_file(target) != sha)
                throw Error("'" + target.string() + "' is there already and is not " + what);
            path = stored_form(target);
            kept = origin == FileOrigin::unverified ? origin : FileOrigin::owned;
            ++counts.files_copied;
        } else {
            ++counts.files_linked;
        }
        add.bind(1, uid).bind(2, role).bind(3, path).bind(4, q.integer(5)).bind(5, sha);
        add.bind(6, std::string(file_origin_key(kept))).step();
        add.reset();
    }
}

// ---- files of databases before schema 6 ---------------------------------------------------

// Every database before schema 6 wrote <data>/runs/experiment-N/<design>-runM.safetensors, so
// run M of one database may point at another's file. A file is attributed to its run when it
// was last written while the run ran (its modification time within the run's start and end)
// and, for Phase 2, its metadata's validation perplexity is the run's best: it is then copied
// into this database's folder and hashed, with the side files written beside it. Any other is
// kept where it is, marked unverified. Nothing is deleted.
namespace {

// A file a run recorded before files were hashed (schema 6), with what tells whether that run
// wrote it.
struct LegacyFile {
    std::int64_t run_id;
    std::string path, phase, started, finished, uid;
    std::optional<double> best_val_ppl;
};

// Written while its run ran (to the second either side) and, for a Phase 2 checkpoint, holding
// the best validation perplexity its run recorded.
bool written_by_its_run(const LegacyFile& l, const fs::path& file,
                        const std::map<std::string, std::string>& meta, std::int64_t started,
                        std::int64_t finished) {
    const std::int64_t written = modified_at(file);
    if (!(written >= 0 && started >= 0 && written >= started - 1 && written <= finished + 2))
        return false;
    if (l.phase != "phase2" || !l.best_val_ppl) return true;
    const auto ppl = meta.find("cp_val_ppl");
    return ppl != meta.end() &&
           std::abs(std::strtod(ppl->second.c_str(), nullptr) - *l.best_val_ppl) <=
               1e-6 * std::abs(*l.best_val_ppl) + 1e-6;
}

}  // namespace

void RunStore::adopt_legacy_files() {
    std::vector<LegacyFile> legacy;
    {
        Statement q(db_, R"(
            SELECT f.run_id, f.path, r.phase, r.started_at, r.finished_at, r.uid,
                   (SELECT value FROM results x WHERE x.run_id = r.id AND x.name = 'best_val_ppl')
            FROM run_files f JOIN runs r ON r.id = f.run_id WHERE f.origin = 'legacy')");
        while (q.step())
            legacy.push_back({q.integer(0), q.text(1), q.text(2), q.text(3), q.text(4), q.text(5),
                              q.null(6) ? std::nullopt : std::optional<double>(q.real(6))});
    }
    for (const LegacyFile& l : legacy) {
        const fs::path file(l.path);
        const std::int64_t started = parse_utc(l.started);
        const std::int64_t finished = l.finished.empty() ? std::time(nullptr) : parse_utc(l.finished);
        const auto meta = safetensors_metadata(file);
        const bool attributed = written_by_its_run(l, file, meta, started, finished);
        std::vector<std::pair<std::string, fs::path>> owned;
        if (attributed) {
            const fs::path folder = files_folder() / l.uid;
            copy_into_place(file, folder / file.filename());
            owned.emplace_back(file_role::checkpoint, folder / file.filename());
            const auto state = meta.find("cp_optimizer_state");
            const std::pair<std::string, fs::path> sides[] = {
                {file_role::diversity, file.string() + ".diversity.json"},
                {file_role::optimizer_state, state == meta.end()
                                                 ? fs::path(file.string() + ".optimizer.pt")
                                                 : file.parent_path() / state->second}};
            for (const auto& [role, side] : sides) {
                const std::int64_t t = modified_at(side);
                if (t < started - 1 || t > finished + 2) continue;
                copy_into_place(side, folder / side.filename());
                owned.emplace_back(role, folder / side.filename());
            }
        }
        exec("BEGIN IMMEDIATE");
        try {
            Statement still(db_, "SELECT 1 FROM run_files WHERE run_id = ? AND origin = 'legacy'");
            still.bind(1, l.run_id);
            if (still.step()) {  // another process may have adopted it meanwhile
                for (const auto& [role, path] : owned)
                    insert_file(l.run_id, role, stored_form(path), bytes_of(path),
                                sha256_file(path), FileOrigin::owned);
                if (!attributed)
                    insert_file(l.run_id, file_role::checkpoint, l.path, -1, "",
                                FileOrigin::unverified);
            }
        } catch (...) {
            exec("ROLLBACK");
            throw;
        }
        exec("COMMIT");
    }
}

}  // namespace cp::store
