// context-kv: Pythia's stream, with layer 0's keys and values computed from a window of the
// ContextBlock's contexts.

#include "model/models.h"

#include <algorithm>

#include "model/model_parts.h"

namespace cp::model {
using torch::indexing::Slice;

ContextKvAttentionImpl::ContextKvAttentionImpl(const ContextKvAttentionOptions& o) : options(o) {
    reset();
}

void ContextKvAttentionImpl::reset() {
    const std::int64_t w = options.width(), c = options.context_dim();
    q_proj = register_module("q_proj", torch::nn::Linear(w, w));
    k_proj = register_module("k_proj", torch::nn::Linear(c, w));
    v_proj = register_module("v_proj", torch::nn::Linear(c, w));
    dense = register_module("dense", torch::nn::Linear(w, w));
    reset_parameters();
}

void ContextKvAttentionImpl::reset_parameters() {
    for (torch::nn::Linear* l : {&q_proj, &k_proj, &v_proj, &dense})
        init_linear(*l, options.init_std());
}

std::vector<std::int64_t> ContextKvAttentionImpl::visible_positions(std::int64_t position) const {
    std::vector<std::int64_t> p;
    for (std::int64_t j = 0; j < options.max_contexts() && position - j * options.interval() >= 0;
         ++j)
        p.push_back(position - j * options.interval());
    return p;
}

torch::Tensor ContextKvAttentionImpl::forward(const torch::Tensor& x, std::int64_t past,
                                              const torch::Tensor& contexts,
                                              const std::vector<std::int64_t>& positions) {
    const std::int64_t B = x.size(0), T = x.size(1), width = x.size(2), S = contexts.size(1);
    const std::int64_t nh = options.heads(), hs = width / nh;
    const auto on_device = torch::TensorOptions().device(x.device());
    const torch::Tensor key_positions = torch::tensor(positions, torch::kInt64).to(x.device());
    const torch::Tensor query_positions =
        torch::arange(past, past + T, on_device.dtype(torch::kInt64));
    const auto heads = [&](const torch::Tensor& t, std::int64_t n) {
        return t.view({B, n, nh, hs}).permute({0, 2, 1, 3});  // (B, nh, n, hs)
    };
    const std::int64_t rd = options.rotary_dims();
    const torch::Tensor q =
        apply_rotary(heads(q_proj(x), T), query_positions, rd, options.rotary_base());
    const torch::Tensor k =
        apply_rotary(heads(k_proj(contexts), S), key_positions, rd, options.rotary_base());
    const torch::Tensor v = heads(v_proj(contexts), S);
    // The query at p sees the context at s when p - s is 0, interval, 2 interval, ... and fewer
    // than max_contexts intervals back.
    const torch::Tensor back = query_positions.unsqueeze(1) - key_positions.unsqueeze(0);  // (T, S)
    const torch::Tensor visible = back.ge(0) & torch::remainder(back, options.interval()).eq(0) &
                                  back.lt(options.interval() * options.max_contexts());
    torch::Tensor scores = torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(-1, -2)) /
                           std::sqrt(static_cast<double>(hs));  // (B, nh, T, S)
    scores = scores.masked_fill(visible.logical_not(), -std::numeric_limits<float>::infinity());
    const torch::Tensor probs = torch::softmax(scores, -1).to(v.dtype());
    return dense(torch::matmul(probs, v).permute({0, 2, 1, 3}).reshape({B, T, width}));
}

ContextKvLayerImpl::ContextKvLayerImpl(const ModelConfig& c) {
    const std::int64_t w = c.layer_width();
    const auto ln = torch::nn::LayerNormOptions({w}).eps(c.layer_norm_eps);
    input_layernorm = register_module("input_layernorm", torch::nn::LayerNorm(ln));
    post_attention_layernorm =
        register_module("post_attention_layernorm", torch::nn::LayerNorm(ln));
    attention = register_module(
        "attention", ContextKvAttention(ContextKvAttentionOptions(w, c.heads, c.context_dim)
                                            .interval(c.context_interval)
                                            .max_contexts(c.max_contexts)
                                            .rotary_dims(c.rotary_dims())
                                            .rotary_base(c.rotary_base)
                                            .init_std(c.init_std)));
    mlp = register_module("mlp",
                          GptNeoxMlp(GptNeoxMlpOptions(w, c.intermediate).init_std(c.init_std)));
}

