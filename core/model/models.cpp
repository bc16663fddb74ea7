#include "model/models.h"

#include <atomic>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <torch/version.h>

#include "common/error.h"
#include "model/cache_layers.h"

namespace cp::model {
namespace F = torch::nn::functional;
using torch::indexing::Slice;

// ---- KV cache ------------------------------------------------------------------------------

torch::Tensor GrowingSequence::append(const torch::Tensor& step) {
    const std::int64_t needed = length_ + step.size(2);
    if (!storage_.defined() || needed > storage_.size(2)) {
        const std::int64_t capacity =
            std::max<std::int64_t>(needed, storage_.defined() ? 2 * storage_.size(2) : 16);
        auto sizes = step.sizes().vec();  // (B, h, T, ...): any trailing dimensions
        sizes[2] = capacity;
        torch::Tensor grown = torch::empty(sizes, step.options());
        if (length_ > 0) grown.narrow(2, 0, length_).copy_(storage_.narrow(2, 0, length_));
        storage_ = grown;
    }
    storage_.narrow(2, length_, step.size(2)).copy_(step);
    length_ = needed;
    return view();
}

torch::Tensor GrowingSequence::view() const {
    return storage_.narrow(2, 0, length_);
}

std::int64_t GrowingSequence::used_bytes() const {
    return storage_.defined() ? static_cast<std::int64_t>(view().nbytes()) : 0;
}

std::int64_t GrowingSequence::allocated_bytes() const {
    return storage_.defined() ? static_cast<std::int64_t>(storage_.nbytes()) : 0;
}

void ContextWindow::append(const torch::Tensor& contexts) {
    TORCH_CHECK(capacity_ > 0, "internal error: a context window of no positions");
    const std::int64_t T = contexts.size(1);
    const std::int64_t needed = std::min(capacity_, appended_ + T);
    if (!ring_.defined() || ring_.size(1) < needed) {
        // Grows by doubling up to the capacity; until then nothing has wrapped, so position p
        // sits in slot p and the old slots copy over as they are.
        const std::int64_t size = std::min(
            capacity_, std::max<std::int64_t>(
                           {needed, ring_.defined() ? 2 * ring_.size(1) : 0, std::int64_t{16}}));
        torch::Tensor grown =
            torch::empty({contexts.size(0), size, contexts.size(2)}, contexts.options());
        if (appended_ > 0) grown.narrow(1, 0, appended_).copy_(ring_.narrow(1, 0, appended_));
        ring_ = grown;
    }
    // Only the newest `capacity` of the new positions can still be read.
    const std::int64_t keep = std::min(T, capacity_);
    const std::int64_t first_new = appended_ + T - keep;
    const torch::Tensor slots =
        torch::remainder(torch::arange(first_new, first_new + keep, torch::kInt64), capacity_)
            .to(ring_.device());
    ring_.index_copy_(1, slots, contexts.narrow(1, T - keep, keep));
    appended_ += T;
}

torch::Tensor ContextWindow::ordered() const {
    if (appended_ == 0) return torch::Tensor();
    if (appended_ <= capacity_) return ring_.narrow(1, 0, appended_);
    const std::int64_t start = slot(first_position());
    if (start == 0) return ring_;
    return torch::cat({ring_.narrow(1, start, capacity_ - start), ring_.narrow(1, 0, start)}, 1);
}

torch::Tensor ContextWindow::at(const std::vector<std::int64_t>& positions) const {
    std::vector<std::int64_t> slots;
    slots.reserve(positions.size());
    for (std::int64_t p : positions) {
        TORCH_CHECK(p >= first_position() && p < appended_,
                    "internal error: position outside the context window");
        slots.push_back(slot(p));
    }
    return ring_.index_select(1, torch::tensor(slots, torch::kInt64).to(ring_.device()));
}

torch::Tensor ContextWindow::last() const {
    if (appended_ == 0) return torch::Tensor();
    return ring_.select(1, slot(appended_ - 1));
}

std::int64_t ContextWindow::used_bytes() const {
    return ring_.defined() ? static_cast<std::int64_t>(ring_.narrow(1, 0, kept()).nbytes()) : 0;
}

std::int64_t ContextWindow::allocated_bytes() const {
    return ring_.defined() ? static_cast<std::int64_t>(ring_.nbytes()) : 0;
}

std::int64_t LayerCache::stored_bytes() const {
    std::int64_t total = 0;
    for (const torch::Tensor& t : stored())
        if (t.defined()) total += static_cast<std::int64_t>(t.nbytes());
    return total;
}

std::int64_t LayerCache::allocated_bytes() const {
    return stored_bytes();
}

std::pair<torch::Tensor, torch::Tensor> FullLayerCache::append(const torch::Tensor& k,
                                                               const torch::Tensor& v) {
    return {keys.append(k), values.append(v)};
}

std::vector<torch::Tensor> FullLayerCache::stored() const {
    if (keys.length() == 0) return {};
    return {keys.view(), values.view()};
}

std::int64_t FullLayerCache::allocated_bytes() const {
    return keys.allocated_bytes() + values.allocated_bytes();
}

std::pair<torch::Tensor, torch::Tensor> InputLayerCache::append(const torch::Tensor& k,
                                                                const torch::Tensor& /*v*/) {
    return {inputs.append(k), torch::Tensor()};
}

std::vector<torch::Tensor> InputLayerCache::stored() const {
    if (inputs.length() == 0) return {};
    return {inputs.view()};
}

std::int64_t KvCache::kv_bytes() const {
    std::int64_t total = contexts.used_bytes();
    for (const auto& layer : layers) total += layer->stored_bytes();
    return total;
}

std::int64_t KvCache::kv_allocated_bytes() const {
    std::int64_t total = contexts.allocated_bytes();
    for (const auto& layer : layers) total += layer->allocated_bytes();
    return total;
}

std::int64_t KvCache::state_bytes() const {
    return context_state.defined() ? static_cast<std::int64_t>(context_state.nbytes()) : 0;
}

KvCache CausalLm::make_cache(const CachePolicy& policy, const KvBases* bases) const {
    KvCache cache;
    for (std::int64_t i = 0; i < config_.layers; ++i) {
        if (config_.architecture == Design::pythia_input_cache) {
            // Only the full policy fits (CachePolicy::problems_for says so before any work).
            if (policy.kind != PolicyKind::full)
                throw Error(std::string("policy '") + policy.text() +
                            "' needs K and V, which pythia-input-cache does not cache");
            cache.layers.push_back(std::make_unique<InputLayerCache>());
            continue;
        }
        cache.layers.push_back(make_layer_cache(policy, i, bases));
    }
    if (config_.architecture == Design::context_kv)
        cache.contexts = ContextWindow(config_.context_window());
    return cache;
}

// ---- GPT-NeoX layer ------------------------------------------------------------------------

namespace {
// MODEL_SPEC init of a Linear: weight N(0, std), bias 0.
void init_linear(torch::nn::Linear& l, double std) {
    torch::NoGradGuard no_grad;
    l->weight.normal_(0.0, std);
    if (l->bias.defined()) l->bias.zero_();
}
}  // namespace

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

namespace {

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

}  // namespace

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

// ---- context-kv's layer 0 ------------------------------------------------------------------

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

// ---- ContextBlock --------------------------------------------------------------------------

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

// ---- Models --------------------------------------------------------------------------------

GptNeoxBodyImpl::GptNeoxBodyImpl(const ModelConfig& c) {
    embed_in = register_module("embed_in", torch::nn::Embedding(c.vocab_rows, c.embed_dim));
    layers = register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.layers; ++i) layers->push_back(GptNeoxLayer(c));
    final_layer_norm = register_module(
        "final_layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps)));
    reset_parameters(c.init_std);
}

void GptNeoxBodyImpl::reset_parameters(double init_std) {
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, init_std);
}

