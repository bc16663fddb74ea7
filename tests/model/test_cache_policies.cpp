// The cache policies of KV_METHODS.md part B on tiny models and real text: `full` equals the
// uncached pass; quantization stays within the step the test works out and stores what the test
// counts from the group, residual and lengths; low rank at full rank is lossless and keeps
// exactly `rank` coefficients; PCA beats a random basis; eviction keeps exactly its budget and
// the tokens it promises; a known spectrum is recovered; bad policies are refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.h"
#include "data/corpus.h"
#include "model/cache_layers.h"
#include "model/kv_calibration.h"
#include "model/models.h"
#include "test_support.h"

using namespace cp::model;
using cp::test::error_of;

namespace {

std::vector<std::int64_t> real_ids(std::size_t count, std::size_t document = 0) {
    auto tok = cp::test::gpt2_tokenizer();
    const auto corpus = cp::data::read_corpus(cp::test::brown_dir());
    std::vector<std::int64_t> ids;
    for (std::size_t d = document; ids.size() < count; ++d)
        for (auto id : tok.encode(corpus.documents[d].text)) ids.push_back(id);
    ids.resize(count);
    return ids;
}

torch::Tensor batch(const std::vector<std::int64_t>& ids) {
    return torch::tensor(ids, torch::kInt64).view({1, static_cast<std::int64_t>(ids.size())});
}

// The logits of decoding `ids` one token at a time under `policy`, and the worst difference to
// the uncached pass.
double worst_difference(CausalLm& net, const std::string& policy, const std::vector<std::int64_t>& ids,
                        const KvBases* bases = nullptr) {
    torch::NoGradGuard no_grad;
    const torch::Tensor full = net.forward(batch(ids));
    KvCache cache = net.make_cache(parse_policy(policy), bases);
    double worst = 0;
    for (std::size_t t = 0; t < ids.size(); ++t) {
        const torch::Tensor logits = net.forward(batch({ids[t]}), &cache);
        worst = std::max(worst, (logits[0][0] - full[0][static_cast<std::int64_t>(t)])
                                    .abs()
                                    .max()
                                    .item<double>());
    }
    return worst;
}

KvBases calibrated(CausalLm& net, std::size_t tokens, std::size_t document = 5) {
    const std::int64_t width = 65;
    auto ids = real_ids(tokens / 64 * width + width, document);
    return calibrate_kv_bases(net, ids, width, static_cast<std::int64_t>(tokens));
}

}  // namespace

TEST(CachePolicies, FullEqualsTheUncachedPass) {
    for (const char* preset_name : {"pythia-tiny", "pythia-gqa-tiny", "pythia-mla-tiny"}) {
        auto net = make_model(preset(preset_name), 3);
        net->eval();
        EXPECT_LT(worst_difference(*net, "full", real_ids(300)), 1e-5) << preset_name;
    }
}

// Asymmetric quantization of values the test knows: 0, 0.1, ..., 3.1 in groups of 8. Per group
// the step is (max - min) / (2^bits - 1), worked out here, and every value comes back within
// half a step; the codes are uint8, two to a byte for 4 bits.
TEST(CachePolicies, QuantizationRoundTripsWithinHalfAStep) {
    const torch::Tensor x = torch::arange(32, torch::kFloat32).view({4, 8}) * 0.1f;
    for (const int bits : {8, 4}) {
        const QuantizedGroups q = quantize_groups(x, bits);
        EXPECT_EQ(q.codes.scalar_type(), torch::kUInt8);
        EXPECT_EQ(q.codes.size(1), bits == 8 ? 8 : 4);
        const torch::Tensor back = dequantize_groups(q);
        for (int g = 0; g < 4; ++g) {
            const double lo = 0.8 * g, hi = 0.8 * g + 0.7;  // each row of 8 tenths
            const double step = (hi - lo) / (bits == 8 ? 255.0 : 15.0);
            EXPECT_NEAR(q.scale[g][0].item<double>(), step, 1e-6);
            EXPECT_NEAR(q.zero[g][0].item<double>(), lo, 1e-6);
            EXPECT_LE((back[g] - x[g]).abs().max().item<double>(), step / 2 + 1e-6) << bits;
        }
    }
}

