// Pythia (GPT-NeoX, faithful to the released Pythia-70M) and Context-Pythia in libtorch. Module
// and parameter names follow the Hugging Face checkpoint keys of MODEL_SPEC.md, so loading real
// weights is a name lookup, not a translation table.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <memory>
#include <vector>

#include "model/cache_policy.h"
#include "model/kv_cache.h"
#include "model/model_config.h"

namespace cp::model {

struct KvBases;

// Modules follow the PyTorch C++ frontend's shape: an options struct per module, submodules
// created and initialised by the module's own reset() (MODEL_SPEC.md's init: Linear/Embedding
// weights N(0, init_std), biases 0, LayerNorm 1/0; the ContextBlock's own stds).

struct GptNeoxAttentionOptions {
    GptNeoxAttentionOptions(std::int64_t width, std::int64_t heads)
        : width_(width), heads_(heads) {}
    TORCH_ARG(std::int64_t, width);
    TORCH_ARG(std::int64_t, heads);
    TORCH_ARG(std::int64_t, rotary_dims) = 0;
    // 0: Pythia's fused query_key_value, a K/V head per query head. Otherwise grouped-query
    // attention: separate q_proj, k_proj, v_proj with kv_heads K/V heads.
    TORCH_ARG(std::int64_t, kv_heads) = 0;
    // > 0: multi-head latent attention (DeepSeek-V2) caching a latent of this width and one
    // shared rotary key (rotary_dims) instead of K and V.
    TORCH_ARG(std::int64_t, kv_latent) = 0;
    // pythia-input-cache: the cache holds the attention's input (the normalised hidden state)
    // and K and V are recomputed from all of it at every step; the weights are Pythia's.
    TORCH_ARG(bool, cache_input) = false;
    TORCH_ARG(double, rotary_base) = 10000.0;
    TORCH_ARG(double, init_std) = 0.02;
};

// GPT-NeoX self-attention: one fused query_key_value projection, interleaved per head as
// [q | k | v]; rotary embedding on the first rotary_dims of q and k; float32 softmax.
class GptNeoxAttentionImpl : public torch::nn::Module {
  public:
    explicit GptNeoxAttentionImpl(const GptNeoxAttentionOptions& options);
    void reset();
    void reset_parameters();
    // x: (B, T, width); positions start at `past` (the tokens seen). With a cache, the new keys
    // and values go to it and attention reads what it keeps.
    torch::Tensor forward(const torch::Tensor& x, std::int64_t past, LayerCache* cache);

    GptNeoxAttentionOptions options;
    torch::nn::Linear query_key_value{nullptr}, dense{nullptr};
    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr};  // grouped-query, latent
    // Latent attention: kv_down (W_dkv: x -> latent c), k_rope (W_kr: x -> the shared rotary
    // key), k_up (W_uk: c -> each head's non-rotary key dims), v_up (W_uv: c -> each head's v).
    torch::nn::Linear kv_down{nullptr}, k_rope{nullptr}, k_up{nullptr}, v_up{nullptr};

  private:
    torch::Tensor rotate(const torch::Tensor& x, std::int64_t past) const;  // x: (B, nh, T, hs)
    // q (B, nh, T, hs), k and v (B, kv heads, T, hs) of x, before rotary.
    std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> project(const torch::Tensor& x);
    // q, k, v for attention, the cache grown by x's keys and values: q (B, nh, T, hs); k and v
    // as the cache keeps them, (B, kv heads, S, hs).
    std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> cached_qkv(const torch::Tensor& x,
                                                                      std::int64_t past,
                                                                      LayerCache* cache);
    // The latent variant: the cache holds the rotary key (K's place) and the latent (V's); k and
    // v come back rebuilt per head, (B, nh, S, hs).
    std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> latent_qkv(const torch::Tensor& x,
                                                                      std::int64_t past,
                                                                      LayerCache* cache);
    // The input-cache variant: the cache keeps x itself; q of the new positions, k and v of
    // every cached one, recomputed, (B, nh, S, hs).
    std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> input_qkv(const torch::Tensor& x,
                                                                     std::int64_t past,
                                                                     LayerCache* cache);
    std::int64_t head_dim_ = 0;
};
TORCH_MODULE(GptNeoxAttention);

