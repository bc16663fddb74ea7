// Command-line options for one CLI command: declared once, parsed strictly, and turned into the
// command's --help text, so the help can never disagree with what is accepted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cp::cli {

struct Option {
    std::string name;        // without dashes: "tokenizer" for --tokenizer
    std::string value_name;  // "PATH"; empty for a flag
    std::string help;        // one line; states the default where there is one
    bool repeatable = false;
};

class Args {
  public:
    Args(std::string usage, std::string summary, std::vector<Option> options,
         std::string positional_help = "", std::size_t max_positional = 0);

    // Parses argv[first..argc). Throws cp::Error naming the unknown or incomplete option.
    void parse(int argc, char** argv, int first);

    bool help_requested() const { return help_; }
    // parse(), then prints the --help text when it was asked for: `if (args.parse_and_print_help
    // (argc, argv, first)) return 0;` starts every command.
    bool parse_and_print_help(int argc, char** argv, int first);
    std::string help() const;

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const;
    std::vector<std::string> all(const std::string& name) const;
    const std::vector<std::string>& positional() const { return positional_; }

  private:
    const Option* find(const std::string& name) const;

    std::string usage_, summary_, positional_help_;
    std::vector<Option> options_;
    std::size_t max_positional_;
    bool help_ = false;
    std::map<std::string, std::vector<std::string>> values_;
    std::vector<std::string> positional_;
};

// An option's value as a whole number or a number; throws cp::Error naming the option.
std::int64_t parse_int_option(const std::string& option, const std::string& text);
double parse_double_option(const std::string& option, const std::string& text);

}  // namespace cp::cli
