// Context-Pythia: the ContextBlock's contexts are the layers' stream, at context_dim.

#include "model/models.h"

#include "model/model_parts.h"

namespace cp::model {

ContextPythiaModel::ContextPythiaModel(const ModelConfig& c) : CausalLm(c) {
    register_embedding(*this, c, embed_in, embed_norm);
    context_block = register_module("context_block",
                                    ContextBlock(ContextBlockOptions(c.context_dim, c.embed_dim)
                                                     .eps(c.layer_norm_eps)
                                                     .weight_std(c.context_init_std)
                                                     .bias_std(c.context_bias_init_std)));
    register_context_width_stack(*this, c, layers, final_layer_norm, embed_out);
    torch::NoGradGuard no_grad;
    embed_in->weight.normal_(0.0, c.init_std);
    init_linear(embed_out, c.init_std);
}

torch::Tensor ContextPythiaModel::embed(const torch::Tensor& ids) {
    return embed_norm(embed_in(ids));
}

void ContextBlockModel::freeze_context_block() {
    for (auto& p : block()->parameters()) p.set_requires_grad(false);
}

torch::Tensor ContextPythiaModel::forward(const torch::Tensor& ids, KvCache* cache) {
    const torch::Tensor e = embed(ids);  // (B, T, embed_dim)
    torch::Tensor state;
    torch::Tensor h = context_block->forward(e, cache ? cache->context_state : torch::Tensor(),
                                             &state);  // (B, T, context_dim)
    h = run_layers(layers, h, cache);
    if (cache) {
        cache->context_state = state;
        cache->length += ids.size(1);
    }
    return embed_out(final_layer_norm(h));  // (B, T, vocab)
}

}  // namespace cp::model
