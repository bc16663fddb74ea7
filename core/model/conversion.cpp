#include "model/conversion.h"

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/sha256.h"
#include "model/checkpoint.h"
#include "model/models.h"
#include "model/safetensors.h"

namespace cp::model {
namespace fs = std::filesystem;
using nlohmann::json;

const char* to_string(TensorOrigin::Kind k) {
    switch (k) {
        case TensorOrigin::Kind::copied:
            return "copied";
        case TensorOrigin::Kind::derived:
            return "derived";
        case TensorOrigin::Kind::fresh:
            return "new";
    }
    return "?";
}

std::int64_t ConversionRecord::count(TensorOrigin::Kind k) const {
    std::int64_t n = 0;
    for (const TensorOrigin& t : tensors) n += t.kind == k;
    return n;
}

std::int64_t ConversionRecord::values(TensorOrigin::Kind k) const {
    std::int64_t n = 0;
    for (std::size_t i = 0; i < tensors.size() && i < sizes.size(); ++i)
        if (tensors[i].kind == k) n += sizes[i];
    return n;
}

std::string ConversionRecord::to_json() const {
    json t = json::array();
    for (std::size_t i = 0; i < tensors.size(); ++i)
        t.push_back({{"name", tensors[i].name},
                     {"origin", model::to_string(tensors[i].kind)},
                     {"how", tensors[i].how},
                     {"values", i < sizes.size() ? sizes[i] : 0}});
    return json{{"source", source}, {"source_sha256", source_sha256}, {"design", design},
                {"tensors", t}}
        .dump(1);
}

ConversionRecord ConversionRecord::from_json(const std::string& text) {
    ConversionRecord r;
    try {
        const json j = json::parse(text);
        r.source = j.at("source").get<std::string>();
        r.source_sha256 = j.at("source_sha256").get<std::string>();
        r.design = j.at("design").get<std::string>();
        for (const json& t : j.at("tensors")) {
            TensorOrigin o;
            o.name = t.at("name").get<std::string>();
            const std::string kind = t.at("origin").get<std::string>();
            o.kind = kind == "copied"    ? TensorOrigin::Kind::copied
                     : kind == "derived" ? TensorOrigin::Kind::derived
                                         : TensorOrigin::Kind::fresh;
            o.how = t.at("how").get<std::string>();
            r.tensors.push_back(o);
            r.sizes.push_back(t.value("values", std::int64_t{0}));
        }
    } catch (const json::exception& e) {
        throw Error(std::string("a conversion record is not valid JSON (") + e.what() + ")");
    }
    return r;
}

ModelConfig converted_config(const ModelConfig& source, const std::vector<ConversionTarget>& targets) {
    const auto shape = [](const ModelConfig& c) {
        return "hidden " + std::to_string(c.embed_dim) + ", " + std::to_string(c.layers) +
               " layers, " + std::to_string(c.heads) + " heads, MLP " +
               std::to_string(c.intermediate);
    };
    std::string sizes;
    for (const ConversionTarget& t : targets) {
        const ModelConfig& p = t.size_pythia;
        if (p.embed_dim == source.embed_dim && p.layers == source.layers &&
            p.heads == source.heads && p.intermediate == source.intermediate) {
            ModelConfig c = t.design;
            c.vocab_rows = source.vocab_rows;
            c.rotary_pct = source.rotary_pct;
            c.rotary_base = source.rotary_base;
            c.layer_norm_eps = source.layer_norm_eps;
            c.max_positions = source.max_positions;
            c.end_of_text_id = source.end_of_text_id;
            c.validate();
            return c;
        }
        sizes += (sizes.empty() ? "" : "; ") + t.size + ": " + shape(p);
    }
    throw Error("the checkpoint (" + shape(source) + ") is not Pythia at " +
                (targets.size() == 1 ? "the --size given (" : "any preset size (") + sizes +
                "): a design is converted from a Pythia of a preset's shape (EleutherAI's "
                "Pythia-70M is --size 70m)");
}

namespace {

// The pretrained tensors by name, float32 on the CPU.
using Tensors = std::map<std::string, torch::Tensor>;

Tensors read_tensors(const fs::path& path) {
    auto source = load_checkpoint(path);
    Tensors t;
    for (const auto& item : source->named_parameters())
        t[item.key()] = item.value().detach().to(torch::kFloat32);  // the storage outlives `source`
    return t;
}

// "gpt_neox.layers.3.attention.k_proj.weight" -> {"gpt_neox.layers.3.attention.", "k_proj",
// "weight"}; empty when the name is not an attention projection.
struct AttentionName {
    std::string prefix, module, field;
};
std::optional<AttentionName> attention_name(const std::string& name) {
    const std::string mark = ".attention.";
    const auto at = name.find(mark);
    if (at == std::string::npos) return std::nullopt;
    const std::string rest = name.substr(at + mark.size());
    const auto dot = rest.find('.');
    if (dot == std::string::npos) return std::nullopt;
    return AttentionName{name.substr(0, at + mark.size()), rest.substr(0, dot), rest.substr(dot + 1)};
}

// The checkpoint's name for a tensor of the design: the same, or Context-Pythia's top-level names
// under GPT-NeoX's gpt_neox.
std::optional<std::string> source_name(const Tensors& source, const std::string& name) {
    if (source.count(name)) return name;
    if (source.count("gpt_neox." + name)) return "gpt_neox." + name;
    return std::nullopt;
}

// The fused query_key_value of the checkpoint's layer, split per head: (heads, 3, head_dim, ...)
// (GPT-NeoX keeps [q | k | v] per head), for the weight (..., width) or the bias.
torch::Tensor split_qkv(const torch::Tensor& fused, std::int64_t heads) {
    const std::int64_t head_dim = fused.size(0) / (3 * heads);
    if (fused.dim() == 2) return fused.view({heads, 3, head_dim, fused.size(1)});
    return fused.view({heads, 3, head_dim});
}

struct Derived {
    torch::Tensor value;
    std::string how;
};

// MLA from one layer's pretrained K and V: the non-rotary K rows of every head and all V rows,
// stacked, factored by a truncated SVD into latent = sqrt(S) Vh (down) and U sqrt(S) (up).
std::map<std::string, Derived> mla_layer(const torch::Tensor& w_qkv, const torch::Tensor& b_qkv,
                                         const ModelConfig& c) {
    const std::int64_t nh = c.heads, hd = c.head_dim(), rd = c.rotary_dims(), w = c.embed_dim;
    const torch::Tensor W = split_qkv(w_qkv, nh), B = split_qkv(b_qkv, nh);
    const torch::Tensor k_rest = W.select(1, 1).narrow(1, rd, hd - rd).reshape({nh * (hd - rd), w});
    const torch::Tensor v = W.select(1, 2).reshape({nh * hd, w});
    const torch::Tensor stacked = torch::cat({k_rest, v}, 0).to(torch::kFloat64);
    const auto [U, S, Vh] = torch::linalg_svd(stacked, false, c10::nullopt);
    const std::int64_t r = std::min<std::int64_t>(c.kv_latent, S.size(0));
    const torch::Tensor root = S.narrow(0, 0, r).sqrt();
    torch::Tensor down = torch::zeros({c.kv_latent, w}, torch::kFloat64);
    down.narrow(0, 0, r).copy_(root.unsqueeze(1) * Vh.narrow(0, 0, r));
    torch::Tensor up = torch::zeros({stacked.size(0), c.kv_latent}, torch::kFloat64);
    up.narrow(1, 0, r).copy_(U.narrow(1, 0, r) * root.unsqueeze(0));
    const std::int64_t k_rows = nh * (hd - rd);
    const double kept = S.narrow(0, 0, r).pow(2).sum().item<double>() /
                        std::max(1e-300, S.pow(2).sum().item<double>());
    char share[32];
    std::snprintf(share, sizeof share, "%.1f%%", 100.0 * kept);
    const std::string svd = "truncated SVD of the stacked pretrained K (non-rotary dims) and V "
                            "projections, rank " + std::to_string(r) + " of " +
                            std::to_string(S.size(0)) + " (" + share +
                            " of the squared singular values)";
    std::map<std::string, Derived> d;
    d["kv_down.weight"] = {down.to(torch::kFloat32), "derived: sqrt(S) Vh of the " + svd};
    d["kv_down.bias"] = {torch::zeros({c.kv_latent}), "derived: zero (the biases stay after the up-projections)"};
    d["k_up.weight"] = {up.narrow(0, 0, k_rows).to(torch::kFloat32),
                        "derived: U sqrt(S), K rows, of the " + svd};
    d["k_up.bias"] = {B.select(1, 1).narrow(1, rd, hd - rd).reshape({k_rows}),
                      "derived: the pretrained K bias, non-rotary dims"};
    d["v_up.weight"] = {up.narrow(0, k_rows, nh * hd).to(torch::kFloat32),
                        "derived: U sqrt(S), V rows, of the " + svd};
    d["v_up.bias"] = {B.select(1, 2).reshape({nh * hd}), "derived: the pretrained V bias"};
    d["k_rope.weight"] = {W.select(1, 1).narrow(1, 0, rd).mean(0),
                          "derived: mean over the heads of the pretrained keys' rotary rows "
                          "(DeepSeek-V2's one shared rotary key)"};
    d["k_rope.bias"] = {B.select(1, 1).narrow(1, 0, rd).mean(0),
                        "derived: mean over the heads of the pretrained keys' rotary bias"};
    return d;
}

// A tensor of the design derived from the checkpoint's fused query_key_value of the same layer,
// when the design has one there; nullopt otherwise.
std::optional<Derived> derive(const Tensors& source, const std::string& name,
                              const torch::Tensor& shape_of, const ModelConfig& c,
                              std::map<std::string, std::map<std::string, Derived>>& mla_cache) {
    const auto a = attention_name(name);
    if (!a) return std::nullopt;
    const auto fused = source_name(source, a->prefix + "query_key_value." + a->field);
    if (!fused) return std::nullopt;
    const std::string from = *fused;
    const torch::Tensor per_head = split_qkv(source.at(from), c.heads);
    const auto fits = [&](const torch::Tensor& t) { return t.sizes() == shape_of.sizes(); };
    if (a->module == "q_proj") {
        const torch::Tensor q = per_head.select(1, 0).reshape(shape_of.sizes());
        if (!fits(q)) return std::nullopt;
        return Derived{q, "derived: the query rows of " + from};
    }
    if ((a->module == "k_proj" || a->module == "v_proj") && c.kv_heads > 0 &&
        c.architecture == Architecture::pythia_gqa) {
        const std::int64_t group = c.heads / c.kv_heads;
        const torch::Tensor heads = per_head.select(1, a->module == "k_proj" ? 1 : 2);
        std::vector<std::int64_t> grouped = {c.kv_heads, group};
        for (std::int64_t i = 1; i < heads.dim(); ++i) grouped.push_back(heads.size(i));
        const torch::Tensor pooled = heads.reshape(grouped).mean(1).reshape(shape_of.sizes());
        return Derived{pooled, "derived: mean of each group's " + std::to_string(group) +
                                   " pretrained " + (a->module == "k_proj" ? "K" : "V") +
                                   " heads of " + from + " (Ainslie et al., 2023)"};
    }
    if (c.kv_latent > 0) {
        const std::string layer = a->prefix;
        if (!mla_cache.count(layer)) {
            const auto w = source_name(source, layer + "query_key_value.weight");
            const auto b = source_name(source, layer + "query_key_value.bias");
            if (!w || !b) return std::nullopt;
            mla_cache[layer] = mla_layer(source.at(*w), source.at(*b), c);
        }
        const auto it = mla_cache[layer].find(a->module + "." + a->field);
        if (it != mla_cache[layer].end() && fits(it->second.value)) return it->second;
    }
    return std::nullopt;
}

// The rules applied to every tensor of `model` (config `config`) from the checkpoint's tensors.
ConversionRecord apply_rules(CausalLm& model, const ModelConfig& config, const fs::path& from,
                             const std::string& design_key) {
    const Tensors source = read_tensors(from);
    ConversionRecord r;
    r.source = from.string();
    r.source_sha256 = sha256_file(from);
    r.design = design_key;
    std::map<std::string, std::map<std::string, Derived>> mla_cache;
    // A design that splits the width into other heads (the tiny eighth of GQA: 8 heads of 8 for
    // the checkpoint's 4 of 16) has no pretrained head to take its queries, keys or values from.
    const ModelConfig pretrained = checkpoint_config(from);
    const bool regrouped = config.heads != pretrained.heads;
    const std::string regrouped_note =
        "new: the design has " + std::to_string(config.heads) + " heads of " +
        std::to_string(config.head_dim()) + " dims, the checkpoint " +
        std::to_string(pretrained.heads) + " of " + std::to_string(pretrained.head_dim()) +
        ": no pretrained head to copy or pool";
    torch::NoGradGuard no_grad;
    for (auto& item : model.named_parameters()) {
        const std::string& name = item.key();
        torch::Tensor& p = item.value();
        TensorOrigin o{name, TensorOrigin::Kind::fresh, "new: the design's own initialisation"};
        const auto a = attention_name(name);
        if (regrouped && a && a->module != "dense" &&
            config.layer_width() == pretrained.layer_width()) {
            o.how = regrouped_note;
        } else if (const auto d = derive(source, name, p, config, mla_cache)) {
            p.copy_(d->value.to(p.dtype()).to(p.device()));
            o = {name, TensorOrigin::Kind::derived, d->how};
        } else if (const auto s = source_name(source, name);
                   s && source.at(*s).sizes() == p.sizes()) {
            p.copy_(source.at(*s).to(p.dtype()).to(p.device()));
            o = {name, TensorOrigin::Kind::copied, *s == name ? "copied" : "copied from " + *s};
        }
        r.tensors.push_back(o);
        r.sizes.push_back(p.numel());
    }
    return r;
}

}  // namespace

ConversionRecord initialise_from(CausalLm& model, const std::string& design_key,
                                 const fs::path& from, const ModelConfig& size_pythia,
                                 const std::string& size) {
    const ModelConfig config =
        converted_config(checkpoint_config(from), {{size, size_pythia, model.config()}});
    if (config.vocab_rows != model.config().vocab_rows)
        throw Error("the checkpoint '" + from.string() + "' has " +
                    std::to_string(config.vocab_rows) + " vocabulary rows but the model " +
                    std::to_string(model.config().vocab_rows) +
                    ": its embedding cannot be copied");
    if (config.rotary_pct != model.config().rotary_pct ||
        config.rotary_base != model.config().rotary_base ||
        config.layer_norm_eps != model.config().layer_norm_eps)
        throw Error("the checkpoint '" + from.string() +
                    "' rotates or normalises otherwise than the preset (rotary_pct, "
                    "rotary_emb_base or layer_norm_eps in its config.json): convert it with "
                    "'context-pythia convert', which keeps the checkpoint's");
    return apply_rules(model, model.config(), from, design_key);
}

ConversionRecord convert_checkpoint(const fs::path& from, const std::string& design_key,
                                    const std::vector<ConversionTarget>& targets, std::uint64_t seed,
                                    const fs::path& out,
                                    const std::vector<std::pair<std::string, std::string>>&
                                        extra_metadata) {
    const ModelConfig config = converted_config(checkpoint_config(from), targets);
    auto model = make_model(config, seed);
    const ConversionRecord r = apply_rules(*model, config, from, design_key);
    std::map<std::string, std::string> metadata(extra_metadata.begin(), extra_metadata.end());
    metadata[kConversionMetadataKey] = r.to_json();
    save_checkpoint(*model, out, metadata);
    write_file_atomic(out.string() + ".conversion.json", r.to_json() + "\n");
    return r;
}

std::optional<ConversionRecord> conversion_record(const fs::path& checkpoint) {
    const SafetensorsFile file(checkpoint);
    const auto it = file.metadata().find(kConversionMetadataKey);
    if (it == file.metadata().end()) return std::nullopt;
    return ConversionRecord::from_json(it->second);
}

}  // namespace cp::model