struct GptNeoxMlpOptions {
    GptNeoxMlpOptions(std::int64_t width, std::int64_t intermediate)
        : width_(width), intermediate_(intermediate) {}
    TORCH_ARG(std::int64_t, width);
    TORCH_ARG(std::int64_t, intermediate);
    TORCH_ARG(double, init_std) = 0.02;
};

class GptNeoxMlpImpl : public torch::nn::Module {
  public:
    explicit GptNeoxMlpImpl(const GptNeoxMlpOptions& options);
    void reset();
    void reset_parameters();
    torch::Tensor forward(const torch::Tensor& x);  // dense_4h_to_h(gelu_exact(dense_h_to_4h(x)))
    GptNeoxMlpOptions options;
    torch::nn::Linear dense_h_to_4h{nullptr}, dense_4h_to_h{nullptr};
};
TORCH_MODULE(GptNeoxMlp);

// One GPT-NeoX layer at the config's layer width (Pythia's hidden, Context-Pythia's context).
class GptNeoxLayerImpl : public torch::nn::Module {
  public:
    explicit GptNeoxLayerImpl(const ModelConfig& config);
    void reset();
    torch::Tensor forward(const torch::Tensor& x, std::int64_t past, LayerCache* cache);
    ModelConfig config;
    torch::nn::LayerNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
    GptNeoxAttention attention{nullptr};
    GptNeoxMlp mlp{nullptr};
};
TORCH_MODULE(GptNeoxLayer);

struct ContextBlockOptions {
    ContextBlockOptions(std::int64_t context_dim, std::int64_t embed_dim)
        : context_dim_(context_dim), embed_dim_(embed_dim) {}
    TORCH_ARG(std::int64_t, context_dim);
    TORCH_ARG(std::int64_t, embed_dim);
    TORCH_ARG(double, eps) = 1e-5;
    TORCH_ARG(double, weight_std) = 0.1;  // the reference's init: what makes Phase 1 converge
    TORCH_ARG(double, bias_std) = 0.01;
};

// ContextBlock: c_t = LayerNorm(c_{t-1} + GELU(W [c_{t-1}; e_t] + b)), widths context_dim and
// embed_dim. Parameter names: layer.fnn.fnn.0.{weight,bias}, layer.context_norm.{weight,bias}.
class ContextFnnImpl : public torch::nn::Module {
  public:
    ContextFnnImpl(std::int64_t in_features, std::int64_t out_features);
    torch::nn::Sequential fnn{nullptr};  // 0: Linear([context; embed] -> context), 1: exact GELU
};
TORCH_MODULE(ContextFnn);

class ContextLayerImpl : public torch::nn::Module {
  public:
    ContextLayerImpl(std::int64_t context_dim, std::int64_t embed_dim, double eps);
    ContextFnn fnn{nullptr};
    torch::nn::LayerNorm context_norm{nullptr};
};
TORCH_MODULE(ContextLayer);

class ContextBlockImpl : public torch::nn::Module {
  public:
    explicit ContextBlockImpl(const ContextBlockOptions& options);
    void reset();
    void reset_parameters();
    // One step for a batch of independent (previous context, token embedding) pairs:
    // prev (N, context_dim), embed (N, embed_dim) -> (N, context_dim). Phase 1 uses this.
    torch::Tensor step(const torch::Tensor& prev, const torch::Tensor& embed);
    // The recurrence over a sequence: embeds (B, T, embed_dim), initial (B, context_dim) or
    // undefined for zeros -> contexts (B, T, context_dim); *final_state gets c_T.
    torch::Tensor forward(const torch::Tensor& embeds, const torch::Tensor& initial,
                          torch::Tensor* final_state = nullptr);
    torch::nn::Linear linear() const;  // fnn.fnn.0
    ContextBlockOptions options;
    ContextLayer layer{nullptr};
};
TORCH_MODULE(ContextBlock);

// context-kv's layer-0 attention (KV_METHODS.md part A): queries from the layer's input as in
// GPT-NeoX; keys and values from ContextBlock contexts, k = W_k c and v = W_v c (context_dim ->
// width), each at its own position (rotary as GPT-NeoX's); the query at t sees the contexts at
// t, t - interval, t - 2 interval, ... (at most max_contexts of them).
struct ContextKvAttentionOptions {
    ContextKvAttentionOptions(std::int64_t width, std::int64_t heads, std::int64_t context_dim)
        : width_(width), heads_(heads), context_dim_(context_dim) {}
    TORCH_ARG(std::int64_t, width);
    TORCH_ARG(std::int64_t, heads);
    TORCH_ARG(std::int64_t, context_dim);
    TORCH_ARG(std::int64_t, interval) = 32;
    TORCH_ARG(std::int64_t, max_contexts) = 32;
    TORCH_ARG(std::int64_t, rotary_dims) = 0;
    TORCH_ARG(double, rotary_base) = 10000.0;
    TORCH_ARG(double, init_std) = 0.02;
};

