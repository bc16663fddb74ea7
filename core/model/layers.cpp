// The building blocks the families share: the GPT-NeoX layer (attention in every KV layout, MLP)
// and the ContextBlock.

#include "model/models.h"

#include <torch/version.h>

#include <cmath>

#include "common/error.h"
#include "model/cache_layers.h"
#include "model/model_parts.h"

namespace cp::model {
using torch::indexing::Slice;

GptNeoxAttentionImpl::GptNeoxAttentionImpl(const GptNeoxAttentionOptions& o) : options(o) {
    reset();
}

void GptNeoxAttentionImpl::reset() {
    const std::int64_t w = options.width();
    head_dim_ = w / options.heads();
    if (options.kv_latent() > 0) {
        const std::int64_t latent = options.kv_latent(), rd = options.rotary_dims();
        q_proj = register_module("q_proj", torch::nn::Linear(w, w));
        kv_down = register_module("kv_down", torch::nn::Linear(w, latent));
        k_rope = register_module("k_rope", torch::nn::Linear(w, rd));
        k_up = register_module("k_up", torch::nn::Linear(latent, options.heads() * (head_dim_ - rd)));
        v_up = register_module("v_up", torch::nn::Linear(latent, w));
    } else if (options.kv_heads() == 0) {
        query_key_value = register_module("query_key_value", torch::nn::Linear(w, 3 * w));
    } else {
        q_proj = register_module("q_proj", torch::nn::Linear(w, w));
        k_proj = register_module("k_proj", torch::nn::Linear(w, options.kv_heads() * head_dim_));
        v_proj = register_module("v_proj", torch::nn::Linear(w, options.kv_heads() * head_dim_));
    }
    dense = register_module("dense", torch::nn::Linear(w, w));
    reset_parameters();
}

void GptNeoxAttentionImpl::reset_parameters() {
    for (torch::nn::Linear* l : {&query_key_value, &q_proj, &k_proj, &v_proj, &kv_down, &k_rope,
                                 &k_up, &v_up, &dense})
        if (!l->is_empty()) init_linear(*l, options.init_std());
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> GptNeoxAttentionImpl::project(
    const torch::Tensor& x) {
    const std::int64_t B = x.size(0), T = x.size(1), heads_ = options.heads();
    if (options.kv_heads() == 0) {
        // Per head the fused projection holds [q | k | v]: view as (B, T, nh, 3 hs), then split.
        const torch::Tensor qkv = query_key_value(x).view({B, T, heads_, 3 * head_dim_});
        return {qkv.narrow(3, 0, head_dim_).permute({0, 2, 1, 3}),
                qkv.narrow(3, head_dim_, head_dim_).permute({0, 2, 1, 3}),
                qkv.narrow(3, 2 * head_dim_, head_dim_).permute({0, 2, 1, 3})};
    }
    const std::int64_t kv = options.kv_heads();
    return {q_proj(x).view({B, T, heads_, head_dim_}).permute({0, 2, 1, 3}),
            k_proj(x).view({B, T, kv, head_dim_}).permute({0, 2, 1, 3}),
            v_proj(x).view({B, T, kv, head_dim_}).permute({0, 2, 1, 3})};
}

// GPT-NeoX's rotary embedding of x (B, nh, T, hs) at `positions` (T, float32): the first
// rotary_dims of each head rotate, the rest pass through.
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& positions,
                           std::int64_t rotary_dims, double base) {
    if (rotary_dims == 0) return x;
    const std::int64_t half = rotary_dims / 2;
    auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(x.device());
    // inv_freq[i] = 1 / base^(2i / rotary_dims), angles = position x inv_freq.
    const torch::Tensor inv_freq =
        1.0 / torch::pow(base, torch::arange(0, rotary_dims, 2, f32) /
                                   static_cast<double>(rotary_dims));
    const torch::Tensor angles = torch::outer(positions.to(f32), inv_freq);  // (T, half)
    const torch::Tensor emb = torch::cat({angles, angles}, -1);              // (T, rotary_dims)
    const torch::Tensor cos = emb.cos().to(x.dtype()), sin = emb.sin().to(x.dtype());
    const torch::Tensor rot = x.index({"...", Slice(0, rotary_dims)});
    const torch::Tensor pass = x.index({"...", Slice(rotary_dims, torch::indexing::None)});
    // rotate_half([a, b]) = [-b, a] on the halves of the rotary slice.
    const torch::Tensor rotated_half =
        torch::cat({-rot.index({"...", Slice(half, torch::indexing::None)}),
                    rot.index({"...", Slice(0, half)})},
                   -1);
    return torch::cat({rot * cos + rotated_half * sin, pass}, -1);
}


torch::Tensor GptNeoxAttentionImpl::rotate(const torch::Tensor& x, std::int64_t past) const {
    if (options.rotary_dims() == 0) return x;
    const torch::Tensor positions = torch::arange(
        past, past + x.size(2), torch::TensorOptions().dtype(torch::kFloat32).device(x.device()));
    return apply_rotary(x, positions, options.rotary_dims(), options.rotary_base());
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> GptNeoxAttentionImpl::cached_qkv(
    const torch::Tensor& x, std::int64_t past, LayerCache* cache) {
    auto [q, k, v] = project(x);  // q (B, nh, T, hs); k, v (B, kv heads, T, hs)
    q = rotate(q, past);
    k = rotate(k, past);
    // The cache holds the K/V heads only: expanded for the product, never stored.
    if (cache) std::tie(k, v) = cache->append(k, v);  // (B, kv heads, S, hs)
    return {q, k, v};
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> GptNeoxAttentionImpl::latent_qkv(
    const torch::Tensor& x, std::int64_t past, LayerCache* cache) {
    const std::int64_t B = x.size(0), T = x.size(1), nh = options.heads();
    const std::int64_t rd = options.rotary_dims(), latent_width = options.kv_latent();
    // Queries as in GPT-NeoX: rotary on each head's first rd dims.
    const torch::Tensor q = rotate(q_proj(x).view({B, T, nh, head_dim_}).permute({0, 2, 1, 3}), past);
    torch::Tensor key_rope = rotate(k_rope(x).view({B, T, 1, rd}).permute({0, 2, 1, 3}), past);
    torch::Tensor latent = kv_down(x).view({B, T, 1, latent_width}).permute({0, 2, 1, 3});
    // The cache keeps (B, 1, S, rd) and (B, 1, S, kv_latent): never K or V.
    if (cache) std::tie(key_rope, latent) = cache->append(key_rope, latent);
    const std::int64_t S = latent.size(2);
    const torch::Tensor c = latent.squeeze(1);  // (B, S, kv_latent)
    // Each head's key: the shared rotary dims first, then its own dims rebuilt from the latent.
    const torch::Tensor key_rest =
        k_up(c).view({B, S, nh, head_dim_ - rd}).permute({0, 2, 1, 3});  // (B, nh, S, hs - rd)
    const torch::Tensor k = torch::cat({key_rope.expand({B, nh, S, rd}), key_rest}, -1);
    const torch::Tensor v = v_up(c).view({B, S, nh, head_dim_}).permute({0, 2, 1, 3});
    return {q, k, v};
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> GptNeoxAttentionImpl::input_qkv(
    const torch::Tensor& x, std::int64_t past, LayerCache* cache) {
    const std::int64_t T = x.size(1);
    // Every cached input, the new ones last: (B, S, width), positions past + T - S onwards.
    const torch::Tensor all = cache->append(x.unsqueeze(1), torch::Tensor()).first.squeeze(1);
    const std::int64_t S = all.size(1);
    auto [q, k, v] = project(all);
    q = rotate(q.narrow(2, S - T, T), past);
    k = rotate(k, past + T - S);
    return {q, k, v};
}

torch::Tensor GptNeoxAttentionImpl::forward(const torch::Tensor& x, std::int64_t past,
                                            LayerCache* cache) {
    const std::int64_t B = x.size(0), T = x.size(1), width = x.size(2), nh = options.heads();
    auto [q, k, v] = options.kv_latent() > 0                ? latent_qkv(x, past, cache)
                     : options.cache_input() && cache      ? input_qkv(x, past, cache)
                                                           : cached_qkv(x, past, cache);
    // What the cache returned: the kept entries first, then the new T; a query sees every kept
    // entry and the new ones up to itself. Without eviction `kept` is the past.
    // Heads the cache keeps: the K/V heads (GQA), one for the latent, else every head.
    const std::int64_t S = k.size(2), kept = S - T;
    const std::int64_t cached_heads = options.kv_latent() > 0 ? 1 : k.size(1);
    if (k.size(1) != nh) {
        // Query head h reads cached head h / group (Llama's repeat_kv order).
        const std::int64_t group = nh / cached_heads;
        k = k.repeat_interleave(group, 1);
        v = v.repeat_interleave(group, 1);
    }
    const bool observe = cache && cache->wants_attention();
#if TORCH_VERSION_MAJOR >= 2
    if (!observe && fused_attention()) {
        const struct EndStep {
            LayerCache* cache;
            ~EndStep() {
                if (cache) cache->end_step(torch::Tensor());
            }
        } end_step{cache};
        // libtorch 2.x: the fused kernel (flash or memory-efficient attention on CUDA), same
        // maths. Its is_causal aligns the mask to the top-left corner, right only when nothing is
        // kept; a single new token sees everything; a chunk after kept entries gets the mask.
        torch::Tensor attended;
        if (kept == 0) {
            attended = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
        } else if (T == 1) {
            attended = at::scaled_dot_product_attention(q, k, v);
        } else {
            const torch::Tensor visible =
                torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
                    .tril(kept);
            attended = at::scaled_dot_product_attention(q, k, v, visible);
        }
        return dense(attended.permute({0, 2, 1, 3}).reshape({B, T, width}));
    }
#endif
    // Scores in float32, scaled by 1/sqrt(hs); new query i sees entries j <= kept + i.
    torch::Tensor scores =
        torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(-1, -2)) /
        std::sqrt(static_cast<double>(head_dim_));  // (B, nh, T, S)
    const torch::Tensor future =
        torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
            .triu(kept + 1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    const torch::Tensor probs = torch::softmax(scores, -1);
    const torch::Tensor out = torch::matmul(probs.to(v.dtype()), v)
                                  .permute({0, 2, 1, 3})
                                  .reshape({B, T, width});  // (B, T, width)
    if (cache)  // per cached head: the query heads that share it summed
        cache->end_step(observe ? probs.view({B, cached_heads, nh / cached_heads, T, S}).sum(2)
                                : torch::Tensor());
    return dense(out);
}

GptNeoxMlpImpl::GptNeoxMlpImpl(const GptNeoxMlpOptions& o) : options(o) {
    reset();
}

void GptNeoxMlpImpl::reset() {
    dense_h_to_4h = register_module("dense_h_to_4h",
                                    torch::nn::Linear(options.width(), options.intermediate()));
    dense_4h_to_h = register_module("dense_4h_to_h",
                                    torch::nn::Linear(options.intermediate(), options.width()));
    reset_parameters();
}

void GptNeoxMlpImpl::reset_parameters() {
    init_linear(dense_h_to_4h, options.init_std());
    init_linear(dense_4h_to_h, options.init_std());
}

torch::Tensor GptNeoxMlpImpl::forward(const torch::Tensor& x) {
    return dense_4h_to_h(torch::gelu(dense_h_to_4h(x)));  // exact (erf) GELU, as Pythia
}

GptNeoxLayerImpl::GptNeoxLayerImpl(const ModelConfig& c) : config(c) {
    reset();
}

void GptNeoxLayerImpl::reset() {
    const ModelConfig& c = config;
    const std::int64_t w = c.layer_width();
    const auto ln = torch::nn::LayerNormOptions({w}).eps(c.layer_norm_eps);  // 1 and 0 at init
    input_layernorm = register_module("input_layernorm", torch::nn::LayerNorm(ln));
    post_attention_layernorm =
        register_module("post_attention_layernorm", torch::nn::LayerNorm(ln));
    attention = register_module("attention", GptNeoxAttention(GptNeoxAttentionOptions(w, c.heads)
                                                                  .kv_heads(c.kv_heads)
                                                                  .kv_latent(c.kv_latent)
                                                                  .cache_input(c.architecture == Design::pythia_input_cache)
                                                                  .rotary_dims(c.rotary_dims())
                                                                  .rotary_base(c.rotary_base)
                                                                  .init_std(c.init_std)));
    mlp = register_module("mlp",
                          GptNeoxMlp(GptNeoxMlpOptions(w, c.intermediate).init_std(c.init_std)));
}

torch::Tensor GptNeoxLayerImpl::forward(const torch::Tensor& x, std::int64_t past,
                                        LayerCache* cache) {
    // Parallel residual (use_parallel_residual=True): x + attn(ln_in(x)) + mlp(ln_post(x)).
    return x + attention(input_layernorm(x), past, cache) + mlp(post_attention_layernorm(x));
}

ContextFnnImpl::ContextFnnImpl(std::int64_t in_features, std::int64_t out_features) {
    fnn = register_module("fnn", torch::nn::Sequential(torch::nn::Linear(in_features, out_features),
                                                       torch::nn::GELU()));
}

ContextLayerImpl::ContextLayerImpl(std::int64_t context_dim, std::int64_t embed_dim, double eps) {
    fnn = register_module("fnn", ContextFnn(context_dim + embed_dim, context_dim));
    context_norm = register_module(
        "context_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({context_dim}).eps(eps)));
}

ContextBlockImpl::ContextBlockImpl(const ContextBlockOptions& o) : options(o) {
    reset();
}

void ContextBlockImpl::reset() {
    layer = register_module(
        "layer", ContextLayer(options.context_dim(), options.embed_dim(), options.eps()));
    reset_parameters();
}

void ContextBlockImpl::reset_parameters() {
    torch::NoGradGuard no_grad;
    torch::nn::Linear lin = linear();
    lin->weight.normal_(0.0, options.weight_std());
    lin->bias.normal_(0.0, options.bias_std());
}

torch::nn::Linear ContextBlockImpl::linear() const {
    return torch::nn::Linear(
        std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer->fnn->fnn->ptr(0)));
}

torch::Tensor ContextBlockImpl::step(const torch::Tensor& prev, const torch::Tensor& embed) {
    // delta = GELU(W [prev; embed] + b); context = LayerNorm(prev + delta).
    const torch::Tensor delta = layer->fnn->fnn->forward(torch::cat({prev, embed}, -1));
    return layer->context_norm(prev + delta);
}

torch::Tensor ContextBlockImpl::forward(const torch::Tensor& embeds, const torch::Tensor& initial,
                                        torch::Tensor* final_state) {
    const std::int64_t B = embeds.size(0), T = embeds.size(1);
    const std::int64_t context_dim_ = options.context_dim();
    const torch::nn::Linear lin = linear();
    // W [c; e] + b = W_c c + (W_e e + b): the token half does not depend on the recurrence, so
    // it is one matmul over all positions; only the context_dim x context_dim part loops.
    const torch::Tensor w_context = lin->weight.narrow(1, 0, context_dim_);  // (C, C)
    const torch::Tensor w_embed =
        lin->weight.narrow(1, context_dim_, lin->weight.size(1) - context_dim_);
    const torch::Tensor token_part =
        torch::addmm(lin->bias, embeds.reshape({B * T, -1}), w_embed.t())
            .view({B, T, context_dim_});  // (B, T, C)
    torch::Tensor c =
        initial.defined() ? initial : torch::zeros({B, context_dim_}, embeds.options());
    std::vector<torch::Tensor> contexts;
    contexts.reserve(T);
    for (std::int64_t t = 0; t < T; ++t) {
        const torch::Tensor delta =
            torch::gelu(torch::addmm(token_part.select(1, t), c, w_context.t()));
        c = layer->context_norm(c + delta);  // (B, C)
        contexts.push_back(c);
    }
    if (final_state) *final_state = c;
    return torch::stack(contexts, 1);  // (B, T, C)
}

}  // namespace cp::model