// An int8 / int4 cache after L tokens holds, per layer (4 heads of 16, group 16, residual 8):
// K: Kq = 16 x floor((L - 8) / 16) tokens quantized per channel (codes, and a scale and a zero
// per channel and group), the rest unquantized; V: Vq = L - 8 tokens quantized per token in one
// group of 16 channels (codes, a scale and a zero per token and head), the last 8 unquantized.
TEST(CachePolicies, QuantizedCacheStoresTheBytesWorkedOutFromGroupResidualAndLength) {
    auto net = make_model(preset("pythia-tiny"), 3);
    net->eval();
    torch::NoGradGuard no_grad;
    const std::int64_t h = 4, d = 16, g = 16, r = 8, layers = 2;
    for (const int bits : {8, 4}) {
        KvCache cache = net->make_cache(parse_policy(bits == 8 ? "int8:group=16,residual=8"
                                                                : "int4:group=16,residual=8"));
        const auto ids = real_ids(90);
        for (std::size_t t = 0; t < ids.size(); ++t) {
            net->forward(batch({ids[t]}), &cache);
            const std::int64_t L = static_cast<std::int64_t>(t) + 1;
            const std::int64_t kq = L > r ? g * ((L - r) / g) : 0, vq = std::max<std::int64_t>(0, L - r);
            const double code = bits / 8.0;
            const double per_layer = h * kq * d * code + (kq / g) * h * d * 2 * 4 +  // K
                                     h * vq * d * code + h * vq * (d / g) * 2 * 4 +   // V
                                     ((L - kq) + (L - vq)) * h * d * 4;               // unquantized
            ASSERT_EQ(cache.kv_bytes(), static_cast<std::int64_t>(per_layer * layers)) << "L " << L;
        }
        // The codes really are uint8.
        int uint8 = 0;
        for (const auto& t : cache.layers[0]->stored()) uint8 += t.scalar_type() == torch::kUInt8;
        EXPECT_GT(uint8, 0);
    }
    // And it still decodes close to the full cache: int8's error is small next to int4's.
    const auto ids = real_ids(120);
    const double int8 = worst_difference(*net, "int8:group=16,residual=8", ids);
    const double int4 = worst_difference(*net, "int4:group=16,residual=8", ids);
    EXPECT_LT(int8, int4);
    EXPECT_GT(int4, 0.0);
}

TEST(CachePolicies, LowRankAtFullRankIsLosslessAndRankRKeepsRCoefficients) {
    auto net = make_model(preset("pythia-tiny"), 3);
    net->eval();
    const KvBases bases = calibrated(*net, 2048);
    EXPECT_LT(worst_difference(*net, "lowrank:rank=16,target=kv", real_ids(200), &bases), 1e-4);
    EXPECT_LT(worst_difference(*net, "lowrank:rank=16,target=kv,basis=random", real_ids(200), &bases),
              1e-4);
    // Rank 5 of K: per head 5 coefficients per token, V as computed; the basis counted once.
    torch::NoGradGuard no_grad;
    KvCache cache = net->make_cache(parse_policy("lowrank:rank=5,target=k"), &bases);
    net->forward(batch(real_ids(40)), &cache);
    const auto tensors = cache.layers[1]->stored();
    std::set<std::vector<std::int64_t>> shapes;
    for (const auto& t : tensors) shapes.insert(t.sizes().vec());
    EXPECT_TRUE(shapes.count({1, 4, 40, 5})) << "coefficients";
    EXPECT_TRUE(shapes.count({4, 16, 5})) << "the basis";
    EXPECT_TRUE(shapes.count({1, 4, 40, 16})) << "V as computed";
    EXPECT_FALSE(shapes.count({1, 4, 40, 16}) > 1);
}

