#include "cli/run_options.h"

namespace cp::cli {

std::vector<Option> run_options() {
    std::vector<Option> options = options_of(train::param_schema());
    options.push_back({"json", "", "print a final summary object on stdout"});
    options.push_back({"quiet", "", "no progress line"});
    return options;
}

train::ExperimentParams params_from(const Args& args) {
    return params_from(args, train::param_schema());
}

}  // namespace cp::cli
