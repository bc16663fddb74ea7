// The machinery every parameter schema is made with (experiment/param_schema.h): one entry maker
// per type. The experiment's schema, cache-eval's and bench's use the same makers, so a setting
// reads, checks and prints alike in every command.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>
#include <utility>
#include <string>
#include <vector>

#include "common/error.h"
#include "experiment/param_schema.h"

namespace cp::train {

// The JSON readers of the entry makers: each throws cp::Error naming the key.
std::int64_t whole_number(const nlohmann::json& v, const std::string& key);
double real_number(const nlohmann::json& v, const std::string& key);
std::string text_value(const nlohmann::json& v, const std::string& key);

enum class RealRule { positive, non_negative, fraction_open, fraction_half_open };
// The single-field rule of a real parameter: a problem message, or "".
std::string real_problem(double v, const std::string& k, RealRule rule, bool float32);
// "a, b or c": the valid values in a message.
std::string or_list(const std::vector<std::string>& choices);

// The keys of the enums every command shares, in the order --help lists them.
inline std::vector<std::pair<model::ModelSize, std::string>> size_keys() {
    return {{model::ModelSize::tiny, model::size_key(model::ModelSize::tiny)},
            {model::ModelSize::m70, model::size_key(model::ModelSize::m70)}};
}
inline std::vector<std::pair<DeviceChoice, std::string>> device_keys() {
    return {{DeviceChoice::automatic, device_key(DeviceChoice::automatic)},
            {DeviceChoice::cpu, device_key(DeviceChoice::cpu)},
            {DeviceChoice::cuda, device_key(DeviceChoice::cuda)}};
}
inline std::vector<std::pair<model::Precision, std::string>> precision_keys() {
    return {{model::Precision::fp32, model::precision_key(model::Precision::fp32)},
            {model::Precision::bf16, model::precision_key(model::Precision::bf16)}};
}

// The entry makers of a parameter schema, one per type, each binding the member of `P` through
// a reference function (a capture-less lambda): [](P& p) -> auto& { return p.batch; }.
template <class P>
struct ParamBuilder {
    using Spec = BasicParamSpec<P>;
    template <typename T>
    using Ref = T& (*)(P&);
    using Check = std::function<std::string(const P&)>;
    using json = nlohmann::json;

    static Spec base(const char* key, const char* cli, ParamType type, const char* value_name,
                   const char* help, ParamGroup group) {
        Spec s;
        s.key = key;
        s.cli = cli;
        s.type = type;
        s.value_name = value_name;
        s.help = help;
        s.group = group;
        return s;
    }

    static Spec required_integer(const char* key, const char* cli, const char* help,
                               Ref<std::optional<std::int64_t>> ref) {
        Spec s = base(key, cli, ParamType::required_integer, "N", help, ParamGroup::required);
        s.get = [ref](const P& p) {
            const auto& v = ref(const_cast<P&>(p));
            return v ? json(*v) : json(nullptr);
        };
        s.set = [ref, k = s.key](P& p, const json& v) {
            ref(p) = v.is_null() ? std::nullopt : std::optional<std::int64_t>(whole_number(v, k));
        };
        s.check = [ref, k = s.key](const P& p) -> std::string {
            const auto& v = ref(const_cast<P&>(p));
            if (!v) return k + " is required (it has no default: choose it for this experiment)";
            if (*v <= 0) return k + " must be positive (got " + std::to_string(*v) + ")";
            return "";
        };
        return s;
    }

    static Check positive_integer(Ref<std::int64_t> ref, std::string key) {
        return [ref, key](const P& p) -> std::string {
            const std::int64_t v = ref(const_cast<P&>(p));
            return v > 0 ? "" : key + " must be positive (got " + std::to_string(v) + ")";
        };
    }
    static Check non_negative_integer(Ref<std::int64_t> ref, std::string key, std::string zero_means = "") {
        return [ref, key, zero_means](const P& p) -> std::string {
            const std::int64_t v = ref(const_cast<P&>(p));
            return v >= 0
                       ? ""
                       : key + " must be " + (zero_means.empty() ? "zero" : "0 (" + zero_means + ")") +
                             " or positive (got " + std::to_string(v) + ")";
        };
    }

    static Spec integer(const char* key, const char* cli, const char* value_name, const char* help,
                      ParamGroup group, Ref<std::int64_t> ref, Check check) {
        Spec s = base(key, cli, ParamType::integer, value_name, help, group);
        s.get = [ref](const P& p) { return json(ref(const_cast<P&>(p))); };
        s.set = [ref, k = s.key](P& p, const json& v) { ref(p) = whole_number(v, k); };
        s.check = std::move(check);
        return s;
    }



