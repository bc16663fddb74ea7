// GPT-2 pre-tokenisation: the pieces the reference's regex produces.
#include <gtest/gtest.h>

#include "data/pretokenizer.h"

using cp::data::Pretokenizer;

namespace {
std::vector<std::string> pieces(const std::string& text) {
    static const Pretokenizer pre;
    std::vector<std::string> out;
    for (auto p : pre.split(text)) out.emplace_back(p);
    return out;
}
}  // namespace

TEST(Pretokenizer, SplitsWordsWithTheirLeadingSpace) {
    EXPECT_EQ(pieces("The jury said"), (std::vector<std::string>{"The", " jury", " said"}));
}

TEST(Pretokenizer, SplitsContractionsAsGpt2Does) {
    EXPECT_EQ(pieces("it's we'll I'd they've"),
              (std::vector<std::string>{"it", "'s", " we", "'ll", " I", "'d", " they", "'ve"}));
}

TEST(Pretokenizer, LeavesTheLastSpaceOfARunToTheNextWord) {
    // `\s+(?!\S)` takes all spaces but the one that belongs to the following word.
    EXPECT_EQ(pieces("a   b"), (std::vector<std::string>{"a", "  ", " b"}));
    EXPECT_EQ(pieces("end  "), (std::vector<std::string>{"end", "  "}));
}

TEST(Pretokenizer, SeparatesNumbersLettersAndPunctuation) {
    EXPECT_EQ(pieces("In 1961, $172.50!"),
              (std::vector<std::string>{"In", " 1961", ",", " $", "172", ".", "50", "!"}));
}

TEST(Pretokenizer, UsesUnicodeLetterClasses) {
    EXPECT_EQ(pieces("東京 café ١٢٣"), (std::vector<std::string>{"東京", " café", " ١٢٣"}));
}

TEST(Pretokenizer, TreatsByteOrderMarkAsSpaceAndNelAsPunctuationLikeJavaScript) {
    // JavaScript's \s includes U+FEFF and excludes U+0085; PCRE2's Unicode \s is the reverse.
    // (Checked against node: "!\uFEFF" -> ["!", "\uFEFF"], "!\u0085" -> ["!\u0085"].)
    EXPECT_EQ(pieces("!\xEF\xBB\xBF"), (std::vector<std::string>{"!", "\xEF\xBB\xBF"}));
    EXPECT_EQ(pieces("!\xC2\x85"), (std::vector<std::string>{"!\xC2\x85"}));
}

TEST(Pretokenizer, PiecesConcatenateToTheInput) {
    const std::string text = "Line one.\r\n\tTabbed  and   spaced 😀 emoji's, e\xCC\x81 — done. ";
    std::string joined;
    for (const auto& p : pieces(text)) joined += p;
    EXPECT_EQ(joined, text);
}