// On real activations of held-out text (another document than the calibration's), K projected on
// the PCA directions loses less than K projected on a random orthonormal basis of the same rank.
TEST(CachePolicies, PcaBeatsARandomBasisOnKReconstruction) {
    auto net = make_model(preset("pythia-tiny"), 3);
    net->eval();
    const KvBases bases = calibrated(*net, 4096, 5);
    torch::NoGradGuard no_grad;
    KvCache cache = net->make_cache();
    net->forward(batch(real_ids(256, 40)), &cache);
    const torch::Tensor k = cache.layers[1]->stored()[0];  // (1, 4, 256, 16)
    const KvBasis& b = bases.k[1];
    const auto error = [&](const torch::Tensor& directions) {
        const torch::Tensor u = directions.narrow(2, 0, 4);  // rank 4 of 16
        const torch::Tensor c = k - b.mean.unsqueeze(0).unsqueeze(2);
        const torch::Tensor back = torch::einsum("bhsr,hdr->bhsd", {torch::einsum("bhsd,hdr->bhsr", {c, u}), u});
        return (back - c).pow(2).sum().item<double>();
    };
    const double pca = error(b.directions), random = error(random_orthonormal(4, 16, 1));
    std::cout << "K reconstruction error at rank 4: PCA " << pca << ", random " << random << "\n";
    EXPECT_LT(pca, random);
}

// StreamingLLM with sinks + window covering the text equals the full cache; with a small budget
// the cache never holds more than sinks + window entries between steps.
TEST(CachePolicies, StreamingEqualsFullWhenItHoldsEverythingAndNeverExceedsItsBudget) {
    auto net = make_model(preset("pythia-tiny"), 3);
    net->eval();
    EXPECT_LT(worst_difference(*net, "streaming:sinks=4,window=200", real_ids(150)), 1e-5);
    torch::NoGradGuard no_grad;
    KvCache cache = net->make_cache(parse_policy("streaming:sinks=2,window=6"));
    for (std::int64_t id : real_ids(60)) {
        net->forward(batch({id}), &cache);
        for (const auto& layer : cache.layers) ASSERT_LE(layer->length(), 8);
    }
    // 8 entries of K and V, 4 heads of 16, float32, per layer.
    EXPECT_EQ(cache.kv_bytes(), 2 * (2 * 8 * 4 * 16 * 4));
}

namespace {

// The absolute positions layer 0 keeps, per head: its K of a position depends only on that
// token and position, so each kept row equals one row of the full cache's layer 0 (to float
// rounding: a single token's matmul and a batch's round differently).
std::vector<std::set<std::int64_t>> kept_positions(const KvCache& cache, const torch::Tensor& all_k) {
    const torch::Tensor kept = cache.layers[0]->stored()[0];  // (1, h, n, d)
    std::vector<std::set<std::int64_t>> out(static_cast<std::size_t>(kept.size(1)));
    for (std::int64_t h = 0; h < kept.size(1); ++h)
        for (std::int64_t j = 0; j < kept.size(2); ++j) {
            const torch::Tensor distance = (all_k[0][h] - kept[0][h][j]).abs().amax(1);  // (S)
            const std::int64_t p = distance.argmin().item<std::int64_t>();
            EXPECT_LT(distance[p].item<double>(), 1e-5) << "a kept row that is no position's";
            out[static_cast<std::size_t>(h)].insert(p);
        }
    return out;
}

}  // namespace

// H2O keeps exactly `budget` entries once past it: the `sinks` first, the `window` last, the rest
// heavy hitters; SnapKV compresses a prompt to exactly `budget`, keeping its observation window,
// and appends what is decoded after.
TEST(CachePolicies, H2oAndSnapKvKeepExactlyTheirBudgetAndTheTokensTheyPromise) {
    auto net = make_model(preset("pythia-tiny"), 3);
    net->eval();
    torch::NoGradGuard no_grad;
    const auto ids = real_ids(60);
    KvCache full = net->make_cache();
    net->forward(batch(ids), &full);
    const torch::Tensor all_k = full.layers[0]->stored()[0];

    KvCache h2o = net->make_cache(parse_policy("h2o:budget=10,window=3,sinks=2"));
    for (std::size_t t = 0; t < ids.size(); ++t) {
        net->forward(batch({ids[t]}), &h2o);
        const std::int64_t seen = static_cast<std::int64_t>(t) + 1;
        for (const auto& layer : h2o.layers) ASSERT_EQ(layer->length(), std::min<std::int64_t>(seen, 10));
    }
    for (const auto& heads : kept_positions(h2o, all_k)) {
        EXPECT_EQ(heads.size(), 10u);
        for (std::int64_t p : {0, 1, 57, 58, 59}) EXPECT_TRUE(heads.count(p)) << "position " << p;
    }

    KvCache snap = net->make_cache(parse_policy("snapkv:budget=12,observation=4"));
    net->forward(batch({ids.begin(), ids.begin() + 40}), &snap);  // the prompt, compressed
    for (const auto& layer : snap.layers) EXPECT_EQ(layer->length(), 12);
    for (const auto& heads : kept_positions(snap, all_k)) {
        EXPECT_EQ(heads.size(), 12u);
        for (std::int64_t p : {36, 37, 38, 39}) EXPECT_TRUE(heads.count(p)) << "position " << p;
    }
    for (std::size_t t = 40; t < 45; ++t) net->forward(batch({ids[t]}), &snap);
    EXPECT_EQ(snap.layers[0]->length(), 17) << "decoded tokens are appended, not evicted";
}

