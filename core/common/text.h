// Small text helpers shared across core.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace cp {

// The parts of `text` between separators, empty parts left out ("a,,b," -> a, b).
inline std::vector<std::string> split_skipping_empty(const std::string& text, char separator) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string part;
    while (std::getline(in, part, separator))
        if (!part.empty()) out.push_back(part);
    return out;
}

}  // namespace cp
