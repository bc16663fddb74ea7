#include "cli/run_options.h"

#include <nlohmann/json.hpp>

#include "experiment/param_schema.h"

namespace cp::cli {
using nlohmann::json;

std::vector<Option> run_options() {
    std::vector<Option> options;
    for (const train::ParamSpec& spec : train::param_schema()) {
        std::string help = spec.help;
        if (spec.type == train::ParamType::required_integer) {
            help += " (required)";
        } else if (spec.type != train::ParamType::flag) {
            const std::string d = spec.default_text();
            if (!d.empty()) help += " (default: " + d + ")";
        }
        if (!spec.reference_note.empty()) help += " [" + spec.reference_note + "]";
        options.push_back({spec.cli, spec.type == train::ParamType::flag ? "" : spec.value_name,
                           help, spec.type == train::ParamType::text_list});
    }
    options.push_back({"json", "", "print a final summary object on stdout"});
    options.push_back({"quiet", "", "no progress line"});
    return options;
}

// Every schema option given on the command line, parsed by its type into the parameters.
train::ExperimentParams params_from(const Args& args) {
    train::ExperimentParams p;
    for (const train::ParamSpec& spec : train::param_schema()) {
        if (!args.has(spec.cli)) continue;
        if (spec.type == train::ParamType::text_list) {
            json all = json::array();
            for (const std::string& v : args.all(spec.cli))
                for (const json& item : spec.parse_text(v)) all.push_back(item);
            spec.set(p, all);
        } else {
            spec.set(p, spec.parse_text(args.get(spec.cli)));
        }
    }
    return p;
}

}  // namespace cp::cli
