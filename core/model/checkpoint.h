// Model weights in safetensors: our checkpoints (config in the header's __metadata__), real
// Hugging Face Pythia files (config from config.json beside them, or from the tensor shapes),
// and export of the baseline as a Hugging Face GPTNeoXForCausalLM folder.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "model/models.h"

namespace cp::model {

// Writes every parameter as F32 with the spec's names; `metadata` is added to the header
// beside the model config ("cp_config").
void save_checkpoint(CausalLm& model, const std::filesystem::path& path,
                     const std::map<std::string, std::string>& metadata = {});

// The config a checkpoint describes: our metadata, else a Hugging Face config.json in the same
// folder, else shapes of a GPT-NeoX file (heads and rotary as Pythia-70M's).
ModelConfig checkpoint_config(const std::filesystem::path& path);

// Copies the file's tensors into `model` (F32, F16 or BF16, converted to the model's dtype).
// Throws cp::Error naming the first tensor that is missing, unexpected, or of the wrong shape.
void load_weights(CausalLm& model, const std::filesystem::path& path);

// Copies a Phase 1 checkpoint's ContextBlock and the embedding it was trained on (embed_in,
// embed_norm) into a model that reads a ContextBlock (Context-Pythia, context-kv, whose embed_in
// is gpt_neox.embed_in); the rest of the model keeps its own initialisation. Throws cp::Error
// naming what is missing or of another shape (a block of another context width, say).
void load_context_block(CausalLm& model, const std::filesystem::path& path);

// checkpoint_config + make_model + load_weights.
std::shared_ptr<CausalLm> load_checkpoint(const std::filesystem::path& path);

// The Pythia baseline as a folder Hugging Face's GPTNeoXForCausalLM loads:
// model.safetensors + config.json.
void export_hf_folder(CausalLm& model, const std::filesystem::path& folder);

}  // namespace cp::model
