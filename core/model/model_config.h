// The shape of a model: every size of Pythia (GPT-NeoX) and Context-Pythia, the named presets,
// validation with messages that name the field, and the JSON form kept in checkpoints.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/design.h"

namespace cp::model {

// A config's design decides which module is built (model/models.cpp's make_model).
using Architecture = Design;
inline const char* to_string(Architecture a) {
    return design_key(a);
}

struct ModelConfig {
    Architecture architecture = Architecture::pythia;
    std::int64_t vocab_rows = 50304;    // rows of embed_in / embed_out (>= tokenizer vocab)
    std::int64_t embed_dim = 512;       // token embedding width (= hidden for Pythia)
    std::int64_t context_dim = 256;     // Context-Pythia: width every layer runs at
    std::int64_t layers = 6;            // GPT-NeoX layers
    std::int64_t heads = 8;             // attention heads per layer
    std::int64_t intermediate = 2048;   // MLP width
    // pythia-gqa: K/V heads (query head h reads K/V head h / (heads / kv_heads)); 1 is MQA.
    // 0 for every other design: one fused query_key_value, a K/V head per query head.
    std::int64_t kv_heads = 0;
    // pythia-mla: width of the cached latent c = W_dkv x (DeepSeek-V2's kv_lora_rank); beside it
    // each layer caches one shared rotary key of rotary_dims. 0 for every other design.
    std::int64_t kv_latent = 0;
    // context-kv: layer 0 attends to the contexts at t, t - context_interval, ... (at most
    // max_contexts of them; reference 32 and 32). 0 for every other design.
    std::int64_t context_interval = 0;
    std::int64_t max_contexts = 0;
    double rotary_pct = 0.25;           // share of each head's dims that rotate
    double rotary_base = 10000.0;       // RoPE base
    std::int64_t max_positions = 2048;  // longest sequence the model is meant for
    double layer_norm_eps = 1e-5;
    double init_std = 0.02;               // N(0, init_std) for Linear/Embedding weights
    double context_init_std = 0.1;        // ContextBlock Linear weight N(0, 0.1) (reference)
    double context_bias_init_std = 0.01;  // ContextBlock Linear bias N(0, 0.01) (reference)
    std::int64_t end_of_text_id = 50256;  // GPT-2's <|endoftext|>

    // Whether the GPT-NeoX layers run at the embedding width (the Pythia family) rather than at
    // context_dim (Context-Pythia and the projection comparator).
    bool layers_at_embed_width() const {
        return architecture == Architecture::pythia || architecture == Architecture::pythia_256 ||
               architecture == Architecture::pythia_gqa || architecture == Architecture::pythia_mla ||
               architecture == Architecture::context_kv ||
               architecture == Architecture::pythia_input_cache;
    }
    // Whether the model reads a ContextBlock (Context-Pythia, context-kv).
    bool has_context_block() const {
        return architecture == Architecture::context_pythia ||
               architecture == Architecture::context_kv;
    }
    // context-kv: the positions whose contexts layer 0 may still read, the cache's window.
    std::int64_t context_window() const { return context_interval * max_contexts; }
    // Width the GPT-NeoX layers run at: embed_dim for Pythia, context_dim for Context-Pythia.
    std::int64_t layer_width() const { return layers_at_embed_width() ? embed_dim : context_dim; }
    std::int64_t head_dim() const { return layer_width() / heads; }
    // KV_METHODS.md's formula: values cached per token (K and V of every layer), for display
    // beside the measured bytes, never instead of them.
    std::int64_t kv_values_per_token_formula() const {
        if (kv_latent > 0) return (kv_latent + rotary_dims()) * layers;
        if (architecture == Architecture::pythia_input_cache) return layer_width() * layers;
        if (architecture == Architecture::context_kv) return 2 * layer_width() * (layers - 1);
        return 2 * (kv_heads > 0 ? kv_heads * head_dim() : layer_width()) * layers;
    }
    // The same formula for the whole cache after `tokens` tokens: context-kv's layer 0 adds the
    // contexts of the last context_window() positions, so its cost per token depends on length.
    std::int64_t kv_values_formula(std::int64_t tokens) const {
        std::int64_t values = kv_values_per_token_formula() * tokens;
        if (architecture == Architecture::context_kv)
            values += std::min(tokens, context_window()) * context_dim;
        return values;
    }
    std::int64_t rotary_dims() const { return static_cast<std::int64_t>(head_dim() * rotary_pct); }

    // Every problem, each naming its field and what would be valid; empty when valid.
    std::vector<std::string> cache_problems() const;  // part of problems()
    std::vector<std::string> problems() const;
    // Throws cp::Error listing problems() when there are any.
    void validate() const;

    nlohmann::json to_json() const;
    static ModelConfig from_json(const nlohmann::json& j);  // throws cp::Error on bad fields
};

// Parameter counts of a model, by part.
struct ParameterCounts {
    std::int64_t embeddings = 0;     // embed_in (+ embed_norm, + projection-256's projection)
    std::int64_t context_block = 0;  // 0 for Pythia
    std::int64_t layers = 0;         // all GPT-NeoX layers
    std::int64_t head = 0;           // final_layer_norm + embed_out
    std::int64_t total = 0;
    std::int64_t trainable = 0;  // requires_grad
};

// The KV cache of a model measured from its tensors after decoding `tokens` tokens.
struct KvMeasurement {
    std::int64_t tokens = 0;              // cache length when measured
    std::int64_t kv_bytes = 0;            // sum of nbytes of the cached K and V tensors
    std::int64_t kv_allocated_bytes = 0;  // storage behind them (grows by doubling)
    std::int64_t state_bytes = 0;         // Context-Pythia's recurrent state (O(1))
    double kv_bytes_per_token() const { return tokens ? double(kv_bytes) / double(tokens) : 0.0; }
};

// "<design>-<size>" for every entry of the design registry: pythia-70m, context-pythia-70m
// (MODEL_SPEC.md), pythia-tiny, context-pythia-tiny (a few small layers over the full
// vocabulary, for tests and quick CPU runs), ...
ModelConfig preset(const std::string& name);
std::vector<std::string> preset_names();

}  // namespace cp::model
