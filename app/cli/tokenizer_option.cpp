#include "cli/tokenizer_option.h"

#include <iostream>

#include "data/data_paths.h"
#include "model/checkpoint_tokenizer.h"

namespace cp::cli {

const Option kTokenizerOption{"tokenizer", "PATH",
                              "encoder.json + vocab.bpe folder, or a tokenizer.json "
                              "(default: the installed GPT-2 tokenizer)"};

const Option kCheckpointTokenizerOption{
    "tokenizer", "PATH",
    "the tokenizer of the checkpoint's ids (default: a Hugging Face checkpoint's tokenizer.json "
    "beside it, required; a run's recorded tokenizer; else the installed GPT-2 one)"};

data::BpeTokenizer load_tokenizer(const Args& args) {
    data::BpeTokenizer tokenizer =
        data::BpeTokenizer::load(args.get("tokenizer", data::default_tokenizer_path().string()));
    for (const std::string& w : tokenizer.warnings()) std::cerr << "warning: " << w << "\n";
    return tokenizer;
}

data::BpeTokenizer load_checkpoint_tokenizer(const Args& args, const std::string& checkpoint,
                                             const std::string& recorded) {
    const std::string given = args.has("tokenizer") ? args.get("tokenizer") : recorded;
    data::BpeTokenizer tokenizer =
        data::BpeTokenizer::load(model::checkpoint_tokenizer(checkpoint, given));
    model::check_checkpoint_tokenizer(checkpoint, tokenizer.fingerprint(), tokenizer.description());
    model::check_tokenizer_fits(checkpoint, tokenizer.vocab_size(), tokenizer.description());
    for (const std::string& w : tokenizer.warnings()) std::cerr << "warning: " << w << "\n";
    return tokenizer;
}

}  // namespace cp::cli
