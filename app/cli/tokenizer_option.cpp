#include "cli/tokenizer_option.h"

#include <iostream>

#include "data/data_paths.h"

namespace cp::cli {

const Option kTokenizerOption{"tokenizer", "PATH",
                              "encoder.json + vocab.bpe folder, or a tokenizer.json "
                              "(default: the installed GPT-2 tokenizer)"};

data::BpeTokenizer load_tokenizer(const Args& args) {
    data::BpeTokenizer tokenizer =
        data::BpeTokenizer::load(args.get("tokenizer", data::default_tokenizer_path().string()));
    for (const std::string& w : tokenizer.warnings()) std::cerr << "warning: " << w << "\n";
    return tokenizer;
}

}  // namespace cp::cli
