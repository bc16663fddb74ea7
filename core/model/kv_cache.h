// The KV cache of incremental decoding: per layer what the cache policy keeps of K and V, plus
// Context-Pythia's recurrent context state and context-kv's context window. It reports its bytes
// from its own tensors (never from a formula). The policies other than `full` are
// model/cache_layers.h's.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

namespace cp::model {

// One layer's keys or values, (B, heads, length, head_dim), in storage that grows by doubling
// so that appending one token is amortised O(1) instead of a copy of the whole cache. Any
// trailing dimensions after the length work the same (quantized codes and their scales).
class GrowingSequence {
  public:
    // Appends `step` (B, heads, T, ...) along the sequence axis; returns the whole sequence.
    torch::Tensor append(const torch::Tensor& step);
    torch::Tensor view() const;
    std::int64_t length() const { return length_; }
    std::int64_t used_bytes() const;       // nbytes of the cached view
    std::int64_t allocated_bytes() const;  // nbytes of the storage behind it

  private:
    torch::Tensor storage_;
    std::int64_t length_ = 0;
};

// context-kv's layer-0 memory: the contexts of the last `capacity` positions, (B, capacity, C),
// in a ring so that appending one token copies one context, not the window. What it stores is
// what it reports: at most `capacity` contexts, never K or V.
class ContextWindow {
  public:
    explicit ContextWindow(std::int64_t capacity = 0) : capacity_(capacity) {}
    // Appends contexts (B, T, C) of the next T positions; the oldest fall out of the window.
    void append(const torch::Tensor& contexts);
    std::int64_t appended() const { return appended_; }  // positions seen so far
    std::int64_t kept() const { return std::min(appended_, capacity_); }
    std::int64_t first_position() const { return appended_ - kept(); }
    // (B, kept, C) in position order, first_position() first.
    torch::Tensor ordered() const;
    // (B, k, C): the contexts of these absolute positions (each within the window).
    torch::Tensor at(const std::vector<std::int64_t>& positions) const;
    torch::Tensor last() const;               // (B, C): the newest context; undefined if none
    std::int64_t used_bytes() const;          // nbytes of the kept contexts
    std::int64_t allocated_bytes() const;     // nbytes of the ring behind them

  private:
    std::int64_t slot(std::int64_t position) const { return position % capacity_; }
    torch::Tensor ring_;  // (B, capacity or fewer while filling, C)
    std::int64_t capacity_ = 0, appended_ = 0;
};

// One layer's cache under a policy (KV_METHODS.md part B), the one interface every design's
// attention reads and writes. It holds whatever the policy keeps (K and V as computed, codes
// with scales and zero points, coefficients, the tokens not evicted) and reports its bytes from
// those tensors. For Pythia, Context-Pythia and the comparators the two tensors are K and V of
// (B, heads, length, head_dim) (the K/V heads for GQA); for pythia-mla the shared rotary key
// (B, 1, length, rotary_dims) takes K's place and the latent (B, 1, length, kv_latent) V's.
class LayerCache {
  public:
    virtual ~LayerCache() = default;
    // Takes the new positions' keys (rotated) and values, (B, h, T, d), and returns what
    // attention reads, (B, h, S, d): the kept entries, reconstructed where the policy stores
    // them otherwise, with the new ones last. Queries see every kept entry and the new ones up to
    // their own position.
    virtual std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k,
                                                           const torch::Tensor& v) = 0;
    // Called once attention has read what append() returned: the policy may evict now, so that
    // between steps it holds no more than its budget. Policies that choose by attention (h2o,
    // snapkv) say so with wants_attention() and get the new queries' attention over the S
    // entries, (B, h, T, S), summed over the query heads that share a cached head; the others
    // get an undefined tensor.
    virtual bool wants_attention() const { return false; }
    virtual void end_step(const torch::Tensor& /*probs*/) {}
    // Entries (positions) kept.
    virtual std::int64_t length() const = 0;
    // Every tensor the policy holds for this layer: what its bytes are measured from. A basis
    // shared by all tokens counts once.
    virtual std::vector<torch::Tensor> stored() const = 0;
    // Storage behind them (at least their bytes: growth by doubling, rings).
    virtual std::int64_t allocated_bytes() const;
    std::int64_t stored_bytes() const;
};

// The full cache: K and V as computed, in storage that grows by doubling.
class FullLayerCache : public LayerCache {
  public:
    std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k,
                                                   const torch::Tensor& v) override;
    std::int64_t length() const override { return keys.length(); }
    std::vector<torch::Tensor> stored() const override;
    std::int64_t allocated_bytes() const override;
    GrowingSequence keys, values;
};

// pythia-input-cache's layer cache: the attention's input x (B, 1, length, width), one tensor
// where the full cache holds two; K and V are recomputed from it. Only the full policy applies.
class InputLayerCache : public LayerCache {
  public:
    // Takes the new positions' inputs as `k` (B, 1, T, width) (`v` is unused); returns every
    // cached input, (B, 1, S, width), and an undefined tensor.
    std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k,
                                                   const torch::Tensor& v) override;
    std::int64_t length() const override { return inputs.length(); }
    std::vector<torch::Tensor> stored() const override;
    std::int64_t allocated_bytes() const override { return inputs.allocated_bytes(); }
    GrowingSequence inputs;
};

struct KvCache {
    std::vector<std::unique_ptr<LayerCache>> layers;  // one per layer
    torch::Tensor context_state;                // Context-Pythia: (B, context_dim); else undefined
    ContextWindow contexts;                     // context-kv's layer 0; else empty
    std::int64_t length = 0;                    // tokens seen so far (positions, not entries)

    // Sum of nbytes of every tensor the layers' policies keep (context-kv's contexts included).
    std::int64_t kv_bytes() const;
    // nbytes of the storage those tensors live in (>= kv_bytes because of doubling).
    std::int64_t kv_allocated_bytes() const;
    // nbytes of the recurrent context state (0 for Pythia).
    std::int64_t state_bytes() const;
    std::int64_t bytes() const { return kv_bytes() + state_bytes(); }
};

}  // namespace cp::model
