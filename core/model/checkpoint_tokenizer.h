// Which tokenizer a checkpoint's token ids belong to (#27). A model only means something on the
// ids of the tokenizer it was trained with: GPT-2's ids fit real Pythia's 50,304 embedding rows,
// so reading a Hugging Face Pythia with GPT-2's tokenizer fails nowhere and makes every
// perplexity meaningless. Torch-free: it reads the file's header and its folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace cp::model {

// `given` (--tokenizer) when not empty. Else, for a Hugging Face file (no "cp_config" in its
// metadata), the tokenizer.json beside it; for our own checkpoints, the installed GPT-2 tokenizer
// (the one every workbench experiment trains with unless it names another), or for one converted
// from a pretrained checkpoint (`convert`) the tokenizer.json written beside it. A Hugging Face file
// with no tokenizer.json beside it and none given is refused, naming the file and the way out.
std::filesystem::path checkpoint_tokenizer(const std::filesystem::path& checkpoint,
                                           const std::string& given);

// The metadata key under which our checkpoints record the fingerprint of the tokenizer they were
// trained with (data::BpeTokenizer::fingerprint, decimal).
inline constexpr const char* kTokenizerFingerprintKey = "cp_tokenizer_fingerprint";
// The metadata key of a checkpoint converted from a pretrained one (model/conversion.h).
inline constexpr const char* kConversionMetadataKey = "cp_conversion";

// Refuses a tokenizer other than the one a checkpoint of ours recorded, naming both; nothing to
// check for a file that recorded none (a Hugging Face file, or ours from before #27).
void check_checkpoint_tokenizer(const std::filesystem::path& checkpoint, std::uint64_t fingerprint,
                                const std::string& description);

// Refuses a tokenizer with more tokens than the checkpoint has embedding rows (its ids from the
// row count on would index past the embedding), naming both counts and the way out.
void check_tokenizer_fits(const std::filesystem::path& checkpoint, std::uint32_t vocab_size,
                          const std::string& description);

}  // namespace cp::model
