#include "model/cache_layers.h"

#include "common/error.h"

namespace cp::model {
namespace F = torch::nn::functional;

// ---- quantization ---------------------------------------------------------------------------

QuantizedGroups quantize_groups(const torch::Tensor& x, int bits) {
    QuantizedGroups q;
    q.bits = bits;
    const double levels = static_cast<double>((1 << bits) - 1);
    const torch::Tensor lo = std::get<0>(x.min(-1, /*keepdim=*/true));
    const torch::Tensor hi = std::get<0>(x.max(-1, /*keepdim=*/true));
    // A constant group has no range: scale 1, every code 0, dequantized exactly to `zero`.
    q.scale = torch::where(hi > lo, (hi - lo) / levels, torch::ones_like(lo));
    q.zero = lo;
    torch::Tensor codes = torch::round((x - q.zero) / q.scale).clamp(0, levels).to(torch::kUInt8);
    if (bits == 4) {
        const torch::Tensor even = codes.index({"...", torch::indexing::Slice(0, torch::indexing::None, 2)});
        const torch::Tensor odd = codes.index({"...", torch::indexing::Slice(1, torch::indexing::None, 2)});
        codes = torch::bitwise_or(even, torch::bitwise_left_shift(odd, 4));
    }
    q.codes = codes.contiguous();
    return q;
}

torch::Tensor dequantize_groups(const QuantizedGroups& q) {
    torch::Tensor codes = q.codes;
    if (q.bits == 4) {
        const torch::Tensor even = torch::bitwise_and(codes, 15);
        const torch::Tensor odd = torch::bitwise_right_shift(codes, 4);
        auto sizes = codes.sizes().vec();
        sizes.back() *= 2;
        codes = torch::stack({even, odd}, -1).view(sizes);
    }
    return codes.to(q.scale.scalar_type()) * q.scale + q.zero;
}

torch::Tensor random_orthonormal(std::int64_t heads, std::int64_t width, std::uint64_t seed) {
    auto generator = at::detail::createCPUGenerator(seed);
    const torch::Tensor g =
        at::normal(0.0, 1.0, {heads, width, width}, generator, torch::TensorOptions().dtype(torch::kFloat64));
    return std::get<0>(torch::linalg_qr(g, "reduced")).to(torch::kFloat32);
}

namespace {

std::vector<torch::Tensor> views(const std::initializer_list<const GrowingSequence*> sequences) {
    std::vector<torch::Tensor> out;
    for (const GrowingSequence* s : sequences)
        if (s->length() > 0) out.push_back(s->view());
    return out;
}

torch::Tensor cat_entries(const torch::Tensor& kept, const torch::Tensor& fresh) {
    return kept.defined() ? torch::cat({kept, fresh}, 2) : fresh;
}

// x (B, h, S, d) at the positions idx (B, h, n) of each head, in idx's order.
torch::Tensor take_positions(const torch::Tensor& x, const torch::Tensor& idx) {
    return x.gather(2, idx.unsqueeze(-1).expand({idx.size(0), idx.size(1), idx.size(2), x.size(3)}));
}

// ---- int8 / int4 (KIVI) ---------------------------------------------------------------------

// K is quantized per channel over blocks of `group` tokens once `residual` newer tokens follow
// them; V per token over groups of channels once the token leaves the last `residual`. Codes,
// scales and zero points grow in one buffer each, so reading the cache is one dequantization.
class QuantizedLayerCache : public LayerCache {
  public:
    explicit QuantizedLayerCache(const CachePolicy& p)
        : bits_(p.kind == PolicyKind::int4 ? 4 : 8), group_(p.group), residual_(p.residual) {}

