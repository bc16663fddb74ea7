// How a trained model stores its KV cache while it reads (KV_METHODS.md part B): the policy's
// name and parameters, parsed from "NAME[:key=value,...]" and checked before any work, each
// problem naming the policy and the parameter. Torch-free, so the CLI and the GUI check a policy
// without a model; the caches themselves are model/kv_cache.h's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/model_config.h"

namespace cp::model {

enum class PolicyKind { full, int8, int4, lowrank, streaming, h2o, snapkv };

// What the low-rank policy projects, and onto which basis.
enum class LowRankTarget { k, v, kv };
enum class LowRankBasis { pca, random };

struct CachePolicy {
    PolicyKind kind = PolicyKind::full;
    // int8, int4 (KIVI): K per channel over groups of `group` tokens, V per token over groups of
    // `group` channels (at most the cached width), asymmetric; the `residual` most recent tokens
    // stay unquantized.
    std::int64_t group = 32, residual = 32;
    // lowrank: `rank` orthonormal directions per layer and head (0: not set, required).
    std::int64_t rank = 0;
    LowRankTarget target = LowRankTarget::kv;
    LowRankBasis basis = LowRankBasis::pca;
    std::uint64_t basis_seed = 0;  // the random orthogonal basis's seed
    // streaming: the first `sinks` tokens and the last `window`. h2o: `budget` tokens, the last
    // `window` and (optionally) `sinks` first ones always kept, the rest heavy hitters by
    // accumulated attention. snapkv: `budget` tokens, the last `observation` and the positions
    // they attend to most (scores max-pooled over `kernel` positions).
    std::int64_t sinks = 4, window = 60, budget = 64, observation = 32, kernel = 7;
    // A budget in bytes instead of the policy's own knobs: at most this fraction of the full
    // cache's scored bytes per token (KV_METHODS.md §D), in (0, 1]; 0: not given. The evaluation
    // solves the knob (streaming's window, h2o's and snapkv's token budget, lowrank's rank) on the
    // scored chunks before any work; int8/int4 reach only their own ratio.
    double fraction = 0;

    // "int8:group=32,residual=32": every parameter of the policy, so the text reproduces it.
    std::string text() const;
    // A short name for tables and plots: "int8", "lowrank k r=8 pca", "h2o 64".
    std::string label() const;
    bool evicts() const;  // streaming, h2o, snapkv: the cache drops tokens
    // Problems that need the model: a rank above the head width, a group that does not divide
    // the cached width, a policy for a cache that does not have the tensors it needs. Each names
    // the policy and the parameter. Empty when the policy fits.
    std::vector<std::string> problems_for(const ModelConfig& config) const;
};

const char* policy_key(PolicyKind k);
std::string policy_keys_text();  // "full, int8, int4, lowrank, streaming, h2o, snapkv"

// Parses "NAME[:key=value,...]". Throws cp::Error naming the unknown policy, the unknown or
// mistyped parameter, or the rule broken (budget below sinks + window, int4 with an odd group,
// ...) with the way out.
CachePolicy parse_policy(const std::string& text);

// The parameters each policy takes, with their defaults, for help texts and the GUI.
std::string policy_help();
std::string default_parameters_text(PolicyKind k);  // "group=32,residual=32"

}  // namespace cp::model
