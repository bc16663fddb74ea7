// The one exception type of core: a message that says what went wrong, where, and what to do.
// Front ends (CLI, GUI) print it as it is; tests assert on its text.
#pragma once

#include <stdexcept>
#include <string>

namespace cp {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace cp