    std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k,
                                                   const torch::Tensor& v) override {
        k_tail_ = cat_entries(k_tail_, k);
        v_tail_ = cat_entries(v_tail_, v);
        const std::int64_t blocks = (k_tail_.size(2) - residual_) / group_;
        if (k_tail_.size(2) >= residual_ + group_ && blocks > 0) {
            // (B, h, blocks x group, d) -> per block and channel, groups along the tokens:
            // (B, h, blocks, d, group).
            const torch::Tensor old = k_tail_.narrow(2, 0, blocks * group_);
            const QuantizedGroups q = quantize_groups(
                old.reshape({old.size(0), old.size(1), blocks, group_, old.size(3)})
                    .transpose(3, 4)
                    .contiguous(),
                bits_);
            k_codes_.append(q.codes);
            k_scales_.append(q.scale);
            k_zeros_.append(q.zero);
            k_tail_ = k_tail_.narrow(2, blocks * group_, k_tail_.size(2) - blocks * group_).clone();
        }
        if (v_tail_.size(2) > residual_) {
            const std::int64_t n = v_tail_.size(2) - residual_, d = v_tail_.size(3);
            const std::int64_t g = std::min(group_, d);
            const torch::Tensor old = v_tail_.narrow(2, 0, n);
            const QuantizedGroups q =
                quantize_groups(old.reshape({old.size(0), old.size(1), n, d / g, g}), bits_);
            v_codes_.append(q.codes);
            v_scales_.append(q.scale);
            v_zeros_.append(q.zero);
            v_tail_ = v_tail_.narrow(2, n, residual_).clone();
        }
        length_ += k.size(2);
        return {read(k_codes_, k_scales_, k_zeros_, k_tail_, true),
                read(v_codes_, v_scales_, v_zeros_, v_tail_, false)};
    }
    std::int64_t length() const override { return length_; }
    std::vector<torch::Tensor> stored() const override {
        std::vector<torch::Tensor> out =
            views({&k_codes_, &k_scales_, &k_zeros_, &v_codes_, &v_scales_, &v_zeros_});
        for (const torch::Tensor& t : {k_tail_, v_tail_})
            if (t.defined() && t.size(2) > 0) out.push_back(t);
        return out;
    }
    std::int64_t allocated_bytes() const override {
        std::int64_t total = 0;
        for (const auto* s : {&k_codes_, &k_scales_, &k_zeros_, &v_codes_, &v_scales_, &v_zeros_})
            total += s->allocated_bytes();
        for (const torch::Tensor& t : {k_tail_, v_tail_})
            if (t.defined()) total += static_cast<std::int64_t>(t.nbytes());
        return total;
    }

  private:
    // The dequantized entries (B, h, quantized, d) then the unquantized tail.
    torch::Tensor read(const GrowingSequence& codes, const GrowingSequence& scales,
                       const GrowingSequence& zeros, const torch::Tensor& tail, bool keys) const {
        if (codes.length() == 0) return tail;
        const torch::Tensor x = dequantize_groups({codes.view(), scales.view(), zeros.view(), bits_});
        // K: (B, h, blocks, d, group) -> (B, h, blocks x group, d); V: (B, h, n, d / g, g).
        const torch::Tensor entries =
            keys ? x.transpose(3, 4).reshape({x.size(0), x.size(1), -1, x.size(3)})
                 : x.reshape({x.size(0), x.size(1), x.size(2), -1});
        return tail.size(2) > 0 ? torch::cat({entries, tail}, 2) : entries;
    }
    int bits_;
    std::int64_t group_, residual_, length_ = 0;
    GrowingSequence k_codes_, k_scales_, k_zeros_, v_codes_, v_scales_, v_zeros_;
    torch::Tensor k_tail_, v_tail_;  // the unquantized residual, (B, h, t, d)
};

// ---- lowrank --------------------------------------------------------------------------------

// One of K or V kept as coefficients on `rank` orthonormal directions per head around the
// calibration mean: stored (B, h, S, rank), read back as mean + coefficients x directions^T.
class Projection {
  public:
    Projection(const KvBasis& basis, const CachePolicy& p, std::int64_t layer) {
        const std::int64_t h = basis.mean.size(0), d = basis.mean.size(1);
        const torch::Tensor directions =
            p.basis == LowRankBasis::pca
                ? basis.directions
                : random_orthonormal(h, d, p.basis_seed * 1000003 + static_cast<std::uint64_t>(layer));
        basis_ = directions.narrow(2, 0, p.rank).contiguous();  // (h, d, r)
        mean_ = basis.mean.contiguous();                        // (h, d)
    }
    torch::Tensor append(const torch::Tensor& x) {
        if (basis_.device() != x.device() || basis_.scalar_type() != x.scalar_type()) {
            basis_ = basis_.to(x.device(), x.scalar_type());
            mean_ = mean_.to(x.device(), x.scalar_type());
        }
        const torch::Tensor centred = x - mean_.unsqueeze(0).unsqueeze(2);
        coefficients_.append(torch::einsum("bhsd,hdr->bhsr", {centred, basis_}));
        return torch::einsum("bhsr,hdr->bhsd", {coefficients_.view(), basis_}) +
               mean_.unsqueeze(0).unsqueeze(2);
    }
    std::vector<torch::Tensor> stored() const {
        if (coefficients_.length() == 0) return {};
        return {coefficients_.view(), basis_, mean_};
    }
    std::int64_t allocated_bytes() const {
        return coefficients_.allocated_bytes() +
               (coefficients_.length() ? static_cast<std::int64_t>(basis_.nbytes() + mean_.nbytes()) : 0);
    }

