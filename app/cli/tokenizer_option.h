// The --tokenizer option that several commands share, and loading the tokenizer it names.
#pragma once

#include "cli/args.h"
#include "data/bpe_tokenizer.h"

namespace cp::cli {

extern const Option kTokenizerOption;

// The tokenizer given by --tokenizer, or the installed GPT-2 one; loader warnings go to stderr.
data::BpeTokenizer load_tokenizer(const Args& args);

}  // namespace cp::cli
