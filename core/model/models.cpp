// Construction: make_model builds the module of a config's design; the parts the families share
// (model/model_parts.h); parameter counts and the KV measurement. The families are one file
// each under model/families/, their layers in model/layers.cpp, the cache in model/kv_cache.cpp.
#include "model/models.h"

#include <atomic>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <torch/version.h>

#include "common/error.h"
#include "model/model_parts.h"

namespace cp::model {

// MODEL_SPEC init of a Linear: weight N(0, std), bias 0.
void init_linear(torch::nn::Linear& l, double std) {
    torch::NoGradGuard no_grad;
    l->weight.normal_(0.0, std);
    if (l->bias.defined()) l->bias.zero_();
}

torch::Tensor run_layers(torch::nn::ModuleList& layers, torch::Tensor h, KvCache* cache) {
    const std::int64_t past = cache ? cache->length : 0;
    for (std::size_t i = 0; i < layers->size(); ++i)
        h = layers->ptr<GptNeoxLayerImpl>(i)->forward(h, past,
                                                      cache ? cache->layers[i].get() : nullptr);
    return h;
}

// Context-Pythia and its projection comparator share both ends: embed_in and embed_norm at the
// embedding width in front, the layers, final norm and head at context_dim behind. Registered in
// this order by both, so a seed initialises them alike.
void register_embedding(torch::nn::Module& m, const ModelConfig& c, torch::nn::Embedding& embed_in,
                        torch::nn::LayerNorm& embed_norm) {
    embed_in = m.register_module("embed_in", torch::nn::Embedding(c.vocab_rows, c.embed_dim));
    embed_norm = m.register_module(
        "embed_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps)));
}

void register_context_width_stack(torch::nn::Module& m, const ModelConfig& c,
                                  torch::nn::ModuleList& layers,
                                  torch::nn::LayerNorm& final_layer_norm,
                                  torch::nn::Linear& embed_out) {
    layers = m.register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.layers; ++i) layers->push_back(GptNeoxLayer(c));
    final_layer_norm = m.register_module(
        "final_layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.context_dim}).eps(c.layer_norm_eps)));
    embed_out = m.register_module(
        "embed_out",
        torch::nn::Linear(torch::nn::LinearOptions(c.context_dim, c.vocab_rows).bias(false)));
}

void check_token_ids(const torch::Tensor& ids, const ModelConfig& c) {
    TORCH_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kInt64,
                "ids must be (batch, tokens) int64");
    if (ids.numel() == 0) return;
    const std::int64_t lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
    if (lo < 0 || hi >= c.vocab_rows)
        throw Error("token id " + std::to_string(lo < 0 ? lo : hi) +
                    " is outside the model's vocabulary (0.." + std::to_string(c.vocab_rows - 1) +
                    ")");
}

namespace {
std::atomic<bool> g_fused_attention{true};
}  // namespace

void set_fused_attention(bool on) {
    g_fused_attention = on;
}

bool fused_attention() {
    return g_fused_attention.load();
}

std::shared_ptr<CausalLm> make_model(const ModelConfig& config, std::uint64_t seed) {
    config.validate();
    torch::manual_seed(seed);
    // Each module initialises itself in its constructor (reset()).
    switch (config.architecture) {
        case Design::pythia:
        case Design::pythia_256:
        case Design::pythia_gqa:  // the same body; its layers' attention is grouped-query
        case Design::pythia_mla:  // or latent
        case Design::pythia_input_cache:  // or recomputes K and V from its cached inputs
        // Below half: a config names its family's module; listed for completeness.
        case Design::pythia_128:
        case Design::pythia_gqa_2:
        case Design::pythia_gqa_1:
        case Design::pythia_mla_240:
        case Design::pythia_mla_112:
            return std::make_shared<PythiaModel>(config);
        case Design::context_pythia:
        case Design::context_pythia_untrained:  // the ablation: the same model, no Phase 1
        case Design::context_pythia_128:
        case Design::context_pythia_64:
            return std::make_shared<ContextPythiaModel>(config);
        case Design::context_kv:
            return std::make_shared<ContextKvModel>(config);
        case Design::projection_256:
        case Design::projection_128:
        case Design::projection_64:
            return std::make_shared<ProjectionModel>(config);
    }
    throw Error(std::string("internal error: no module for design '") +
                design_key(config.architecture) + "'");
}

ParameterCounts count_parameters(CausalLm& model) {
    ParameterCounts c;
    for (const auto& item : model.named_parameters()) {
        const std::string& name = item.key();
        const torch::Tensor& p = item.value();
        const std::int64_t n = p.numel();
        c.total += n;
        if (p.requires_grad()) c.trainable += n;
        // The projection comparator's Linear sits where the ContextBlock would: counted with the
        // input side.
        if (name.find("embed_in") != std::string::npos || name.rfind("embed_norm", 0) == 0 ||
            name.rfind("projection.", 0) == 0)
            c.embeddings += n;
        else if (name.rfind("context_block.", 0) == 0)
            c.context_block += n;
        else if (name.find("layers.") != std::string::npos)
            c.layers += n;
        else
            c.head += n;
    }
    return c;
}

KvTrace measure_kv_cache(CausalLm& model, const std::vector<std::int64_t>& prompt,
                         const std::vector<std::int64_t>& lengths, const std::atomic<bool>* stop,
                         const KvTraceOptions& options) {
    if (lengths.empty()) return {};
    if (prompt.empty()) throw Error("measuring the KV cache needs a prompt of real text");
    torch::NoGradGuard no_grad;
    const torch::Device device = model.parameters().front().device();
    KvTrace trace;
    KvCache cache = model.make_cache(options.policy, options.bases);
    std::size_t next_prompt = 0;
    std::int64_t next = prompt[0];
    // A prefill of the prompt's first tokens, in one step (not timed as generation).
    const std::int64_t prefill = std::min<std::int64_t>(
        {options.prefill, lengths.front(), static_cast<std::int64_t>(prompt.size())});
    if (prefill > 1) {
        const torch::Tensor logits = model.forward(
            torch::tensor(std::vector<std::int64_t>(prompt.begin(), prompt.begin() + prefill),
                          torch::kInt64)
                .view({1, prefill})
                .to(device),
            &cache);
        next_prompt = static_cast<std::size_t>(prefill);
        next = next_prompt < prompt.size() ? prompt[next_prompt]
                                           : logits[0][prefill - 1].argmax().item<std::int64_t>();
    }
    for (std::int64_t target : lengths) {
        while (cache.length < target) {
            if (stop && stop->load()) return trace;
            const auto t0 = std::chrono::steady_clock::now();
            const torch::Tensor logits = model.forward(
                torch::tensor({next}, torch::kInt64).view({1, 1}).to(device), &cache);  // (1, 1, V)
            ++next_prompt;
            next = next_prompt < prompt.size() ? prompt[next_prompt]
                                               : logits[0][0].argmax().item<std::int64_t>();
            trace.decode_seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ++trace.decoded_tokens;
        }
        KvMeasurement m;
        m.tokens = cache.length;
        m.kv_bytes = cache.kv_bytes();
        m.kv_allocated_bytes = cache.kv_allocated_bytes();
        m.state_bytes = cache.state_bytes();
        trace.measurements.push_back(m);
    }
    return trace;
}

}  // namespace cp::model
