#include "report/tables.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace cp::report {
namespace {

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::map<std::string, nlohmann::json>& out) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it)
            flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    } else if (!prefix.empty()) {
        out[prefix] = j;
    }
}

}  // namespace

std::map<std::string, nlohmann::json> flatten_params(const std::string& params_json) {
    std::map<std::string, nlohmann::json> out;
    const nlohmann::json j = nlohmann::json::parse(params_json, nullptr, false);
    if (j.is_object()) flatten(j, "", out);
    return out;
}

std::string text_table(const std::vector<std::vector<std::string>>& rows,
                       const std::vector<bool>& right) {
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        if (width.size() < row.size()) width.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    std::ostringstream s;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (i) s << "  ";
            const bool r = i < right.size() && right[i];
            s << (r ? std::right : std::left) << std::setw(static_cast<int>(width[i])) << row[i];
        }
        s << "\n";
    }
    return s.str();
}

}  // namespace cp::report
