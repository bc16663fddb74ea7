#include "experiment/cache_eval_params.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "common/numbers.h"
#include "common/text.h"
#include "experiment/param_builders.h"

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

namespace {

using B = ParamBuilder<CacheEvalParams>;
using C = CacheEvalParams;
using nlohmann::json;

// What to evaluate and on which text.
void add_targets(std::vector<B::Spec>& s) {
    s.push_back(B::text("db", "db", "FILE", "the database", ParamGroup::storage,
                        [](C & c) -> auto& { return c.db; }));
    s.back().default_note = "$CP_DB or the workbench's";
    B::Spec runs = B::base("runs", "run", ParamType::integer_list, "ID",
                           "a finished Phase 2 run to evaluate", ParamGroup::run);
    runs.repeated = true;
    runs.get = [](const C& c) { return json(c.runs); };
    runs.set = [](C& c, const json& v) {
        c.runs.clear();
        for (const json& id : v) c.runs.push_back(whole_number(id, "run"));
    };
    runs.default_note = "none";
    s.push_back(runs);
    s.push_back(B::text("checkpoint", "checkpoint", "FILE",
                        "or a checkpoint file (ours, or a Hugging Face GPT-NeoX model.safetensors)",
                        ParamGroup::run, [](C & c) -> auto& { return c.checkpoint; }));
    s.back().default_note = "none";
    B::Spec seq = B::base("seq_length", "seq-length", ParamType::integer, "L",
                          "with --checkpoint: the held-out chunks' length",
                          ParamGroup::run);
    seq.get = [](const C& c) { return c.seq_length ? json(*c.seq_length) : json(nullptr); };
    seq.set = [](C& c, const json& v) {
        c.seq_length = v.is_null() ? std::nullopt
                                   : std::optional<std::int64_t>(whole_number(v, "seq-length"));
    };
    seq.default_note = "none: required with --checkpoint";
    s.push_back(seq);
    B::Spec corpora = B::base("corpora", "corpus", ParamType::text_list, "NAME|PATH",
                              "with --checkpoint: its held-out text", ParamGroup::run);
    corpora.get = [](const C& c) { return json(c.corpora); };
    corpora.set = [](C& c, const json& v) { c.corpora = v.get<std::vector<std::string>>(); };
    s.push_back(corpora);
    s.push_back(B::text("tokenizer", "tokenizer", "PATH",
                        "with --checkpoint: the tokenizer of its ids", ParamGroup::run,
                        [](C & c) -> auto& { return c.tokenizer; }));
    s.back().default_note =
        "a Hugging Face checkpoint's tokenizer.json beside it, required; ours: the installed "
        "GPT-2 one";
}

// The policies and how the cache is fed and measured.
void add_policies(std::vector<B::Spec>& s) {
    B::Spec policies = B::base("policies", "policy", ParamType::text, "NAME[:k=v,...]",
                               "a cache policy (at least one); budget=F (a fraction of the full "
                               "cache's bytes) instead of its knobs",
                               ParamGroup::run);
    policies.repeated = true;
    policies.get = [](const C& c) {
        json a = json::array();
        for (const model::CachePolicy& p : c.policies) a.push_back(p.text());
        return a;
    };
    policies.set = [](C& c, const json& v) {
        c.policies.clear();
        for (const json& text : v) c.policies.push_back(model::parse_policy(text_value(text, "policy")));
    };
    policies.default_note = "none";
    s.push_back(policies);
    B::Spec budgets = B::base("budgets", "budgets", ParamType::text, "F,F,...",
                              "evaluate every policy but full at each of these fractions of the "
                              "full cache's scored bytes (e.g. 0.5,0.25,0.125)",
                              ParamGroup::run);
    budgets.get = [](const C& c) {
        std::string t;
        for (double b : c.budgets) t += (t.empty() ? "" : ",") + short_number(b);
        return json(t);
    };
    budgets.set = [](C& c, const json& v) { c.budgets = parse_budgets(text_value(v, "budgets")); };
    budgets.default_note = "none";
    s.push_back(budgets);
    const auto integer = [&](const char* key, const char* cli, const char* value_name,
                             const char* help, B::Ref<std::int64_t> ref, const char* note = "") {
        s.push_back(B::integer(key, cli, value_name, help, ParamGroup::run, ref, nullptr));
        s.back().default_note = note;
    };
    integer("calibration_tokens", "calibration-tokens", "N",
            "training tokens for lowrank's PCA and the K/V anatomy",
            [](C & c) -> auto& { return c.calibration_tokens; });
    integer("prefill_chunk", "prefill-chunk", "N",
            "tokens fed per step, each step attending to the compressed cache of the ones before",
            [](C & c) -> auto& { return c.prefill_chunk; }, "1, token by token");
    integer("prefill", "prefill", "N",
            "the labelled 'uncompressed prompt' mode: N tokens of each chunk at once first, "
            "uncompressed among themselves (-1: half the chunk)",
            [](C & c) -> auto& { return c.prefill; }, "0, none");
}

// How much of the run's own evaluation is read again, and how the work runs.
void add_evaluation_and_run(std::vector<B::Spec>& s) {
    s.push_back(B::integer("max_test_chunks", "eval-test-chunks", "N", "held-out chunks",
                           ParamGroup::evaluation, [](C & c) -> auto& { return c.max_test_chunks; },
                           nullptr));
    s.back().default_note = "the run's own evaluation's";
    s.push_back(B::integer("max_last_word_passages", "eval-last-word-passages", "N",
                           "last-word passages", ParamGroup::evaluation,
                           [](C & c) -> auto& { return c.max_last_word_passages; }, nullptr));
    s.back().default_note = "the run's own evaluation's";
    B::Spec lengths = B::base("kv_lengths", "kv-lengths", ParamType::integer_list, "L,L,...",
                              "cache lengths measured", ParamGroup::evaluation);
    lengths.get = [](const C& c) { return json(c.kv_lengths); };
    lengths.set = [](C& c, const json& v) {
        c.kv_lengths.clear();
        for (const json& l : v) c.kv_lengths.push_back(whole_number(l, "kv-lengths"));
    };
    lengths.default_note = "the run's own evaluation's";
    s.push_back(lengths);
    s.push_back(B::integer("batch", "batch", "B", "held-out chunks decoded side by side",
                           ParamGroup::run, [](C & c) -> auto& { return c.batch; }, nullptr));
    B::Spec no_anatomy = B::base("no_anatomy", "no-anatomy", ParamType::flag, "",
                                 "do not record the K/V spectra", ParamGroup::evaluation);
    no_anatomy.get = [](const C& c) { return json(!c.anatomy); };
    no_anatomy.set = [](C& c, const json& v) { c.anatomy = !v.get<bool>(); };
    s.push_back(no_anatomy);
    s.push_back(B::enum_choice("device", "device", "where the models run", ParamGroup::run,
                               [](C & c) -> auto& { return c.device; }, device_keys()));
    s.push_back(B::integer("threads", "threads", "N", "torch CPU threads", ParamGroup::run,
                           [](C & c) -> auto& { return c.threads; }, nullptr));
    s.back().default_note = "torch's choice";
}

std::vector<B::Spec> make_cache_eval_schema() {
    std::vector<B::Spec> s;
    add_targets(s);
    add_policies(s);
    add_evaluation_and_run(s);
    return s;
}

}  // namespace

const std::vector<BasicParamSpec<CacheEvalParams>>& cache_eval_schema() {
    static const std::vector<BasicParamSpec<CacheEvalParams>> schema = make_cache_eval_schema();
    return schema;
}

}  // namespace cp::train
