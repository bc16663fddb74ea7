// The KV cache of incremental decoding: per layer K and V, plus Context-Pythia's recurrent
// context state. It reports its bytes from its own tensors (never from a formula).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <vector>

namespace cp::model {

// One layer's keys or values, (B, heads, length, head_dim), in storage that grows by doubling
// so that appending one token is amortised O(1) instead of a copy of the whole cache.
class GrowingSequence {
  public:
    // Appends `step` (B, heads, T, head_dim) along the sequence axis; returns the whole sequence.
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

struct KvCache {
    std::vector<GrowingSequence> keys, values;  // one per layer
    torch::Tensor context_state;                // Context-Pythia: (B, context_dim); else undefined
    ContextWindow contexts;                     // context-kv's layer 0; else empty
    std::int64_t length = 0;                    // tokens cached so far

    // Sum of nbytes of every cached K and V tensor (context-kv's contexts included).
    std::int64_t kv_bytes() const;
    // nbytes of the storage those tensors live in (>= kv_bytes because of doubling).
    std::int64_t kv_allocated_bytes() const;
    // nbytes of the recurrent context state (0 for Pythia).
    std::int64_t state_bytes() const;
    std::int64_t bytes() const { return kv_bytes() + state_bytes(); }
};

}  // namespace cp::model