class ContextKvAttentionImpl : public torch::nn::Module {
  public:
    explicit ContextKvAttentionImpl(const ContextKvAttentionOptions& options);
    void reset();
    void reset_parameters();
    // x: (B, T, width) at positions past, past + 1, ...; contexts (B, S, context_dim) at the
    // absolute `positions` (S of them, ascending). Each query attends to the contexts it may see.
    torch::Tensor forward(const torch::Tensor& x, std::int64_t past, const torch::Tensor& contexts,
                          const std::vector<std::int64_t>& positions);
    // The positions the query at `position` reads, newest first (decoding gathers only these).
    std::vector<std::int64_t> visible_positions(std::int64_t position) const;
    ContextKvAttentionOptions options;
    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, dense{nullptr};
};
TORCH_MODULE(ContextKvAttention);

// context-kv's layer 0: GPT-NeoX's layer (names, norms, MLP, parallel residual) with the
// context attention.
class ContextKvLayerImpl : public torch::nn::Module {
  public:
    explicit ContextKvLayerImpl(const ModelConfig& config);
    torch::Tensor forward(const torch::Tensor& x, std::int64_t past, const torch::Tensor& contexts,
                          const std::vector<std::int64_t>& positions);
    torch::nn::LayerNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
    ContextKvAttention attention{nullptr};
    GptNeoxMlp mlp{nullptr};
};
TORCH_MODULE(ContextKvLayer);

// A causal language model of any design.
class CausalLm : public torch::nn::Module {
  public:
    explicit CausalLm(const ModelConfig& config) : config_(config) {}
    const ModelConfig& config() const { return config_; }
    // ids: (B, T) int64 -> logits (B, T, vocab_rows). With a cache, positions continue from
    // cache->length and the cache grows by T. Ids are not range-checked here (that would read
    // the device back on every step): check_token_ids() where they enter.
    virtual torch::Tensor forward(const torch::Tensor& ids, KvCache* cache = nullptr) = 0;
    // An empty cache kept under `policy` (full: K and V as computed); the low-rank policy's PCA
    // basis comes from `bases` (model/cache_layers.h).
    KvCache make_cache(const CachePolicy& policy = {}, const KvBases* bases = nullptr) const;

  protected:
    ModelConfig config_;
};

