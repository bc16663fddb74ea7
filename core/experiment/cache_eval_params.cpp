#include "experiment/cache_eval_params.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "common/numbers.h"
#include "common/text.h"

namespace cp::train {

std::vector<std::string> CacheEvalParams::problems() const {
    std::vector<std::string> p;
    if (policies.empty()) p.push_back("choose at least one policy (--policy NAME)");
    if (runs.empty() == checkpoint.empty())
        p.push_back("evaluate either stored runs (--run ID) or a checkpoint file "
                    "(--checkpoint FILE)");
    if (!checkpoint.empty() && !seq_length)
        p.push_back("a checkpoint file needs --seq-length L: the length of the held-out chunks "
                    "it is evaluated on (no default)");
    if (seq_length && *seq_length < 2) p.push_back("seq-length must be at least 2");
    if (calibration_tokens < 1) p.push_back("calibration-tokens must be at least 1");
    if (prefill < -1) p.push_back("prefill must be -1 (half the chunk), 0 (none) or more");
    if (prefill_chunk < 1)
        p.push_back("prefill-chunk must be at least 1 (1 feeds the chunks token by token)");
    if (batch < 1) p.push_back("batch must be at least 1");
    for (double b : budgets)
        if (!(b > 0 && b <= 1))
            p.push_back("budgets must be fractions of the full cache in (0, 1] (got " +
                        std::to_string(b) + ")");
    for (std::size_t i = 0; i < kv_lengths.size(); ++i)
        if (kv_lengths[i] < 1 || (i > 0 && kv_lengths[i] <= kv_lengths[i - 1]))
            p.push_back("kv-lengths must be positive and ascending");
    return p;
}

bool cache_eval_reads(const store::RunRow& run) {
    return run.phase == store::Phase::phase2 && run.status == store::RunStatus::finished;
}

std::vector<double> parse_budgets(const std::string& text) {
    std::vector<double> out;
    for (std::string part : split_skipping_empty(text, ',')) {
        const auto first = part.find_first_not_of(" \t"), last = part.find_last_not_of(" \t");
        if (first == std::string::npos) continue;
        part = part.substr(first, last - first + 1);
        const auto v = parse_number(part);
        if (!v)
            throw Error("budgets: '" + part +
                        "' is not a number: give fractions of the full cache, e.g. 0.5,0.25");
        out.push_back(*v);
    }
    return out;
}

std::vector<model::CachePolicy> parse_policy_sets(model::PolicyKind kind, const std::string& sets) {
    std::vector<model::CachePolicy> out;
    std::stringstream in(sets);
    std::string one;
    while (std::getline(in, one, ';')) {
        const auto first = one.find_first_not_of(" \t"), last = one.find_last_not_of(" \t");
        if (first == std::string::npos) continue;  // an empty set between two ';'
        out.push_back(model::parse_policy(std::string(model::policy_key(kind)) + ":" +
                                          one.substr(first, last - first + 1)));
    }
    if (out.empty()) out.push_back(model::parse_policy(model::policy_key(kind)));  // its defaults
    return out;
}

std::string suggested_parameters(model::PolicyKind kind, std::int64_t seq_length) {
    const std::int64_t half = std::max<std::int64_t>(8, seq_length / 2);
    switch (kind) {
        case model::PolicyKind::lowrank:
            return "rank=8,target=k; rank=8,target=v; rank=8,target=k,basis=random; "
                   "rank=8,target=v,basis=random";
        case model::PolicyKind::streaming:
            return "sinks=4,window=" + std::to_string(half - 4);
        case model::PolicyKind::h2o:
            return "budget=" + std::to_string(half) + ",window=" + std::to_string(half / 4);
        case model::PolicyKind::snapkv:
            return "budget=" + std::to_string(half) +
                   ",observation=" + std::to_string(std::min<std::int64_t>(32, half / 2));
        default:
            return model::default_parameters_text(kind);
    }
}

std::vector<std::string> policy_problems(const ExperimentParams& params, model::Design design,
                                         const std::vector<model::CachePolicy>& policies) {
    std::vector<std::string> out;
    const model::ModelConfig config = params.model_config(design);
    for (const model::CachePolicy& p : policies)
        for (const std::string& problem : p.problems_for(config)) out.push_back(problem);
    return out;
}

}  // namespace cp::train
