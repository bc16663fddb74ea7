#include "model/inference.h"

#include <cmath>

#include "common/error.h"
#include "model/checkpoint.h"
#include "model/models.h"

namespace cp::model {

namespace {

torch::Tensor as_batch(const std::vector<std::int64_t>& ids) {
    return torch::tensor(ids, torch::kInt64)
        .view({1, static_cast<std::int64_t>(ids.size())});  // (1, T)
}

std::int64_t pick_next(const torch::Tensor& last_logits, const SamplingOptions& options) {
    if (options.temperature <= 0.0) return last_logits.argmax().item<std::int64_t>();
    torch::Tensor logits = last_logits.to(torch::kFloat32) / options.temperature;
    if (options.top_k > 0 && options.top_k < logits.size(0)) {
        const torch::Tensor kth = std::get<0>(logits.topk(options.top_k)).min();
        logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
    }
    return torch::multinomial(torch::softmax(logits, -1), 1).item<std::int64_t>();
}

}  // namespace

void init_checkpoint(const std::string& preset_name, std::uint64_t seed,
                     const std::filesystem::path& out) {
    auto model = make_model(preset(preset_name), seed);
    save_checkpoint(*model, out, {{"cp_seed", std::to_string(seed)}, {"cp_preset", preset_name}});
}

ModelInfo model_info(const std::string& preset_name, const std::vector<std::int64_t>& prompt_ids,
                     const std::vector<std::int64_t>& lengths) {
    ModelInfo info;
    info.config = preset(preset_name);
    auto model = make_model(info.config, 0);
    info.parameters = count_parameters(*model);
    model->eval();
    info.kv = measure_kv_cache(*model, prompt_ids, lengths).measurements;
    return info;
}

ScoreResult score(const std::filesystem::path& checkpoint, const std::vector<std::int64_t>& ids) {
    if (ids.size() < 2)
        throw Error("scoring needs at least two tokens (each is predicted from the ones before)");
    auto model = load_checkpoint(checkpoint);
    torch::NoGradGuard no_grad;
    model->eval();
    check_token_ids(as_batch(ids), model->config());             // ids enter here
    const torch::Tensor logits = model->forward(as_batch(ids));  // (1, T, V)
    const torch::Tensor logp = torch::log_softmax(logits[0].to(torch::kFloat64), -1);  // (T, V)
    const torch::Tensor targets =
        torch::tensor(std::vector<std::int64_t>(ids.begin() + 1, ids.end()), torch::kInt64);
    const torch::Tensor picked = logp.narrow(0, 0, static_cast<std::int64_t>(ids.size()) - 1)
                                     .gather(1, targets.unsqueeze(1))
                                     .squeeze(1);
    ScoreResult r;
    r.ids = ids;
    r.logprobs.resize(ids.size() - 1);
    const auto acc = picked.accessor<double, 1>();
    double sum = 0;
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
        r.logprobs[i] = acc[static_cast<std::int64_t>(i)];
        sum -= r.logprobs[i];
    }
    r.nll = sum / static_cast<double>(r.logprobs.size());
    r.ppl = std::exp(r.nll);
    return r;
}

std::vector<std::int64_t> generate(const std::filesystem::path& checkpoint,
                                   const std::vector<std::int64_t>& prompt_ids,
                                   const SamplingOptions& options) {
    if (prompt_ids.empty()) throw Error("generation needs a non-empty prompt");
    if (options.max_tokens < 0) throw Error("--max-tokens must be zero or more");
    if (options.temperature < 0) throw Error("--temperature must be zero (greedy) or positive");
    if (options.top_k < 0) throw Error("--top-k must be zero (off) or positive");
    auto model = load_checkpoint(checkpoint);
    torch::manual_seed(options.seed);
    torch::NoGradGuard no_grad;
    model->eval();
    KvCache cache = model->make_cache();
    check_token_ids(as_batch(prompt_ids), model->config());               // ids enter here
    torch::Tensor logits = model->forward(as_batch(prompt_ids), &cache);  // prefill: (1, T, V)
    std::vector<std::int64_t> out;
    for (std::int64_t i = 0; i < options.max_tokens; ++i) {
        const std::int64_t next = pick_next(logits[0][logits.size(1) - 1], options);
        if (options.stop_at_end_of_text && next == model->config().end_of_text_id) break;
        out.push_back(next);
        logits = model->forward(as_batch({next}), &cache);  // (1, 1, V)
    }
    return out;
}

}  // namespace cp::model