  private:
    torch::Tensor basis_, mean_;
    GrowingSequence coefficients_;
};

class LowRankLayerCache : public LayerCache {
  public:
    LowRankLayerCache(const CachePolicy& p, std::int64_t layer, const KvBases& bases) {
        if (p.target != LowRankTarget::v) k_.emplace(bases.k.at(static_cast<std::size_t>(layer)), p, layer);
        if (p.target != LowRankTarget::k) v_.emplace(bases.v.at(static_cast<std::size_t>(layer)), p, 2 * layer + 1);
    }
    std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k,
                                                   const torch::Tensor& v) override {
        length_ += k.size(2);
        return {k_ ? k_->append(k) : full_k_.append(k), v_ ? v_->append(v) : full_v_.append(v)};
    }
    std::int64_t length() const override { return length_; }
    std::vector<torch::Tensor> stored() const override {
        std::vector<torch::Tensor> out = views({&full_k_, &full_v_});
        for (const auto* p : {&k_, &v_})
            if (*p)
                for (const torch::Tensor& t : (*p)->stored()) out.push_back(t);
        return out;
    }
    std::int64_t allocated_bytes() const override {
        std::int64_t total = full_k_.allocated_bytes() + full_v_.allocated_bytes();
        for (const auto* p : {&k_, &v_})
            if (*p) total += (*p)->allocated_bytes();
        return total;
    }

  private:
    std::optional<Projection> k_, v_;
    GrowingSequence full_k_, full_v_;  // the side the target leaves alone
    std::int64_t length_ = 0;
};

// ---- eviction -------------------------------------------------------------------------------

// What the evicting policies share: the kept K and V (B, h, n, d), and, at the end of each step,
// the choice of which `budget` positions each head keeps.
class EvictingLayerCache : public LayerCache {
  public:
    std::pair<torch::Tensor, torch::Tensor> append(const torch::Tensor& k,
                                                   const torch::Tensor& v) override {
        k_ = cat_entries(k_, k);
        v_ = cat_entries(v_, v);
        grow(k.size(2));
        return {k_, v_};
    }
    std::int64_t length() const override { return k_.defined() ? k_.size(2) : 0; }
    std::vector<torch::Tensor> stored() const override {
        std::vector<torch::Tensor> out;
        for (const torch::Tensor& t : {k_, v_})
            if (t.defined()) out.push_back(t);
        return out;
    }

  protected:
    virtual void grow(std::int64_t /*added*/) {}
    // Keeps the positions idx (B, h, n) of every head, ascending.
    virtual void keep(const torch::Tensor& idx) {
        k_ = take_positions(k_, idx);
        v_ = take_positions(v_, idx);
    }
    // idx (B, h, budget), ascending: the first `sinks` and the last `window` entries, and among
    // the others the `budget - sinks - window` of highest `score` (B, h, n).
    torch::Tensor choose(const torch::Tensor& score, std::int64_t budget, std::int64_t sinks,
                         std::int64_t window) const {
        // The protected entries score above any attention; topk keeps them and the best others.
        const std::int64_t n = length();
        torch::Tensor s = score.to(torch::kFloat32).clone();
        const double protect = std::numeric_limits<float>::infinity();
        if (sinks > 0) s.narrow(2, 0, std::min(sinks, n)).fill_(protect);
        if (window > 0) s.narrow(2, n - std::min(window, n), std::min(window, n)).fill_(protect);
        const torch::Tensor top = std::get<1>(s.topk(budget, 2, /*largest=*/true, /*sorted=*/false));
        return std::get<0>(top.sort(2));
    }
    torch::Tensor k_, v_;
};

