// The cache policies of KV_METHODS.md part B as LayerCache implementations: `full` (K and V as
// computed), `int8` / `int4` (KIVI's asymmetric quantization, K per channel and V per token, a
// residual of recent tokens unquantized, int4 packed two codes to a byte), `lowrank` (projection
// coefficients on a per-head orthonormal basis, the basis counted once), and the evicting
// `streaming` (sinks + recent window), `h2o` (recent window + heavy hitters by accumulated
// attention) and `snapkv` (the observation window + the positions it attends to most). Each
// stores what it says and its bytes are measured from those tensors.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "model/cache_policy.h"
#include "model/kv_cache.h"

namespace cp::model {

// The principal directions of one layer's cached K (or V) over calibration text: per cached head
// the centred covariance's mean and eigenvectors, most variance first; and the spectrum of the
// whole layer (its heads together), the K/V anatomy.
struct KvBasis {
    torch::Tensor mean;               // (h, d)
    torch::Tensor directions;         // (h, d, d): column j is the j-th direction
    torch::Tensor eigenvalues;        // (h, d), descending
    torch::Tensor layer_eigenvalues;  // (h x d), descending
};
struct KvBases {
    std::vector<KvBasis> k, v;  // one per layer
    std::int64_t tokens = 0;    // calibration tokens they were computed from
};

// The cache of layer `layer` under `policy`. lowrank reads the layer's basis from `bases`
// (required for it: throws cp::Error without).
std::unique_ptr<LayerCache> make_layer_cache(const CachePolicy& policy, std::int64_t layer,
                                             const KvBases* bases);

// Asymmetric quantization of x (..., g), one group per row of the last dimension:
// scale = (max - min) / (2^bits - 1), zero = min, code = round((x - zero) / scale); 4-bit codes
// are packed two to a byte along the last dimension (g even).
struct QuantizedGroups {
    torch::Tensor codes;  // uint8 (..., g) for 8 bits, (..., g / 2) for 4
    torch::Tensor scale, zero;  // (..., 1), the values' dtype
    int bits = 8;
};
QuantizedGroups quantize_groups(const torch::Tensor& x, int bits);
torch::Tensor dequantize_groups(const QuantizedGroups& q);

// A random orthonormal basis (h, d, d) from a Gaussian matrix's QR, the low-rank control.
torch::Tensor random_orthonormal(std::int64_t heads, std::int64_t width, std::uint64_t seed);

}  // namespace cp::model
