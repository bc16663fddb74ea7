// Any two runs side by side: one row per measure (units in the label), the two sides, their
// difference and their ratio. Built from the run store alone, so the CLI, the GUI and the CSV
// show the same numbers. An experiment's designs are compared whole by report/design_comparison.h.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

struct ComparisonSide {
    std::int64_t run_id = 0, experiment_id = 0;
    // The Phase 1 run its ContextBlock came from (the run's provenance column), or itself.
    std::optional<std::int64_t> phase1_run_id;
    std::optional<store::RunStatus> phase1_status;
    model::Design model = model::Design::pythia;
    store::Phase phase = store::Phase::phase2;
    store::RunStatus status = store::RunStatus::finished;
    std::string name;
    std::string label() const;  // "run 12: context-pythia phase2 (finished)"
};

struct ComparisonRow {
    std::string key;      // stable identifier: "test_ppl"
    std::string measure;  // with its unit: "Test perplexity"
    std::optional<double> a, b;
    std::optional<double> difference() const;  // a - b
    std::optional<double> ratio() const;       // a / b, absent when b is 0
};

// The banner on a comparison in which a model learned nothing (MODEL_SPEC §5, "learned").
inline constexpr const char* kNotLearned = "Not learned — this comparison says nothing yet";
// The label of a model that beat the unigram but not the bigram baseline (MODEL_SPEC §5).
inline constexpr const char* kBarelyLearned =
    "Barely learned — no better than the previous token alone predicts";

struct Comparison {
    ComparisonSide a, b;
    std::vector<ComparisonRow> rows;
    // One line per side whose test perplexity is not below the unigram baseline of its training
    // tokens: the comparison of such a model says nothing yet. Empty when both learned (or when
    // that was not measured).
    std::vector<std::string> not_learned;
    // Experiment parameters that differ between the two sides: "seq_length: 32 vs 64".
    std::vector<std::string> parameter_differences;
    const ComparisonRow& row(const std::string& key) const;  // throws for an unknown key
};

// The fixed rows, in order, present even when a side has no value. The KV-cache rows come
// between the costs (parameters, tokens trained) and the perplexities, one per cache length
// either run measured (key "kv_<length>").
const std::vector<std::string>& comparison_keys();

Comparison compare_runs(store::RunStore& store, std::int64_t run_a, std::int64_t run_b);

// The banner and its reasons, for terminals and the GUI; "" when every model learned.
std::string verdict_text(const std::vector<std::string>& not_learned);
// The label and its reasons; "" when every model that learned beat the bigram.
std::string barely_learned_text(const std::vector<std::string>& barely_learned);

// The CSV of exactly this table: measure, A, B, A - B, A / B, then the parameter differences.
void write_comparison_csv(const Comparison& c, std::ostream& out);
// A fixed-width text table for terminals.
std::string comparison_text(const Comparison& c);

}  // namespace cp::report
