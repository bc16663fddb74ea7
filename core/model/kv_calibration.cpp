#include "model/kv_calibration.h"

#include "common/error.h"
#include "model/safetensors.h"

namespace cp::model {
namespace fs = std::filesystem;

void KvMoments::add(const torch::Tensor& x) {  // (B, h, S, d)
    const torch::Tensor t = x.to(torch::kCPU, torch::kFloat64);
    const std::int64_t h = t.size(1), d = t.size(3);
    const torch::Tensor rows = t.permute({1, 0, 2, 3}).reshape({h, -1, d});  // (h, N, d)
    const torch::Tensor all = t.permute({0, 2, 1, 3}).reshape({-1, h * d});  // (N, hd)
    const auto add_to = [](torch::Tensor& acc, const torch::Tensor& v) {
        acc = acc.defined() ? acc + v : v;
    };
    add_to(sum_, rows.sum(1));
    add_to(gram_, torch::matmul(rows.transpose(1, 2), rows));
    add_to(layer_sum_, all.sum(0));
    add_to(layer_gram_, torch::matmul(all.t(), all));
    count_ += rows.size(1);
}

KvBasis KvMoments::basis() const {
    if (count_ == 0) throw Error("internal error: a basis of no samples");
    KvBasis b;
    const double n = static_cast<double>(count_);
    const torch::Tensor mean = sum_ / n;
    const torch::Tensor cov = gram_ / n - mean.unsqueeze(2) * mean.unsqueeze(1);
    const auto [values, vectors] = torch::linalg_eigh(cov, "L");  // ascending
    b.mean = mean.to(torch::kFloat32);
    b.eigenvalues = values.flip({-1}).clamp_min(0).to(torch::kFloat32);
    b.directions = vectors.flip({-1}).to(torch::kFloat32).contiguous();
    const torch::Tensor lm = layer_sum_ / n;
    const torch::Tensor lcov = layer_gram_ / n - torch::outer(lm, lm);
    b.layer_eigenvalues =
        std::get<0>(torch::linalg_eigh(lcov, "L")).flip({0}).clamp_min(0).to(torch::kFloat32);
    return b;
}

KvBases calibrate_kv_bases(CausalLm& net, const std::vector<std::int64_t>& tokens,
                           std::int64_t width, std::int64_t wanted, const std::atomic<bool>* stop) {
    torch::NoGradGuard no_grad;
    const torch::Device device = net.parameters().front().device();
    const std::int64_t rows = std::min<std::int64_t>(
        static_cast<std::int64_t>(tokens.size()) / width,
        std::max<std::int64_t>(1, (wanted + width - 2) / (width - 1)));
    if (rows < 1) throw Error("calibration needs at least one chunk of training text");
    const torch::Tensor all =
        torch::tensor(std::vector<std::int64_t>(tokens.begin(), tokens.begin() + rows * width),
                      torch::kInt64)
            .view({rows, width})
            .narrow(1, 0, width - 1);
    std::vector<KvMoments> k(static_cast<std::size_t>(net.config().layers)), v(k.size());
    for (std::int64_t start = 0; start < rows && !(stop && stop->load()); start += 8) {
        KvCache cache = net.make_cache();
        net.forward(all.narrow(0, start, std::min<std::int64_t>(8, rows - start)).to(device), &cache);
        for (std::size_t l = 0; l < k.size(); ++l) {
            const auto stored = cache.layers[l]->stored();
            if (stored.size() != 2) continue;  // context-kv's layer 0 reads contexts, not K/V
            k[l].add(stored[0]);
            v[l].add(stored[1]);
        }
    }
    KvBases bases;
    bases.tokens = rows * (width - 1);
    for (std::size_t l = 0; l < k.size(); ++l) {
        bases.k.push_back(k[l].count() ? k[l].basis() : KvBasis{});
        bases.v.push_back(v[l].count() ? v[l].basis() : KvBasis{});
    }
    return bases;
}

// The bases live beside the checkpoint, so a later evaluation of the same model reuses them.
void save_kv_bases(const KvBases& b, const fs::path& path, const std::string& checkpoint,
                   std::int64_t requested) {
    std::vector<torch::Tensor> keep;
    std::vector<TensorBytes> tensors;
    const auto add = [&](const std::string& name, const torch::Tensor& t) {
        keep.push_back(t.to(torch::kCPU, torch::kFloat32).contiguous());
        tensors.push_back({name, DType::F32, keep.back().sizes().vec(), keep.back().data_ptr()});
    };
    for (std::size_t l = 0; l < b.k.size(); ++l)
        for (const auto& [kv, basis] : {std::pair{'k', &b.k[l]}, std::pair{'v', &b.v[l]}}) {
            if (!basis->mean.defined()) continue;
            const std::string prefix = "layers." + std::to_string(l) + "." + kv + ".";
            add(prefix + "mean", basis->mean);
            add(prefix + "directions", basis->directions);
            add(prefix + "eigenvalues", basis->eigenvalues);
            add(prefix + "layer_eigenvalues", basis->layer_eigenvalues);
        }
    write_safetensors(path, tensors,
                             {{"calibration_tokens", std::to_string(requested)},
                              {"tokens_read", std::to_string(b.tokens)},
                              {"layers", std::to_string(b.k.size())},
                              {"checkpoint_bytes", std::to_string(fs::file_size(checkpoint))}});
}

std::optional<KvBases> load_kv_bases(const fs::path& path, const std::string& checkpoint,
                                     std::int64_t requested) {
    if (!fs::exists(path)) return std::nullopt;
    try {
        const SafetensorsFile file(path);
        const auto& meta = file.metadata();
        if (!meta.count("calibration_tokens") || std::stoll(meta.at("calibration_tokens")) != requested ||
            !meta.count("checkpoint_bytes") ||
            std::stoull(meta.at("checkpoint_bytes")) != fs::file_size(checkpoint))
            return std::nullopt;  // other calibration, or another checkpoint under the name
        KvBases b;
        b.tokens = meta.count("tokens_read") ? std::stoll(meta.at("tokens_read")) : requested;
        const std::int64_t layers = std::stoll(meta.at("layers"));
        const auto read = [&](const std::string& name) {
            const TensorEntry& e = file.at(name);
            return torch::from_blob(const_cast<unsigned char*>(file.data(e)), e.shape,
                                    torch::kFloat32)
                .clone();
        };
        for (std::int64_t l = 0; l < layers; ++l)
            for (char kv : {'k', 'v'}) {
                const std::string prefix = "layers." + std::to_string(l) + "." + kv + ".";
                KvBasis basis;
                if (file.contains(prefix + "mean")) {
                    basis.mean = read(prefix + "mean");
                    basis.directions = read(prefix + "directions");
                    basis.eigenvalues = read(prefix + "eigenvalues");
                    basis.layer_eigenvalues = read(prefix + "layer_eigenvalues");
                }
                (kv == 'k' ? b.k : b.v).push_back(basis);
            }
        return b;
    } catch (const std::exception&) {
        return std::nullopt;  // unreadable: calibrate again
    }
}

}  // namespace cp::model
