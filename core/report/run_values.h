// What the comparisons read of one run: its results, its Phase 1's results (through the run's
// provenance), its wall time and its experiment's parameters; and the measures a comparison
// shows, in the order researchers read them. Shared by the two-run comparison
// (report/comparison.h) and the comparison of an experiment's designs (report/design_comparison.h)
// so both show the same rows from the same numbers.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

using Results = std::map<std::string, double>;

struct RunValues {
    store::RunRow run;
    Results results, phase1_results;
    // The Phase 1 run its ContextBlock came from (the run's provenance column), or itself.
    std::optional<std::int64_t> phase1_run_id;
    std::optional<store::RunStatus> phase1_status;
    std::optional<double> wall_seconds;
    std::map<std::string, nlohmann::json> params;  // the experiment's, flat
};
RunValues load_run_values(store::RunStore& store, std::int64_t run_id);

struct Measure {
    const char* key;
    const char* label;
    const char* result;  // the run result it reads; "" for derived ones
    bool from_phase1;    // read from the run's Phase 1 run
};
// The fixed rows, in order: cost first (the KV rows, one per measured length, come right after
// them: kv_rows_follow), then quality, then speed, then Phase 1.
const std::vector<Measure>& measures();
inline constexpr const char* kv_rows_follow = "scored_length";

// The value of a fixed measure for a run; absent when not measured.
std::optional<double> measure_value(const RunValues& v, const Measure& m);
// The cache lengths any of the runs measured, ascending (results kv_bytes_per_token_at_<length>).
std::set<std::int64_t> measured_kv_lengths(const std::vector<const RunValues*>& runs);
// "KV cache at 512 tokens (bytes/token, measured)" and its key "kv_512".
std::string kv_row_key(std::int64_t length);
std::string kv_row_label(std::int64_t length);

std::optional<double> lookup(const Results& r, const std::string& name);
// 1 when the run's test perplexity is below the unigram baseline of its training tokens, 0 when
// not; absent when either was not measured.
std::optional<double> learned(const Results& r);
// Why a run's comparison says nothing yet (it did not beat its unigram baseline), or "".
std::string not_learned_reason(const RunValues& v);
// 1 when the run's test perplexity is below the bigram baseline of its training tokens, 0 when
// not, absent without both (runs before #26 have no bigram).
std::optional<double> beyond_bigram(const Results& r);
// Why a run that learned is only "barely learned" (not below the bigram baseline), or "".
std::string barely_learned_reason(const RunValues& v);

}  // namespace cp::report
