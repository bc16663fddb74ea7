#include "experiment/bench_options.h"

#include "common/error.h"
#include "experiment/param_builders.h"

namespace cp::train {
namespace {

using B = ParamBuilder<BenchOptions>;
using O = BenchOptions;

// "--batch must be at least 1": bench's checks name the option, as its users type it.
B::Check at_least(B::Ref<std::int64_t> ref, const char* option, std::int64_t low,
                  const char* way_out = "") {
    return [=](const O& o) -> std::string {
        if (ref(const_cast<O&>(o)) >= low) return "";
        return std::string("--") + option + " must be at least " + std::to_string(low) + way_out;
    };
}


B::Spec models_spec() {
    // The experiment's reading of design lists (keys, 'all'), so both commands agree.
    const ParamSpec& experiment_models = param("models");
    B::Spec s;
    static_cast<ParamInfo&>(s) = experiment_models;
    s.help = "designs side by side, Pythia always first ('all': every design; see run --help)";
    s.get = [&experiment_models](const O& o) {
        ExperimentParams p;
        p.models = o.models;
        return experiment_models.get(p);
    };
    s.set = [&experiment_models](O& o, const nlohmann::json& v) {
        ExperimentParams p;
        experiment_models.set(p, v);
        o.models = p.models;
    };
    s.check = [](const O& o) -> std::string {
        return o.models.empty() ? "--models: choose at least one design" : "";
    };
    return s;
}

std::vector<B::Spec> make_bench_schema() {
    std::vector<B::Spec> s;
    s.push_back(B::enum_choice("size", "size", "every design's presets", ParamGroup::run,
                               [](O & o) -> auto& { return o.size; }, size_keys()));
    s.push_back(models_spec());
    s.push_back(B::enum_choice("device", "device", "auto: cuda when available", ParamGroup::run,
                               [](O & o) -> auto& { return o.device; }, device_keys()));
    s.push_back(B::enum_choice("precision", "dtype", "bf16: autocast, weights fp32",
                               ParamGroup::run, [](O & o) -> auto& { return o.precision; },
                               precision_keys()));
    s.push_back(B::integer("batch", "batch", "B", "sequences per step", ParamGroup::run,
                           [](O & o) -> auto& { return o.batch; },
                           at_least([](O & o) -> auto& { return o.batch; }, "batch", 1)));
    s.push_back(B::integer("seq_length", "seq-length", "L", "tokens per sequence",
                           ParamGroup::run, [](O & o) -> auto& { return o.seq_length; },
                           at_least([](O & o) -> auto& { return o.seq_length; }, "seq-length", 2)));
    s.push_back(B::integer("steps", "steps", "N", "timed training steps per model",
                           ParamGroup::run, [](O & o) -> auto& { return o.steps; },
                           at_least([](O & o) -> auto& { return o.steps; }, "steps", 1)));
    s.push_back(B::integer("warmup_steps", "warmup", "N", "untimed steps first", ParamGroup::run,
                           [](O & o) -> auto& { return o.warmup_steps; },
                           at_least([](O & o) -> auto& { return o.warmup_steps; }, "warmup", 0)));
    s.push_back(B::integer(
        "generate_tokens", "generate-tokens", "N", "cache length reached by decoding",
        ParamGroup::run, [](O & o) -> auto& { return o.generate_tokens; },
        at_least([](O & o) -> auto& { return o.generate_tokens; }, "generate-tokens", 80,
                 " (a 64-token prompt)")));
    s.push_back(B::real("peak_tflops", "peak-tflops", "T", "peak for MFU", ParamGroup::run,
                        [](O & o) -> auto& { return o.peak_tflops; }, RealRule::non_negative));
    s.back().check = [](const O& o) -> std::string {
        return o.peak_tflops >= 0 ? "" : "--peak-tflops must be positive (or 0 for the default)";
    };
    s.back().default_note = "stated for H100/H200, measured matmul peak on a CPU";
    s.push_back(B::integer("threads", "threads", "N", "torch CPU threads", ParamGroup::run,
                           [](O & o) -> auto& { return o.threads; },
                           at_least([](O & o) -> auto& { return o.threads; }, "threads", 0,
                                    " (0: torch's choice)")));
    s.back().default_note = "torch's choice";
    s.push_back(B::choice("attention", "attention",
                          "fused: libtorch 2.x's scaled-dot-product attention kernel; explicit: "
                          "softmax(QK^T)V (libtorch 1.13 always runs explicit)",
                          ParamGroup::run, [](O & o) -> auto& { return o.attention; },
                          {"fused", "explicit"}));
    s.push_back(B::text("profile_dir", "profile", "DIR",
                        "trace each model's timed steps with libtorch's profiler into DIR "
                        "(slows them)",
                        ParamGroup::run, [](O & o) -> auto& { return o.profile_dir; }));
    s.back().default_note = "none";
    return s;
}

}  // namespace

const std::vector<BasicParamSpec<BenchOptions>>& bench_schema() {
    static const std::vector<BasicParamSpec<BenchOptions>> schema = make_bench_schema();
    return schema;
}

void BenchOptions::validate() const {
    std::string problems;
    const auto problem = [&](const std::string& m) { problems += "\n  " + m; };
    for (const auto& spec : bench_schema())
        if (spec.check)
            if (const std::string p = spec.check(*this); !p.empty()) problem(p);
    if (size == model::ModelSize::m70 && seq_length > 2048) problem("--seq-length: the 70m presets hold 2048");
    if (size == model::ModelSize::m70 && generate_tokens > 2048)
        problem("--generate-tokens: the 70m presets hold 2048 positions");
    if (!problems.empty()) throw Error("bench: bad options:" + problems);
}

}  // namespace cp::train
