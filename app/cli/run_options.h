// Command-line options made from core's parameter schemas (experiment/param_schema.h), and
// reading them back into parameters: `run` and `sweep` (which passes them on to every cell) from
// the experiment's schema, `cache-eval` and `bench` from theirs (experiment/cache_eval_params.h,
// experiment/bench_options.h). One way to name, document, parse and check a setting.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "common/error.h"
#include "experiment/experiment_params.h"
#include "experiment/param_schema.h"

namespace cp::cli {

// One option per parameter: its help with its default (or "required", or what the default
// means), repeatable where the parameter is.
template <class P>
std::vector<Option> options_of(const std::vector<train::BasicParamSpec<P>>& schema) {
    std::vector<Option> options;
    for (const auto& spec : schema) {
        std::string help = spec.help;
        if (spec.type == train::ParamType::required_integer) {
            help += " (required)";
        } else if (!spec.default_note.empty()) {
            help += " (default: " + spec.default_note + ")";
        } else if (spec.type != train::ParamType::flag) {
            const std::string d = spec.default_text();
            if (!d.empty()) help += " (default: " + d + ")";
        }
        if (!spec.reference_note.empty()) help += " [" + spec.reference_note + "]";
        const bool repeatable = spec.repeated || spec.type == train::ParamType::text_list;
        options.push_back({spec.cli, spec.type == train::ParamType::flag ? "" : spec.value_name,
                           help, repeatable});
    }
    return options;
}

// Every schema option given on the command line, parsed by its type into `p` (a repeated one
// collects every value). Every value that cannot be read (and, with `check`, every field its own
// check refuses) is named in one cp::Error.
template <class P>
P params_from(const Args& args, const std::vector<train::BasicParamSpec<P>>& schema, P p = P{},
              bool check = false) {
    std::vector<std::string> problems;
    for (const auto& spec : schema) {
        if (!args.has(spec.cli)) continue;
        try {
            if (spec.repeated || spec.type == train::ParamType::text_list) {
                nlohmann::json all = nlohmann::json::array();
                for (const std::string& v : args.all(spec.cli)) {
                    const nlohmann::json item = spec.parse_text(v);
                    if (item.is_array())
                        for (const nlohmann::json& x : item) all.push_back(x);
                    else
                        all.push_back(item);
                }
                spec.set(p, all);
            } else {
                spec.set(p, spec.parse_text(args.get(spec.cli)));
            }
        } catch (const Error& e) {
            problems.push_back(e.what());
        }
    }
    if (check)
        for (const auto& spec : schema)
            if (spec.check)
                if (const std::string problem = spec.check(p); !problem.empty())
                    problems.push_back(problem);
    if (problems.size() == 1) throw Error(problems.front());
    if (!problems.empty()) {
        std::string m = "bad options:";
        for (const std::string& problem : problems) m += "\n  " + problem;
        throw Error(m);
    }
    return p;
}

// `run`'s options: the experiment's schema, then its own output options (--json, --quiet).
std::vector<Option> run_options();
train::ExperimentParams params_from(const Args& args);

}  // namespace cp::cli
