// Pythia (GPT-NeoX) and the designs that keep its body: narrower, grouped-query, latent, input
// cache; each differs in its layers' attention only (model/layers.cpp).

#include "model/models.h"

#include "model/model_parts.h"

namespace cp::model {

GptNeoxBodyImpl::GptNeoxBodyImpl(const ModelConfig& c) {
    embed_in = register_module("embed_in", torch::nn::Embedding(c.vocab_rows, c.embed_dim));
    layers = register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.layers; ++i) layers->push_back(GptNeoxLayer(c));
    final_layer_norm = register_module(
        "final_layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps)));
    reset_parameters(c.init_std);
}

void GptNeoxBodyImpl::reset_parameters(double init_std) {
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, init_std);
}


PythiaModel::PythiaModel(const ModelConfig& c) : CausalLm(c) {
    gpt_neox = register_module("gpt_neox", GptNeoxBody(c));
    embed_out = register_module(
        "embed_out",
        torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, c.vocab_rows).bias(false)));
    init_linear(embed_out, c.init_std);
}

torch::Tensor PythiaModel::forward(const torch::Tensor& ids, KvCache* cache) {
    torch::Tensor h = gpt_neox->embed_in(ids);  // (B, T, hidden)
    h = run_layers(gpt_neox->layers, h, cache);
    if (cache) cache->length += ids.size(1);
    return embed_out(gpt_neox->final_layer_norm(h));  // (B, T, vocab)
}

}  // namespace cp::model
