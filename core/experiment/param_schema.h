// Every experiment parameter, declared once (and, with the same machinery, every cache-eval and
// bench option: experiment/cache_eval_params.h, experiment/bench_options.h): its JSON key, command-line name, type, help, unit,
// group, reference value and single-field validation. The CLI's options and --help, JSON
// read/write, the GUI's fields and QSettings are all made from this list; the default is the
// ExperimentParams member's initialiser. Adding a parameter: a member in experiment_params.h,
// one entry in param_schema.cpp, and its use.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiment/experiment_params.h"

namespace cp::train {

enum class ParamType {
    required_integer,  // no default anywhere: samples, seq_length, epochs
    integer,
    seed,  // a whole number >= 0
    real,
    text,
    flag,
    choice,        // one of `choices`
    text_list,     // comma-separated on the CLI, repeatable
    integer_list,  // comma-separated, ascending
    design_list,   // model design keys, comma-separated
};

// Where a parameter sits in --help and in the GUI.
enum class ParamGroup { required, run, phase1, phase2, evaluation, storage };
const char* group_title(ParamGroup g);

// What a parameter is, whichever command's parameters hold it: its names, type, help and the
// form's layout. BasicParamSpec binds it to a member.
struct ParamInfo {
    std::string key;  // JSON path with dots: "phase2.learning_rate"
    std::string cli;  // --lr
    ParamType type = ParamType::text;
    std::string value_name;  // LR
    std::string help;        // one line, without the default
    std::string unit;        // "tokens", "" when none
    ParamGroup group = ParamGroup::run;
    std::vector<std::string> choices;  // choice: the valid values
    bool in_gui = true;                // shown in the workbench's form
    // Bookkeeping: says where and how a run is kept or which steps run, not what is trained on
    // what (the name, the database, threads, which designs). Runs added to one experiment must
    // agree on every parameter that is not bookkeeping.
    bool bookkeeping = false;
    bool basic = false;                      // in the form's always-visible part (else Advanced)
    std::string label;                       // the form's field label
    std::vector<std::string> choice_labels;  // shown for `choices` (same order), when given
    std::string placeholder;                 // the form's hint when it differs from the default
    std::string reference_note;              // "reference: 5000" when the default differs from it
    // An integer whose 0 is only the default ("off"): typed as a value it is refused with this
    // way out ("leave --eval-stride out for none"). Empty: 0 is a value like any other.
    std::string zero_when_typed;
    // A file's parameter: the form offers a file picker beside the field.
    bool is_file = false;
    // The key records written before it was renamed store it under ("" when never renamed):
    // read from there when the record has no value under `key`.
    std::string legacy_key;
    // Given several times on the command line, each adds (text lists always do).
    bool repeated = false;
    // What the default means when its value says little ("the run's own evaluation's" for 0).
    std::string default_note;
    // What the value names, in one line for the form to show under the field ("Hugging Face
    // GPT-NeoX: hidden 512, ..."); throws cp::Error when it names nothing readable. Empty: none.
    std::function<std::string(const std::string&)> describe;

    // A value typed by a user (CLI or GUI field) as JSON of this type; throws cp::Error naming
    // --cli and what is expected.
    nlohmann::json parse_text(const std::string& text) const;
    // A value as a user would type it back ("" for none): the inverse of parse_text.
    static std::string text_of(const nlohmann::json& value);
};

// A parameter bound to its member of `Params` (ExperimentParams, CacheEvalParams, BenchOptions):
// the default is the member's initialiser.
template <class Params>
struct BasicParamSpec : ParamInfo {
    // The member's value as JSON, and setting it from JSON (throws cp::Error naming the key).
    std::function<nlohmann::json(const Params&)> get;
    std::function<void(Params&, const nlohmann::json&)> set;
    // Single-field validation: a problem message, or "" when fine.
    std::function<std::string(const Params&)> check;

    // The value the GUI and --help show as default ("" for required ones).
    std::string default_text() const {
        return type == ParamType::required_integer ? "" : text_of(get(Params{}));
    }
    // The value as a user would type it back: the inverse of parse_text.
    std::string to_text(const Params& p) const { return text_of(get(p)); }
};

using ParamSpec = BasicParamSpec<ExperimentParams>;

const std::vector<ParamSpec>& param_schema();

// The parameters two sets of runs must share to belong to one experiment (same data, seeds,
// budget and hyper-parameters): "key: a vs b" for each that differs, empty when they agree.
std::vector<std::string> experiment_differences(const ExperimentParams& a,
                                                const ExperimentParams& b);
// The `context-pythia run` command that gives exactly these parameters: the required ones and
// every other that differs from its default, each as the user would type it, quoted for a POSIX
// shell. The reproducibility stamp records it for every experiment (a GUI launch too).
std::string reproducing_command(const ExperimentParams& p);
// The same as arguments after `run` ("--samples", "2000", ...), for starting it directly.
std::vector<std::string> reproducing_arguments(const ExperimentParams& p);
// `text` quoted for a POSIX shell when it needs to be ('it''s' -> 'it'\''s').
std::string shell_quote(const std::string& text);

const ParamSpec& param(const std::string& key);  // throws for an unknown key
const ParamSpec* param_by_cli(const std::string& cli);

}  // namespace cp::train