torch::Tensor ContextKvLayerImpl::forward(const torch::Tensor& x, std::int64_t past,
                                          const torch::Tensor& contexts,
                                          const std::vector<std::int64_t>& positions) {
    return x + attention(input_layernorm(x), past, contexts, positions) +
           mlp(post_attention_layernorm(x));
}

ContextKvModel::ContextKvModel(const ModelConfig& c) : CausalLm(c) {
    // Registered in Pythia's order (gpt_neox, embed_out), then the ContextBlock's side.
    gpt_neox = register_module("gpt_neox", std::make_shared<torch::nn::Module>());
    embed_in = gpt_neox->register_module("embed_in", torch::nn::Embedding(c.vocab_rows, c.embed_dim));
    layers = gpt_neox->register_module("layers", torch::nn::ModuleList());
    layers->push_back(ContextKvLayer(c));
    for (std::int64_t i = 1; i < c.layers; ++i) layers->push_back(GptNeoxLayer(c));
    final_layer_norm = gpt_neox->register_module(
        "final_layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps)));
    embed_out = register_module(
        "embed_out",
        torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, c.vocab_rows).bias(false)));
    embed_norm = register_module(
        "embed_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps)));
    context_block = register_module("context_block",
                                    ContextBlock(ContextBlockOptions(c.context_dim, c.embed_dim)
                                                     .eps(c.layer_norm_eps)
                                                     .weight_std(c.context_init_std)
                                                     .bias_std(c.context_bias_init_std)));
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, c.init_std);
    init_linear(embed_out, c.init_std);
}

torch::Tensor ContextKvModel::embed(const torch::Tensor& ids) {
    return embed_norm(embed_in(ids));
}

torch::Tensor ContextKvModel::forward(const torch::Tensor& ids, KvCache* cache) {
    const std::int64_t T = ids.size(1), past = cache ? cache->length : 0;
    const torch::Tensor tokens = embed_in(ids);  // (B, T, hidden): Pythia's stream
    const torch::Tensor fresh = context_block->forward(
        embed_norm(tokens), cache ? cache->contexts.last() : torch::Tensor());  // (B, T, C)
    auto& layer0 = *layers->ptr<ContextKvLayerImpl>(0);
    // Layer 0's keys and values come from contexts: without a cache those of this input; when
    // decoding one token only the ones it reads, from the window; a chunk after a past reads the
    // window and its own.
    torch::Tensor contexts;
    std::vector<std::int64_t> positions;
    if (cache && T == 1) {
        cache->contexts.append(fresh);
        positions = layer0.attention->visible_positions(past);
        std::reverse(positions.begin(), positions.end());
        contexts = cache->contexts.at(positions);
    } else {
        const std::int64_t first = cache ? cache->contexts.first_position() : 0;
        const torch::Tensor kept = cache ? cache->contexts.ordered() : torch::Tensor();
        contexts = kept.defined() ? torch::cat({kept, fresh}, 1) : fresh;
        for (std::int64_t p = first; p < past + T; ++p) positions.push_back(p);
        if (cache) cache->contexts.append(fresh);
    }
    torch::Tensor h = layer0.forward(tokens, past, contexts, positions);
    for (std::size_t i = 1; i < layers->size(); ++i)
        h = layers->ptr<GptNeoxLayerImpl>(i)->forward(h, past,
                                                      cache ? cache->layers[i].get() : nullptr);
    if (cache) cache->length += T;
    return embed_out(final_layer_norm(h));  // (B, T, vocab)
}

}  // namespace cp::model
