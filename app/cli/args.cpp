#include "cli/args.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "common/error.h"
#include "common/numbers.h"

namespace cp::cli {

Args::Args(std::string usage, std::string summary, std::vector<Option> options,
           std::string positional_help, std::size_t max_positional)
    : usage_(std::move(usage)),
      summary_(std::move(summary)),
      positional_help_(std::move(positional_help)),
      options_(std::move(options)),
      max_positional_(max_positional) {}

const Option* Args::find(const std::string& name) const {
    const auto it = std::find_if(options_.begin(), options_.end(),
                                 [&](const Option& o) { return o.name == name; });
    return it == options_.end() ? nullptr : &*it;
}

void Args::parse(int argc, char** argv, int first) {
    // The words before the first option, [ or ( of the usage: "context-pythia init --preset ..."
    // names itself "context-pythia init".
    const std::size_t options_start = usage_.find_first_of("-[(", usage_.find(' ') + 1);
    const std::string command =
        options_start == std::string::npos ? usage_ : usage_.substr(0, options_start - 1);
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            help_ = true;
            continue;
        }
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            std::string name = arg.substr(2), value;
            bool inline_value = false;
            if (const auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                inline_value = true;
            }
            const Option* option = find(name);
            if (!option)
                throw Error("unknown option '--" + name + "' for '" + command + "' (see '" +
                            command + " --help')");
            if (option->value_name.empty()) {
                if (inline_value) throw Error("option '--" + name + "' takes no value");
                values_[name].push_back("1");
                continue;
            }
            if (!inline_value) {
                if (i + 1 >= argc)
                    throw Error("option '--" + name + "' needs a value: --" + name + " " +
                                option->value_name);
                value = argv[++i];
            }
            if (!option->repeatable && has(name))
                throw Error("option '--" + name + "' is given twice");
            values_[name].push_back(value);
            continue;
        }
        if (arg != "-" && arg.size() > 1 && arg[0] == '-')
            throw Error("unknown option '" + arg + "' for '" + command + "' (see '" + command +
                        " --help')");
        if (positional_.size() >= max_positional_)
            throw Error("unexpected argument '" + arg + "' for '" + command + "' (see '" + command +
                        " --help')");
        positional_.push_back(arg);
    }
}

bool Args::parse_and_print_help(int argc, char** argv, int first) {
    parse(argc, argv, first);
    if (help_) std::cout << help();
    return help_;
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::help() const {
    std::ostringstream out;
    out << "usage: " << usage_ << "\n\n" << summary_ << "\n";
    if (!positional_help_.empty()) out << "\n" << positional_help_ << "\n";
    out << "\noptions:\n";
    std::size_t width = 10;
    const auto label = [](const Option& o) {
        return "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    };
    for (const Option& o : options_) width = std::max(width, label(o).size());
    for (const Option& o : options_)
        out << "  " << label(o) << std::string(width - label(o).size() + 2, ' ') << o.help
            << (o.repeatable ? " (repeatable)" : "") << "\n";
    out << "  --help" << std::string(width - 6 + 2, ' ') << "show this help\n";
    return out.str();
}

std::int64_t parse_int_option(const std::string& option, const std::string& text) {
    const auto v = parse_whole_number(text);
    if (!v) throw Error("--" + option + " must be a whole number (got '" + text + "')");
    return *v;
}

double parse_double_option(const std::string& option, const std::string& text) {
    const auto v = parse_number(text);
    if (!v) throw Error("--" + option + " must be a number (got '" + text + "')");
    return *v;
}

}  // namespace cp::cli

namespace cp::cli {

int guarded(const std::function<int()>& command) {
    try {
        return command();
    } catch (const cp::Error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "internal error: " << e.what() << "\n";
        return 3;
    }
}

}  // namespace cp::cli
