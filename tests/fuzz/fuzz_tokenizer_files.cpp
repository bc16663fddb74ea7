// The tokenizer loaders on untrusted files. First byte: 0 = a Hugging Face tokenizer.json (the
// rest), otherwise GPT-2's encoder.json and vocab.bpe (the rest, split at the first NUL byte).
// A tokenizer that loads must encode and decode real text without crashing.
#include "common/error.h"
#include "data/bpe_tokenizer.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto dir = cp::fuzz::scratch();
    try {
        cp::data::BpeTokenizer tokenizer = [&] {
            if (data[0] == 0)
                return cp::data::BpeTokenizer::from_hf_tokenizer_json(
                    cp::fuzz::write_file(dir / "tokenizer.json", in));
            const auto [encoder, merges] = cp::fuzz::split(in, '\0');
            return cp::data::BpeTokenizer::from_gpt2_files(
                cp::fuzz::write_file(dir / "encoder.json", encoder),
                cp::fuzz::write_file(dir / "vocab.bpe", merges));
        }();
        const auto ids = tokenizer.encode("The Fulton County Grand Jury said Friday.");
        for (auto id : ids)
            if (id >= tokenizer.vocab_size()) cp::fuzz::finding("encode gave an id past the vocabulary");
        (void)tokenizer.decode(ids);
    } catch (const cp::Error&) {
        // bad files are refused with a message: expected
    }
    return 0;
}
