// Small pieces the report tables share: an experiment's parameters as flat dotted keys, and a
// fixed-width text table for terminals.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cp::report {

// {"phase2": {"learning_rate": 0.01}} -> {"phase2.learning_rate": 0.01}; text that is not a
// JSON object gives an empty map (an experiment row is never refused for its params).
std::map<std::string, nlohmann::json> flatten_params(const std::string& params_json);

// Columns padded to their widest cell, two spaces apart; right-aligned where `right[i]`.
std::string text_table(const std::vector<std::vector<std::string>>& rows,
                       const std::vector<bool>& right);

}  // namespace cp::report
