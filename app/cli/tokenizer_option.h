// The --tokenizer option that several commands share, and loading the tokenizer it names.
#pragma once

#include "cli/args.h"
#include "data/bpe_tokenizer.h"

namespace cp::cli {

extern const Option kTokenizerOption;
// The same option where a checkpoint's ids are read (score, generate, cache-eval --checkpoint).
extern const Option kCheckpointTokenizerOption;

// The tokenizer given by --tokenizer, or the installed GPT-2 one; loader warnings go to stderr.
data::BpeTokenizer load_tokenizer(const Args& args);

// The tokenizer of a checkpoint's ids (model::checkpoint_tokenizer): --tokenizer, else `recorded`
// (the tokenizer a stored run's experiment named), else a Hugging Face file's tokenizer.json,
// else the installed GPT-2 one; a Hugging Face file with none is refused.
data::BpeTokenizer load_checkpoint_tokenizer(const Args& args, const std::string& checkpoint,
                                             const std::string& recorded = "");

}  // namespace cp::cli