// The GPT-NeoX body, registered as `gpt_neox` so names read gpt_neox.layers.0...
class GptNeoxBodyImpl : public torch::nn::Module {
  public:
    explicit GptNeoxBodyImpl(const ModelConfig& config);
    void reset_parameters(double init_std);
    torch::nn::Embedding embed_in{nullptr};
    torch::nn::ModuleList layers{nullptr};
    torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(GptNeoxBody);

class PythiaModel : public CausalLm {
  public:
    explicit PythiaModel(const ModelConfig& config);
    torch::Tensor forward(const torch::Tensor& ids, KvCache* cache = nullptr) override;
    GptNeoxBody gpt_neox{nullptr};
    torch::nn::Linear embed_out{nullptr};
};

// A model that reads a ContextBlock (Context-Pythia, context-kv): what Phase 2's loading and
// freezing and the context-diversity view need of it.
class ContextBlockModel {
  public:
    virtual ~ContextBlockModel() = default;
    // embed_norm(embed_in(ids)): the token embeddings the ContextBlock reads.
    virtual torch::Tensor embed(const torch::Tensor& ids) = 0;
    virtual ContextBlock& block() = 0;
    // After Phase 1 the ContextBlock no longer trains (Phase 2 trains the language model only).
    void freeze_context_block();
};

class ContextPythiaModel : public CausalLm, public ContextBlockModel {
  public:
    explicit ContextPythiaModel(const ModelConfig& config);
    torch::Tensor forward(const torch::Tensor& ids, KvCache* cache = nullptr) override;
    torch::Tensor embed(const torch::Tensor& ids) override;
    ContextBlock& block() override { return context_block; }
    torch::nn::Embedding embed_in{nullptr};
    torch::nn::LayerNorm embed_norm{nullptr};
    ContextBlock context_block{nullptr};
    torch::nn::ModuleList layers{nullptr};
    torch::nn::LayerNorm final_layer_norm{nullptr};
    torch::nn::Linear embed_out{nullptr};
};

// KV_METHODS.md's projection-256: Context-Pythia with the recurrence removed. Each token's
// embedding goes through embed_norm and one Linear(embed_dim -> context_dim) with bias, then the
// same GPT-NeoX layers at context_dim: what the ContextBlock adds is what this lacks.
class ProjectionModel : public CausalLm {
  public:
    explicit ProjectionModel(const ModelConfig& config);
    torch::Tensor forward(const torch::Tensor& ids, KvCache* cache = nullptr) override;
    torch::nn::Embedding embed_in{nullptr};
    torch::nn::LayerNorm embed_norm{nullptr};
    torch::nn::Linear projection{nullptr};
    torch::nn::ModuleList layers{nullptr};
    torch::nn::LayerNorm final_layer_norm{nullptr};
    torch::nn::Linear embed_out{nullptr};
};

// KV_METHODS.md's context-kv: Pythia (GPT-NeoX names) whose layer 0 attends to ContextBlock
// contexts of embed_norm(embed_in(ids)) instead of its own keys and values; layers 1+ as Pythia's.
// Its cache keeps, for layer 0, the contexts of the last context_interval x max_contexts
// positions (KvCache::contexts) and, for the other layers, K and V.
class ContextKvModel : public CausalLm, public ContextBlockModel {
  public:
    explicit ContextKvModel(const ModelConfig& config);
    torch::Tensor forward(const torch::Tensor& ids, KvCache* cache = nullptr) override;
    torch::Tensor embed(const torch::Tensor& ids) override;
    ContextBlock& block() override { return context_block; }
    // Registered as `gpt_neox`: embed_in, layers (0: ContextKvLayer, then GptNeoxLayer), final norm.
    std::shared_ptr<torch::nn::Module> gpt_neox;
    torch::nn::Embedding embed_in{nullptr};
    torch::nn::ModuleList layers{nullptr};
    torch::nn::LayerNorm final_layer_norm{nullptr};
    torch::nn::LayerNorm embed_norm{nullptr};
    ContextBlock context_block{nullptr};
    torch::nn::Linear embed_out{nullptr};
};

// A freshly initialised model of the config's design (MODEL_SPEC.md's init), deterministic for a
// seed on the CPU. One case per entry of the design registry (model/model_registry.h).
// Whether attention uses libtorch 2.x's fused scaled_dot_product_attention where it can (the
// default) or the explicit float32 path (the reference); for the tests that compare the two.
// Before libtorch 2 there is only the explicit path.
void set_fused_attention(bool on);
bool fused_attention();

std::shared_ptr<CausalLm> make_model(const ModelConfig& config, std::uint64_t seed);

// Throws cp::Error naming the first id outside 0..vocab_rows-1. Called where ids enter (the data
// loader, score, generate), never inside forward(): on CUDA it reads the device back.
void check_token_ids(const torch::Tensor& ids, const ModelConfig& config);

ParameterCounts count_parameters(CausalLm& model);

struct KvTrace {
    std::vector<KvMeasurement> measurements;  // one per length reached
    std::int64_t decoded_tokens = 0;          // single-token forward passes run
    double decode_seconds = 0;                // time spent in them
};
// How the cache is kept while measuring: its policy (full: K and V as computed), the basis the
// low-rank policy projects on, and how many of the prompt's first tokens are fed at once (a
// prefill, after which a prompt-compressing policy such as SnapKV compresses) before the rest
// one at a time.
struct KvTraceOptions {
    CachePolicy policy = {};
    const KvBases* bases = nullptr;
    std::int64_t prefill = 0;
};
// Decodes `prompt` (real text) and then the model's own greedy continuation one token at a time
// with the KV cache, measuring the cache when it has read each of `lengths` (ascending) tokens.
// Stops early, with what it measured, when `stop` is set.
KvTrace measure_kv_cache(CausalLm& model, const std::vector<std::int64_t>& prompt,
                         const std::vector<std::int64_t>& lengths,
                         const std::atomic<bool>* stop = nullptr,
                         const KvTraceOptions& options = {});

}  // namespace cp::model
