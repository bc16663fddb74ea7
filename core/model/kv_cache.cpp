// The KV cache (model/kv_cache.h): the growing sequences, the context window, the layer caches
// and a model's cache under a policy.

#include "model/models.h"

#include <algorithm>

#include "common/error.h"
#include "model/cache_layers.h"

namespace cp::model {

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

}  // namespace cp::model
