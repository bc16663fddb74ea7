// What a checkpoint file is, read from its header alone (torch-free): for the workbench's "Start
// from checkpoint" field and anything else that shows a checkpoint before using it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace cp::model {

class SafetensorsFile;

// Hugging Face's GPT-NeoX files hold non-parameter buffers (the causal mask, masked_bias,
// rotary inv_freq): no model parameter, no parameter count.
bool is_hf_buffer(const std::string& name);
// The layers of a GPT-NeoX file, counted by their attention.dense weights.
std::int64_t gpt_neox_layers(const SafetensorsFile& file);

// One line: the kind (a workbench checkpoint and its design, or a Hugging Face GPT-NeoX file),
// hidden width, layers, heads (from config.json beside it when there is one), vocabulary rows,
// parameters, and the tokenizer its ids are read with. Throws cp::Error naming the problem when
// the file is not a readable checkpoint.
std::string checkpoint_summary(const std::filesystem::path& checkpoint);

}  // namespace cp::model