// Points +/- a_i q_i along the columns q_i of a rotation have covariance sum a_i^2 q_i q_i^T / d:
// the eigenvalues a_i^2 / d and the directions q_i come back (directions up to sign).
TEST(CachePolicies, TheSpectrumOfAKnownMatrixIsRecovered) {
    const std::int64_t d = 4;
    const double a[4] = {4.0, 2.0, 1.0, 0.5};
    const torch::Tensor q = random_orthonormal(1, d, 7)[0].to(torch::kFloat64);  // (d, d)
    std::vector<torch::Tensor> points;
    for (int i = 0; i < d; ++i)
        for (double sign : {1.0, -1.0}) points.push_back(q.select(1, i) * (sign * a[i]));
    const torch::Tensor x = torch::stack(points).view({1, 1, 2 * d, d});  // (B, h, S, d)
    KvMoments m;
    m.add(x);
    const KvBasis b = m.basis();
    for (int i = 0; i < d; ++i) {
        EXPECT_NEAR(b.eigenvalues[0][i].item<double>(), a[i] * a[i] / d, 1e-5);
        EXPECT_NEAR(b.layer_eigenvalues[i].item<double>(), a[i] * a[i] / d, 1e-5);
        const double cosine =
            (b.directions[0].select(1, i).to(torch::kFloat64) * q.select(1, i)).sum().item<double>();
        EXPECT_NEAR(std::fabs(cosine), 1.0, 1e-5) << "direction " << i;
    }
    EXPECT_NEAR(b.mean.abs().max().item<double>(), 0.0, 1e-6);
}

TEST(CachePolicies, BadPoliciesAreRefusedNamingThePolicyAndTheParameter) {
    EXPECT_NE(error_of([] { parse_policy("int3"); }).find("unknown cache policy 'int3' (full, int8"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_policy("int8:bits=3"); })
                  .find("policy 'int8' has no parameter 'bits' (it takes: group,residual,budget)"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_policy("int4:group=15"); }).find("group 15 is odd"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_policy("h2o:budget=8,window=6,sinks=4"); })
                  .find("policy 'h2o': budget 8 is below sinks + window (4 + 6)"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_policy("lowrank"); }).find("policy 'lowrank': rank is required"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_policy("int8:group=x"); })
                  .find("policy 'int8': group must be a whole number (got 'x')"),
              std::string::npos);
    // Rules that need the model: the tiny Pythia's heads are 16 wide.
    const auto p = parse_policy("lowrank:rank=20,target=v").problems_for(preset("pythia-tiny"));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NE(p[0].find("rank 20 is larger than the head_dim (16)"), std::string::npos) << p[0];
    EXPECT_TRUE(parse_policy("int8:group=32").problems_for(preset("pythia-tiny")).empty())
        << "a group wider than the head quantizes V over the head's 16 channels";
    const auto mla = parse_policy("int8:group=32").problems_for(preset("pythia-mla-70m"));
    ASSERT_EQ(mla.size(), 1u) << "the latent of 496 is not a multiple of 32";
    EXPECT_NE(mla[0].find("does not divide the cached width 496"), std::string::npos) << mla[0];
    EXPECT_EQ(parse_policy("h2o").text(), "h2o:budget=64,window=16,sinks=0");
}
