// What the low-rank cache projects on and what the K/V anatomy shows: per layer, the moments of
// the K and V a model's cache really holds while it reads training text, turned into each
// head's principal directions and each layer's eigenvalue spectrum (model/cache_layers.h's
// KvBases); saved beside the checkpoint and read back, so one calibration serves every later
// evaluation of the same model.
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>
#include <vector>

#include "model/cache_layers.h"
#include "model/models.h"

namespace cp::model {

// Running first and second moments of cached tensors (B, h, S, d), per head and for the layer
// as a whole (its heads side by side), in float64.
class KvMoments {
  public:
    void add(const torch::Tensor& x);
    std::int64_t count() const { return count_; }
    // The centred covariance's eigen-decomposition: each head's mean, directions and
    // eigenvalues (descending), and the layer's spectrum.
    KvBasis basis() const;

  private:
    torch::Tensor sum_, gram_, layer_sum_, layer_gram_;
    std::int64_t count_ = 0;
};

// Runs `net` over the training tokens (rows of `width` = seq_length + 1, the inputs of each),
// at least `wanted` tokens as far as the text holds, and collects each layer's cached K and V.
// A layer that caches no K/V (context-kv's layer 0) gets an empty basis.
KvBases calibrate_kv_bases(CausalLm& net, const std::vector<std::int64_t>& tokens,
                           std::int64_t width, std::int64_t wanted,
                           const std::atomic<bool>* stop = nullptr);

// The bases of `checkpoint` written to `path` (the store says where: the trained run's own
// folder). `requested`: the calibration tokens asked for (the text may hold fewer: bases.tokens
// says what was read), the key a later load matches.
void save_kv_bases(const KvBases& bases, const std::filesystem::path& path,
                   const std::string& checkpoint, std::int64_t requested);
// The bases at `path` when they were calibrated on `requested` tokens for this very checkpoint
// (its size is recorded); nothing otherwise.
std::optional<KvBases> load_kv_bases(const std::filesystem::path& path,
                                     const std::string& checkpoint, std::int64_t requested);

}  // namespace cp::model