namespace {

torch::Tensor run_layers(torch::nn::ModuleList& layers, torch::Tensor h, KvCache* cache) {
    const std::int64_t past = cache ? cache->length : 0;
    for (std::size_t i = 0; i < layers->size(); ++i)
        h = layers->ptr<GptNeoxLayerImpl>(i)->forward(h, past,
                                                      cache ? cache->layers[i].get() : nullptr);
    return h;
}

}  // namespace

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

PythiaModel::PythiaModel(const ModelConfig& c) : CausalLm(c) {
    gpt_neox = register_module("gpt_neox", GptNeoxBody(c));
    embed_out = register_module(
        "embed_out",
        torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, c.vocab_rows).bias(false)));
    init_linear(embed_out, c.init_std);
}

torch::Tensor PythiaModel::forward(const torch::Tensor& ids, KvCache* cache) {
    torch::Tensor h = gpt_neox->embed_in(ids);  // (B, T, hidden)
    h = run_layers(gpt_neox->layers, h, cache);
    if (cache) cache->length += ids.size(1);
    return embed_out(gpt_neox->final_layer_norm(h));  // (B, T, vocab)
}

namespace {

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

}  // namespace

ContextPythiaModel::ContextPythiaModel(const ModelConfig& c) : CausalLm(c) {
    register_embedding(*this, c, embed_in, embed_norm);
    context_block = register_module("context_block",
                                    ContextBlock(ContextBlockOptions(c.context_dim, c.embed_dim)
                                                     .eps(c.layer_norm_eps)
                                                     .weight_std(c.context_init_std)
                                                     .bias_std(c.context_bias_init_std)));
    register_context_width_stack(*this, c, layers, final_layer_norm, embed_out);
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, c.init_std);
    init_linear(embed_out, c.init_std);
}

torch::Tensor ContextPythiaModel::embed(const torch::Tensor& ids) {
    return embed_norm(embed_in(ids));
}

void ContextBlockModel::freeze_context_block() {
    for (auto& p : block()->parameters()) p.set_requires_grad(false);
}

torch::Tensor ContextPythiaModel::forward(const torch::Tensor& ids, KvCache* cache) {
    const torch::Tensor e = embed(ids);  // (B, T, embed_dim)
    torch::Tensor state;
    torch::Tensor h = context_block->forward(e, cache ? cache->context_state : torch::Tensor(),
                                             &state);  // (B, T, context_dim)
    h = run_layers(layers, h, cache);
    if (cache) {
        cache->context_state = state;
        cache->length += ids.size(1);
    }
    return embed_out(final_layer_norm(h));  // (B, T, vocab)
}

ProjectionModel::ProjectionModel(const ModelConfig& c) : CausalLm(c) {
    register_embedding(*this, c, embed_in, embed_norm);
    projection = register_module("projection", torch::nn::Linear(c.embed_dim, c.context_dim));
    register_context_width_stack(*this, c, layers, final_layer_norm, embed_out);
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, c.init_std);
    init_linear(projection, c.init_std);
    init_linear(embed_out, c.init_std);
}

torch::Tensor ProjectionModel::forward(const torch::Tensor& ids, KvCache* cache) {
    torch::Tensor h = projection(embed_norm(embed_in(ids)));  // (B, T, context_dim)
    h = run_layers(layers, h, cache);
    if (cache) cache->length += ids.size(1);
    return embed_out(final_layer_norm(h));  // (B, T, vocab)
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

// ---- Construction --------------------------------------------------------------------------

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
