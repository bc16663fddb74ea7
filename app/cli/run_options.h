// `run`'s options, made from core's parameter schema (experiment/param_schema.h), and reading them
// back into parameters: shared by `run` and `sweep`, which passes them on to every cell.
#pragma once

#include <vector>

#include "cli/args.h"
#include "experiment/experiment_params.h"

namespace cp::cli {

// One option per experiment parameter (its default or "required" in the help), then `run`'s
// own output options (--json, --quiet).
std::vector<Option> run_options();
// Every schema option given on the command line, parsed by its type into the parameters.
train::ExperimentParams params_from(const Args& args);

}  // namespace cp::cli
