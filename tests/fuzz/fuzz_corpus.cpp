// Each corpus reader on untrusted files. First byte picks the reader: Brown's tagged files, an
// nlp-corpus JSON document, a JSONL file (failing or skipping bad lines), a .jsonl.zst file, or
// a folder of .txt files; the rest is the file.
#include "common/error.h"
#include "data/corpus.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto dir = cp::fuzz::scratch();
    std::filesystem::path corpus = dir;
    auto policy = cp::data::BadLinePolicy::fail;
    switch (data[0] % 6) {
        case 0:
            cp::fuzz::write_file(dir / "ca01", in);
            break;
        case 1:
            cp::fuzz::write_file(dir / "doc-1.json", in);
            break;
        case 2:
            corpus = cp::fuzz::write_file(dir / "c.jsonl", in);
            break;
        case 3:
            corpus = cp::fuzz::write_file(dir / "c.jsonl", in);
            policy = cp::data::BadLinePolicy::skip;
            break;
        case 4:
            corpus = cp::fuzz::write_file(dir / "c.jsonl.zst", in);
            break;
        default:
            cp::fuzz::write_file(dir / "a.txt", in);
            break;
    }
    try {
        const cp::data::Corpus c = cp::data::read_corpus(corpus, policy);
        for (const auto& d : c.documents)
            if (d.text.empty()) cp::fuzz::finding("an empty document was kept");
    } catch (const cp::Error&) {
    }
    return 0;
}