    static Spec real(const char* key, const char* cli, const char* value_name, const char* help,
                   ParamGroup group, Ref<double> ref, RealRule rule, bool float32 = false) {
        Spec s = base(key, cli, ParamType::real, value_name, help, group);
        s.get = [ref](const P& p) { return json(ref(const_cast<P&>(p))); };
        s.set = [ref, k = s.key](P& p, const json& v) { ref(p) = real_number(v, k); };
        s.check = [ref, k = s.key, rule, float32](const P& p) {
            return real_problem(ref(const_cast<P&>(p)), k, rule, float32);
        };
        return s;
    }

    // A real whose default comes from the size preset (model_registry.h): unset (null) until the
    // experiment fills it in, so that the record can say where the value came from.
    static Spec preset_real(const char* key, const char* cli, const char* value_name, const char* help,
                          ParamGroup group, Ref<std::optional<double>> ref, RealRule rule) {
        Spec s = base(key, cli, ParamType::real, value_name, help, group);
        s.get = [ref](const P& p) {
            const auto& v = ref(const_cast<P&>(p));
            return v ? json(*v) : json(nullptr);
        };
        s.set = [ref, k = s.key](P& p, const json& v) {
            ref(p) = v.is_null() ? std::nullopt : std::optional<double>(real_number(v, k));
        };
        s.check = [ref, k = s.key, rule](const P& p) -> std::string {
            const auto& v = ref(const_cast<P&>(p));
            return v ? real_problem(*v, k, rule, true) : "";
        };
        return s;
    }

    static Spec text(const char* key, const char* cli, const char* value_name, const char* help,
                   ParamGroup group, Ref<std::string> ref) {
        Spec s = base(key, cli, ParamType::text, value_name, help, group);
        s.get = [ref](const P& p) { return json(ref(const_cast<P&>(p))); };
        s.set = [ref, k = s.key](P& p, const json& v) { ref(p) = text_value(v, k); };
        return s;
    }


    static Spec choice(const char* key, const char* cli, const char* help, ParamGroup group,
                     Ref<std::string> ref, std::vector<std::string> choices) {
        std::string value_name;
        for (const auto& c : choices) value_name += (value_name.empty() ? "" : "|") + c;
        Spec s = base(key, cli, ParamType::choice, "", help, group);
        s.value_name = value_name;
        s.choices = choices;
        s.get = [ref](const P& p) { return json(ref(const_cast<P&>(p))); };
        const auto valid = [choices, k = s.key](const std::string& v) {
            for (const auto& c : choices)
                if (c == v) return;
            throw Error(k + " must be " + or_list(choices) + " (got '" + v + "')");
        };
        s.set = [ref, k = s.key, valid](P& p, const json& v) {
            const std::string t = text_value(v, k);
            valid(t);
            ref(p) = t;
        };
        s.check = [ref, choices, k = s.key](const P& p) -> std::string {
            const std::string& v = ref(const_cast<P&>(p));
            for (const auto& c : choices)
                if (c == v) return "";
            return k + " must be " + or_list(choices) + " (got '" + v + "')";
        };
        return s;
    }

    // One of an enum's values, stored and typed as its key: `table` pairs each value with it
    // (E is deduced from the table alone: the member's reference is a capture-less lambda).
    template <class E>
    static Spec enum_choice(const char* key, const char* cli, const char* help, ParamGroup group,
                            Ref<typename std::common_type<E>::type> ref,
                            std::vector<std::pair<E, std::string>> table) {
        Spec s = base(key, cli, ParamType::choice, "", help, group);
        for (const auto& entry : table) {
            s.value_name += (s.value_name.empty() ? "" : "|") + entry.second;
            s.choices.push_back(entry.second);
        }
        s.get = [ref, table](const P& p) {
            const E v = ref(const_cast<P&>(p));
            for (const auto& [value, name] : table)
                if (value == v) return json(name);
            return json(nullptr);
        };
        s.set = [ref, table, k = s.key, choices = s.choices](P& p, const json& v) {
            const std::string t = text_value(v, k);
            for (const auto& [value, name] : table)
                if (name == t) {
                    ref(p) = value;
                    return;
                }
            throw Error(k + " must be " + or_list(choices) + " (got '" + t + "')");
        };
        return s;
    }

    static Spec flag(const char* key, const char* cli, const char* help, ParamGroup group,
                   Ref<bool> ref) {
        Spec s = base(key, cli, ParamType::flag, "", help, group);
        s.get = [ref](const P& p) { return json(ref(const_cast<P&>(p))); };
        s.set = [ref, k = s.key](P& p, const json& v) {
            if (!v.is_boolean())
                throw Error("experiment parameters: " + k + " must be true or false (got " + v.dump() +
                            ")");
            ref(p) = v.get<bool>();
        };
        return s;
    }
};

}  // namespace cp::train
