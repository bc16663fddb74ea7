#include "model/checkpoint_tokenizer.h"

#include "common/error.h"
#include "data/data_paths.h"
#include "model/safetensors.h"

namespace cp::model {

std::filesystem::path checkpoint_tokenizer(const std::filesystem::path& checkpoint,
                                           const std::string& given) {
    if (!given.empty()) return given;
    const std::filesystem::path beside = checkpoint.parent_path() / "tokenizer.json";
    const SafetensorsFile file(checkpoint);
    const auto& metadata = file.metadata();
    // Ours: GPT-2's, unless converted from a checkpoint whose tokenizer.json `convert` put
    // beside it (its fingerprint, recorded, is checked where the ids are read).
    if (metadata.count("cp_config")) {
        if (metadata.count(kConversionMetadataKey) && std::filesystem::is_regular_file(beside))
            return beside;
        return data::default_tokenizer_path();
    }
    if (std::filesystem::is_regular_file(beside)) return beside;
    throw Error("the Hugging Face checkpoint '" + checkpoint.string() +
                "' has no tokenizer.json beside it: its token ids are its own tokenizer's (for "
                "Pythia, GPT-NeoX-20B's), and reading it with GPT-2's would fail nowhere and "
                "mean nothing. Put the model's tokenizer.json in that folder, or name it with "
                "--tokenizer PATH");
}

void check_tokenizer_fits(const std::filesystem::path& checkpoint, std::uint32_t vocab_size,
                          const std::string& description) {
    const SafetensorsFile file(checkpoint);
    for (const char* name : {"gpt_neox.embed_in.weight", "embed_in.weight"}) {
        if (!file.contains(name)) continue;
        const auto& shape = file.at(name).shape;
        if (!shape.empty() && static_cast<std::int64_t>(vocab_size) > shape[0])
            throw Error("the tokenizer (" + description + ") has " + std::to_string(vocab_size) +
                        " tokens but '" + checkpoint.string() + "' has " +
                        std::to_string(shape[0]) + " embedding rows: ids from " +
                        std::to_string(shape[0]) +
                        " on have no row. Give the tokenizer the checkpoint was trained with "
                        "(--tokenizer, or its tokenizer.json beside it)");
        return;
    }
}

void check_checkpoint_tokenizer(const std::filesystem::path& checkpoint, std::uint64_t fingerprint,
                                const std::string& description) {
    const SafetensorsFile file(checkpoint);
    const auto& metadata = file.metadata();
    const auto recorded = metadata.find(kTokenizerFingerprintKey);
    if (recorded == metadata.end() || recorded->second == std::to_string(fingerprint)) return;
    throw Error("the checkpoint '" + checkpoint.string() +
                "' was trained with another tokenizer than the one given (" + description +
                "): its ids would mean other words. Give the tokenizer it was trained with "
                "(--tokenizer), or leave --tokenizer out for the one its run recorded");
}

}  // namespace cp::model
