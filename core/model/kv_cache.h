// The KV cache of incremental decoding: per layer K and V, plus Context-Pythia's recurrent
// context state. It reports its bytes from its own tensors (never from a formula).
#pragma once

#include <torch/torch.h>

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

struct KvCache {
    std::vector<GrowingSequence> keys, values;  // one per layer
    torch::Tensor context_state;                // Context-Pythia: (B, context_dim); else undefined
    std::int64_t length = 0;                    // tokens cached so far

    // Sum of nbytes of every cached K and V tensor.
    std::int64_t kv_bytes() const;
    // nbytes of the storage those tensors live in (>= kv_bytes because of doubling).
    std::int64_t kv_allocated_bytes() const;
    // nbytes of the recurrent context state (0 for Pythia).
    std::int64_t state_bytes() const;
    std::int64_t bytes() const { return kv_bytes() + state_bytes(); }
};

}  // namespace cp::model
