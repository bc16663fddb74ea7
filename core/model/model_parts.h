// What the model families' files share, internal to core/model: the MODEL_SPEC initialisation of
// a Linear, the layer loop, and the two ends Context-Pythia and its projection comparator share.
#pragma once

#include <torch/torch.h>

#include "model/models.h"

namespace cp::model {

// MODEL_SPEC init of a Linear: weight N(0, std), bias 0.
void init_linear(torch::nn::Linear& l, double std);

// GPT-NeoX's rotary embedding of x (B, nh, T, hs) at `positions` (T, float32): the first
// rotary_dims of each head rotate, the rest pass through (model/layers.cpp).
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& positions,
                           std::int64_t rotary_dims, double base);

// The GPT-NeoX layers in order over h, each with its layer cache.
torch::Tensor run_layers(torch::nn::ModuleList& layers, torch::Tensor h, KvCache* cache);

// Context-Pythia and its projection comparator share both ends: embed_in and embed_norm at the
// embedding width in front, the layers, final norm and head at context_dim behind. Registered in
// this order by both, so a seed initialises them alike.
void register_embedding(torch::nn::Module& m, const ModelConfig& c, torch::nn::Embedding& embed_in,
                        torch::nn::LayerNorm& embed_norm);
void register_context_width_stack(torch::nn::Module& m, const ModelConfig& c,
                                  torch::nn::ModuleList& layers,
                                  torch::nn::LayerNorm& final_layer_norm,
                                  torch::nn::Linear& embed_out);

}  // namespace cp::model
