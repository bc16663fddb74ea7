// What a checkpoint file is, read from its header alone (torch-free): for the workbench's "Start
// from checkpoint" field and anything else that shows a checkpoint before using it.
#pragma once

#include <filesystem>
#include <string>

namespace cp::model {

// One line: the kind (a workbench checkpoint and its design, or a Hugging Face GPT-NeoX file),
// hidden width, layers, heads (from config.json beside it when there is one), vocabulary rows,
// parameters, and the tokenizer its ids are read with. Throws cp::Error naming the problem when
// the file is not a readable checkpoint.
std::string checkpoint_summary(const std::filesystem::path& checkpoint);

}  // namespace cp::model
