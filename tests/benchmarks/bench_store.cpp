// Benchmark, not a test: the run store at sweep scale. Builds (once) a database of RUNS runs
// with POINTS metric points each, then times the run listing, a comparison and a series export
// in this process and prints one JSON object. The metric values are a synthetic loss curve:
// this measures the store and the CSV writer, not training.
//   bench_store DB [RUNS=200] [POINTS=100000] [CSV_OUT=/tmp/bench-series.csv]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "report/comparison.h"
#include "report/csv.h"
#include "report/exports.h"
#include "store/run_store.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <typename F>
double median_seconds(int repeats, F&& f) {
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        t.push_back(seconds_since(start));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void build(const std::string& path, int runs, int points) {
    std::vector<std::int64_t> ids;
    {
        cp::store::RunStore store(path);
        for (int i = 0; i < runs; ++i) {
            const std::int64_t e =
                i % 2 == 0 ? store.create_experiment("sweep " + std::to_string(i / 2),
                                                     R"({"samples": 10000, "seq_length": )" +
                                                         std::to_string(128 << (i / 2 % 3)) + "}")
                           : store.experiments().back().id;
            const bool context = i % 2 == 0;
            const std::int64_t r = store.create_run(
                {e, context ? cp::model::Design::context_pythia : cp::model::Design::pythia,
                 cp::store::Phase::phase2, "cpu", "", std::nullopt});
            for (const char* name :
                 {"best_val_ppl", "test_ppl", "test_accuracy", "last_word_accuracy",
                  "train_tokens_per_second", "seconds_per_epoch", "generation_tokens_per_second",
                  "parameters_total", "parameters_trainable", "wall_seconds",
                  "kv_bytes_per_token_at_128", "kv_bytes_per_token_at_512",
                  "kv_bytes_per_token_at_2048", "best_epoch"})
                store.set_result(r, name, 100.0 + i + std::strlen(name));
            store.finish_run(r, cp::store::RunStatus::finished);
            ids.push_back(r);
        }
    }
    // Bulk insert directly: the workbench writes points in batches as training produces them,
    // which is not what is being measured here.
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO metrics(run_id, name, step, epoch, value, wall_time) "
                       "VALUES(?, ?, ?, ?, ?, ?)",
                       -1, &s, nullptr);
    for (std::int64_t id : ids) {
        for (int p = 0; p < points; ++p) {
            const bool val = p % 100 == 99;
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_text(s, 2, val ? "val_loss" : "train_loss", -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, p + 1);
            sqlite3_bind_int64(s, 4, p / 1000);
            sqlite3_bind_double(s, 5, 3.0 + 8.0 * std::exp(-p / 20000.0) + 0.01 * std::sin(p));
            sqlite3_bind_double(s, 6, 0.05 * p);
            sqlite3_step(s);
            sqlite3_reset(s);
        }
    }
    sqlite3_finalize(s);
    sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_store DB [RUNS=200] [POINTS=100000] [CSV_OUT]\n");
        return 2;
    }
    const std::string path = argv[1];
    const int runs = argc > 2 ? std::atoi(argv[2]) : 200;
    const int points = argc > 3 ? std::atoi(argv[3]) : 100000;
    const std::string csv_out = argc > 4 ? argv[4] : "/tmp/bench-series.csv";
    double build_seconds = 0;
    if (!std::filesystem::exists(path)) {
        const auto start = std::chrono::steady_clock::now();
        build(path, runs, points);
        build_seconds = seconds_since(start);
    }
    cp::store::RunStore store(path);
    const auto listed = cp::report::list_runs(store);
    std::size_t listing_bytes = 0;
    const double list_s = median_seconds(
        5, [&] { listing_bytes = cp::report::runs_text(cp::report::list_runs(store)).size(); });
    const std::int64_t a = listed.front().run.id, b = listed.back().run.id;
    const double compare_s = median_seconds(5, [&] {
        const auto c = cp::report::compare_runs(store, a, b);
        (void)cp::report::comparison_text(c);
    });
    std::int64_t rows = 0;
    const double export_s = median_seconds(3, [&] {
        cp::report::CsvFile file(csv_out);
        rows = cp::report::write_metrics_csv(store, b, file.stream());
        file.commit();
    });
    std::printf(
        "{\"runs\": %zu, \"points_per_run\": %d, \"database_mb\": %.0f, \"build_seconds\": %.1f,\n"
        " \"runs_list_ms\": %.2f, \"runs_compare_ms\": %.2f,\n"
        " \"export_rows\": %lld, \"export_ms\": %.1f, \"export_rows_per_second\": %.0f}\n",
        listed.size(), points, std::filesystem::file_size(path) / 1e6, build_seconds, list_s * 1e3,
        compare_s * 1e3, static_cast<long long>(rows), export_s * 1e3,
        static_cast<double>(rows) / export_s);
    (void)listing_bytes;
    return 0;
}