class StreamingLayerCache : public EvictingLayerCache {
  public:
    explicit StreamingLayerCache(const CachePolicy& p) : sinks_(p.sinks), window_(p.window) {}
    // Every step ends with the cache at the first `sinks` and the last `window` entries.
    void end_step(const torch::Tensor& /*probs*/) override {
        const std::int64_t n = length();
        if (n <= sinks_ + window_) return;
        k_ = torch::cat({k_.narrow(2, 0, sinks_), k_.narrow(2, n - window_, window_)}, 2);
        v_ = torch::cat({v_.narrow(2, 0, sinks_), v_.narrow(2, n - window_, window_)}, 2);
    }

  private:
    std::int64_t sinks_, window_;
};

class HeavyHitterLayerCache : public EvictingLayerCache {
  public:
    explicit HeavyHitterLayerCache(const CachePolicy& p)
        : budget_(p.budget), window_(p.window), sinks_(p.sinks) {}
    bool wants_attention() const override { return true; }
    void end_step(const torch::Tensor& probs) override {
        score_ += probs.to(score_.scalar_type()).sum(2);  // attention each entry received
        if (length() <= budget_) return;
        keep(choose(score_, budget_, sinks_, window_));
    }
    std::vector<torch::Tensor> stored() const override {
        std::vector<torch::Tensor> out = EvictingLayerCache::stored();
        if (score_.defined()) out.push_back(score_);  // the policy keeps its scores too
        return out;
    }

  protected:
    void grow(std::int64_t added) override {
        const torch::Tensor zeros =
            torch::zeros({k_.size(0), k_.size(1), added}, k_.options().dtype(torch::kFloat32));
        score_ = score_.defined() ? torch::cat({score_, zeros}, 2) : zeros;
    }
    void keep(const torch::Tensor& idx) override {
        EvictingLayerCache::keep(idx);
        score_ = score_.gather(2, idx);
    }

  private:
    std::int64_t budget_, window_, sinks_;
    torch::Tensor score_;  // (B, h, n): accumulated attention
};

// SnapKV compresses a prompt: at the end of a step of several tokens (a prefill) that leaves
// more than `budget` entries, each head keeps the last `observation` entries and the positions
// those queries attended to most (their votes max-pooled over `kernel` positions, SnapKV's
// clustering). Tokens decoded one at a time afterwards are appended, as in SnapKV.
class SnapKvLayerCache : public EvictingLayerCache {
  public:
    explicit SnapKvLayerCache(const CachePolicy& p)
        : budget_(p.budget), observation_(p.observation), kernel_(p.kernel) {}
    bool wants_attention() const override { return true; }
    void end_step(const torch::Tensor& probs) override {
        const std::int64_t T = probs.size(2);
        if (T < 2 || length() <= budget_) return;
        const std::int64_t rows = std::min(observation_, T);
        const torch::Tensor votes =
            probs.narrow(2, T - rows, rows).to(torch::kFloat32).sum(2);  // (B, h, n)
        const std::int64_t B = votes.size(0), h = votes.size(1), n = votes.size(2);
        const torch::Tensor pooled =
            F::max_pool1d(votes.view({B * h, 1, n}),
                          F::MaxPool1dFuncOptions(kernel_).stride(1).padding(kernel_ / 2))
                .view({B, h, n});
        keep(choose(pooled, budget_, 0, std::min(observation_, n)));
    }

  private:
    std::int64_t budget_, observation_, kernel_;
};

}  // namespace

std::unique_ptr<LayerCache> make_layer_cache(const CachePolicy& policy, std::int64_t layer,
                                             const KvBases* bases) {
    switch (policy.kind) {
        case PolicyKind::full:
            return std::make_unique<FullLayerCache>();
        case PolicyKind::int8:
        case PolicyKind::int4:
            return std::make_unique<QuantizedLayerCache>(policy);
        case PolicyKind::lowrank:
            if (!bases || static_cast<std::size_t>(layer) >= bases->k.size())
                throw Error("policy 'lowrank' needs the K/V bases of the model (calibrate first)");
            // A layer that caches no K/V (context-kv's layer 0 reads contexts) has no basis.
            if (!bases->k[static_cast<std::size_t>(layer)].mean.defined())
                return std::make_unique<FullLayerCache>();
            return std::make_unique<LowRankLayerCache>(policy, layer, *bases);
        case PolicyKind::streaming:
            return std::make_unique<StreamingLayerCache>(policy);
        case PolicyKind::h2o:
            return std::make_unique<HeavyHitterLayerCache>(policy);
        case PolicyKind::snapkv:
            return std::make_unique<SnapKvLayerCache>(policy);
    }
    throw Error("internal error: no cache for this policy");
}

}  // namespace cp::model
