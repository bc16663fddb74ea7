// The comparison of a seed group: the same two designs trained with seeds s, s+1, ..., one
// experiment per seed. Every measure is the mean over the finished seeds with its standard
// deviation and 95% t-interval; the difference A - B is estimated from the per-seed paired
// differences (the seeds share data and initialisation stream, so pairing removes their common
// part), with a column saying whether its interval excludes 0 (MODEL_SPEC §5).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/stats.h"
#include "report/comparison.h"

namespace cp::report {

struct GroupMember {
    std::int64_t experiment_id = 0;
    std::uint64_t seed = 0;
    std::string problem;  // why this seed is left out of the statistics; empty when used
    bool used() const { return problem.empty(); }
};

struct GroupRow {
    std::string key, measure;
    std::vector<std::optional<double>> a, b;  // one per used seed, in seed order
    std::optional<SeedEstimate> a_estimate, b_estimate;
    std::optional<SeedEstimate> difference;  // of the per-seed differences a - b
    std::optional<double> ratio() const;     // mean of A / mean of B
};

struct GroupComparison {
    std::string group_uid;
    ComparisonSide a, b;  // the designs compared, as in the first used seed
    std::vector<GroupMember> members;
    std::vector<std::int64_t> a_runs, b_runs;  // each used seed's Phase 2 run of A and of B
    std::vector<GroupRow> rows;
    std::vector<std::string> not_learned;  // per seed and model, as Comparison::not_learned
    std::int64_t n() const;                // seeds in the statistics
    std::string seeds_text() const;        // "seeds 0, 1, 2 (n = 3); seed 3 failed: ..."
    const GroupRow& row(const std::string& key) const;  // throws for an unknown key
};

// The group an experiment belongs to when it has more than one member; empty otherwise.
std::optional<std::string> seed_group_of(store::RunStore& store, std::int64_t experiment_id);

// Context-Pythia against Pythia over the group's seeds; throws naming the way out when no seed
// finished both.
GroupComparison compare_group(store::RunStore& store, const std::string& group_uid);

// One metric over several runs (a group's seeds of one design), step by step: the mean and the
// sample standard deviation at every step all the runs recorded, for a mean line with a ±1 sd
// band. With one run the sd is 0.
struct MeanCurve {
    std::vector<double> step, mean, sd;
    std::int64_t runs = 0;
};
MeanCurve mean_curve(store::RunStore& store, const std::vector<std::int64_t>& run_ids,
                     const std::string& metric);

// The table as text cells, header first: what the terminal and the GUI both show.
std::vector<std::vector<std::string>> group_table_cells(const GroupComparison& g);
std::string group_comparison_text(const GroupComparison& g);
// measure, n, then mean, sd, 95% low and high for A, B and A - B, "excludes 0", A / B; then one
// row per seed's values and the verdict lines.
void write_group_csv(const GroupComparison& g, std::ostream& out);

}  // namespace cp::report
