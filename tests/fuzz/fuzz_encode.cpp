// Encoding arbitrary bytes with the real GPT-2 tokenizer: never a crash, every id inside the
// vocabulary, and for valid UTF-8 decode(encode(text)) == text exactly.
#include "common/error.h"
#include "data/bpe_tokenizer.h"
#include "data/data_paths.h"
#include "data/utf8.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static cp::data::BpeTokenizer tokenizer =
        cp::data::BpeTokenizer::load(cp::data::default_tokenizer_path());
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto ids = tokenizer.encode(text);
    for (auto id : ids)
        if (id >= tokenizer.vocab_size()) cp::fuzz::finding("encode gave an id past the vocabulary");
    const std::string back = tokenizer.decode(ids);
    if (cp::data::is_valid_utf8(text) && back != text)
        cp::fuzz::finding("decode(encode(text)) differs from valid UTF-8 text");
    return 0;
}
