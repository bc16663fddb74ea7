// The projection comparator: a Linear from the embedding to context_dim where Context-Pythia
// has its ContextBlock, the same layers behind.

#include "model/models.h"

#include "model/model_parts.h"

namespace cp::model {

ProjectionModel::ProjectionModel(const ModelConfig& c) : CausalLm(c) {
    register_embedding(*this, c, embed_in, embed_norm);
    projection = register_module("projection", torch::nn::Linear(c.embed_dim, c.context_dim));
    register_context_width_stack(*this, c, layers, final_layer_norm, embed_out);
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, c.init_std);
    init_linear(projection, c.init_std);
    init_linear(embed_out, c.init_std);
}

torch::Tensor ProjectionModel::forward(const torch::Tensor& ids, KvCache* cache) {
    torch::Tensor h = projection(embed_norm(embed_in(ids)));  // (B, T, context_dim)
    h = run_layers(layers, h, cache);
    if (cache) cache->length += ids.size(1);
    return embed_out(final_layer_norm(h));  // (B, T, vocab)
}

}  // namespace cp::model
