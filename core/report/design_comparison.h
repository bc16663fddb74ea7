// The comparison an experiment exists for (KV_METHODS.md part C): one column per design it
// trained, every measure beside each design's cost (parameters, tokens trained, KV bytes per
// token), the ratio of each to Pythia's, and the KV cache's claim and formula beside its
// measurement. Over a seed group (the same experiment with seeds s, s+1, ...) each cell is the
// mean ± sd over the seeds with its 95% t-interval, and the difference to Pythia is estimated
// from the per-seed paired differences (the seeds share data, so pairing removes their common
// part; MODEL_SPEC §5). One seed is the same table with n = 1. Built from the store alone: the
// CLI, the GUI and the CSV show the same numbers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/stats.h"
#include "model/design.h"
#include "store/run_store.h"

namespace cp::report {

struct GroupMember {
    std::int64_t experiment_id = 0;
    std::uint64_t seed = 0;
    std::string problem;  // why this seed is left out of the statistics; empty when used
    bool used() const { return problem.empty(); }
};

// A column: a trained design, or a trained design evaluated under a cache policy (its
// evaluation runs, linked to the trained run, recorded by cache-eval).
struct DesignColumn {
    model::Design design = model::Design::pythia;
    std::string policy;              // the cache policy's text; empty for the trained design
    // The pretrained checkpoint of a run --init-from, evaluated as it is (no training): its own
    // column beside Pythia fine-tuned from it (#27).
    bool pretrained_as_is = false;
    std::vector<std::int64_t> runs;  // its run in each used seed, in seed order
    store::RunStatus status = store::RunStatus::finished;  // of the first seed's run
    std::optional<std::int64_t> phase1_run;                 // the first seed's block provenance
    std::optional<store::RunStatus> phase1_status;
    std::string heading() const;  // "Context-Pythia", "Pythia-GQA (failed)", "Pythia + int8"
    // "pythia", "pythia+int8:group=32,residual=32", "pythia@pretrained"
    std::string key() const;
};

struct DesignCell {
    std::vector<std::optional<double>> values;  // one per used seed
    std::optional<SeedEstimate> estimate;       // over the seeds; n = 1: the value, no sd
    std::optional<double> ratio;                // mean over the reference column's mean
    std::optional<SeedEstimate> difference;     // of the per-seed differences to the reference
    // The paired difference's 95% interval over resampled held-out text (common/stats.h), the
    // same resamples for every column: documents for test perplexity and token accuracy, passages
    // for last-word accuracy (text_units). Absent for runs that did not record their per-chunk
    // or per-passage outcomes (before #26) or were scored on other text.
    std::optional<Interval> document_interval;
};

struct DesignRow {
    std::string key, measure;
    std::vector<DesignCell> cells;  // one per column
};

// A design's KV cache against Pythia's at each measured length: what its proponents claim,
// what the formula of its config says, what its cache tensors measured. A measurement that
// differs from the formula is the bug the workbench exists to catch (MODEL_SPEC §2).
struct KvCheck {
    model::Design design = model::Design::pythia;
    std::optional<double> claimed;  // the registry's claim, when it makes one
    std::string claim_source;
    std::vector<std::int64_t> lengths;
    std::vector<std::optional<double>> formula, measured;  // ratios to Pythia, per length
    // Some length where the measured ratio differs from the formula's by more than 1%.
    bool disagrees() const;
    // Some length where the claim differs from the measured ratio by more than 1%.
    bool claim_differs() const;
};

struct DesignComparison {
    std::string group_uid;              // empty: one experiment on its own
    std::vector<GroupMember> members;   // the experiments compared, one per seed
    std::vector<DesignColumn> columns;  // in training order
    std::optional<std::size_t> baseline;  // the Pythia column: what the KV checks measure against
    // The column the ratios and paired differences are to: Pythia unless another was chosen.
    std::optional<std::size_t> reference;
    std::string reference_heading() const;  // "Pythia", "Projection-256"
    std::string reference_key() const;      // "pythia", "projection-256"
    std::vector<DesignRow> rows;
    std::vector<KvCheck> kv_checks;  // every column but the baseline, when there is one
    std::vector<std::string> not_learned;  // "seed 3: pythia (run 7): test perplexity ..."
    std::vector<std::string> barely_learned;  // learned, but not below the bigram baseline
    std::vector<std::string> notes;        // policy columns left out of a group, ...
    std::vector<std::int64_t> kv_lengths;  // measured, ascending
    std::size_t test_documents = 0;        // the held-out documents the intervals resample
    // Per measure with a text interval (test_ppl, test_accuracy, last_word_accuracy), per column:
    // each seed's per-chunk (or per-passage) values and the unit each belongs to.
    struct TextUnits {
        std::vector<std::vector<double>> per_seed;
        std::vector<std::int64_t> unit;
    };
    std::map<std::string, std::vector<std::optional<TextUnits>>> text_units;
    // The paired difference column a − column b of `key` over resampled text, when both have the
    // same units in every seed.
    std::optional<Interval> text_interval(const std::string& key, std::size_t a,
                                          std::size_t b) const;
    std::int64_t n() const;                // seeds in the statistics
    std::string seeds_text() const;        // "seeds 0, 1, 2 (n = 3); seed 3 ... left out: ..."
    const DesignRow& row(const std::string& key) const;  // throws for an unknown key
    // The trained design's column (policy empty), or its column under a policy.
    std::optional<std::size_t> column_of(model::Design d, const std::string& policy = "") const;
};

// The group an experiment belongs to when it has more than one member; empty otherwise.
std::optional<std::string> seed_group_of(store::RunStore& store, std::int64_t experiment_id);

// The designs of an experiment, or of its whole seed group (unless `this_seed_only`), and the
// cache policies its runs were evaluated under (a column each; in a group, only the policies every
// used seed has). Throws naming the way out when there is nothing to compare (no Phase 2 run nor
// policy evaluation; no seed that finished every design).
// `reference` is the column key (a design's, "pythia+int8:...") the ratios and paired differences
// are to; empty: Pythia. A key not among the columns is refused naming the columns there are.
DesignComparison compare_designs(store::RunStore& store, std::int64_t experiment_id,
                                 bool this_seed_only = false, const std::string& reference = "");

// The table as text cells, header first: what the terminal and the GUI both show. A cell is the
// value (n = 1) or "mean ± sd [low, high]", then "×ratio" to Pythia.
std::vector<std::vector<std::string>> design_table_cells(const DesignComparison& c);
// Over two seeds or more: each design's difference to Pythia from the paired seeds,
// "mean [low, high]" and whether the interval excludes 0. Empty for one seed or no Pythia.
std::vector<std::vector<std::string>> difference_table_cells(const DesignComparison& c);
// The KV check: each design's claim, formula and measurement against Pythia per length.
std::vector<std::vector<std::string>> kv_check_cells(const DesignComparison& c);
// Context-Pythia's two ingredients, each judged on its own (#26): the recurrence (Context-Pythia
// − projection-256: the same layers behind a per-token projection instead of the ContextBlock)
// and Phase 1 (Context-Pythia − the untrained-block ablation), as paired per-seed differences of
// the test perplexity. One per pair of columns present.
struct Effect {
    std::string name;   // "the recurrence (Context-Pythia − Projection-256)"
    std::string key;    // "recurrence", "phase1"
    std::optional<SeedEstimate> difference;  // test perplexity, paired over the seeds
    std::optional<Interval> document_interval;  // the same, paired over resampled documents
};
std::vector<Effect> context_pythia_effects(const DesignComparison& c);
// "the recurrence (...): +312 test perplexity, 95% t-interval [...] over 3 seeds (excludes 0)"
std::string effect_text(const Effect& e);
std::string design_comparison_text(const DesignComparison& c);
// One row per measure; per design its mean, sd, 95% low and high, ratio to Pythia, and the paired
// difference to Pythia (mean, 95% low and high, excludes 0); then the KV check and the notes.
void write_design_csv(const DesignComparison& c, std::ostream& out);

// One design on the Pareto plot: the KV bytes per token its cache held while its quality was
// scored (x; or, when asked, the bytes measured at a longer cache length) against that quality
// (y), the 95% t-interval of y when seeds repeat, and whether no other design is at least as good
// on both with one strictly better. A point whose quality was not scored at the chosen length is
// kept but greyed, with the reason, and is never on the front.
struct ParetoPoint {
    std::string label;  // the column's heading
    model::Design design = model::Design::pythia;
    std::string policy;  // empty for a trained design
    double x = 0, y = 0;
    std::optional<Interval> y_interval;
    std::optional<double> y_sd;
    bool on_front = false;
    std::string greyed;  // why it is not comparable at this length; "" when it is
};
struct ParetoView {
    std::int64_t length = 0;    // the cache length of x; 0: where each quality was scored
    std::string measure_key;    // "test_ppl" or "last_word_accuracy"
    std::string x_label, y_label;
    bool lower_is_better = true;  // perplexity: lower; accuracy: higher
    std::vector<ParetoPoint> points;  // columns with both values, in column order
    std::vector<std::size_t> front() const;  // indices on the front, by ascending x
    // Points drawn as one curve, each by ascending x: a design family's trained members (a
    // design and its quarter and eighth, model_registry.h's `family`), or one trained run's
    // policy of one kind at several settings (budgets). Greyed points are left out; only curves
    // of two or more points.
    std::vector<std::vector<std::size_t>> curves() const;
};
// `measure_key` is one of pareto_measures() (anything else is refused by name); `length` 0 (the
// default) pairs each quality with the bytes of the tokens it was scored on; otherwise one of the
// lengths measured, where points scored at another length are greyed.
ParetoView pareto_view(const DesignComparison& c, const std::string& measure_key,
                       std::int64_t length = 0);
void write_pareto_csv(const ParetoView& v, std::ostream& out);
// The Pareto view's y choices: (key, label, lower is better).
struct ParetoMeasure {
    const char* key;
    const char* label;
    bool lower_is_better;
};
const std::vector<ParetoMeasure>& pareto_measures();

// One metric over several runs (a group's seeds of one design), step by step: the mean and the
// sample standard deviation at every step all the runs recorded, for a mean line with a ±1 sd
// band. With one run the sd is 0.
struct MeanCurve {
    std::vector<double> step, mean, sd;
    std::int64_t runs = 0;
};
MeanCurve mean_curve(store::RunStore& store, const std::vector<std::int64_t>& run_ids,
                     const std::string& metric);

// The mean loss at each position of the scored test chunks, per column (trained designs and
// policies; mean ± sd over the seeds): whether a design or a policy uses its context. Columns
// without the series (evaluated before it was recorded) are left out.
struct PositionSeries {
    std::string label;  // the column's heading
    model::Design design = model::Design::pythia;
    std::string policy;
    MeanCurve curve;  // step = position (1-based; past 64 the first of a bucket)
};
std::vector<PositionSeries> loss_by_position(store::RunStore& store, const DesignComparison& c);
// Long format: column, label, position, mean loss, sd.
void write_loss_by_position_csv(const std::vector<PositionSeries>& series, std::ostream& out);

}  // namespace cp::report
