// UTF-8 repair: invalid input becomes U+FFFD, counted, exactly as node's TextDecoder does it.
#include <gtest/gtest.h>

#include "data/utf8.h"

using cp::data::count_words;
using cp::data::is_valid_utf8;
using cp::data::to_valid_utf8;

TEST(Utf8, ValidTextPassesUnchangedAndCountsNothing) {
    const std::string text = "naïve café — 東京 🙂 e\xCC\x81";
    std::size_t replaced = 0;
    EXPECT_EQ(to_valid_utf8(text, &replaced), text);
    EXPECT_EQ(replaced, 0u);
    EXPECT_TRUE(is_valid_utf8(text));
}

TEST(Utf8, LoneContinuationAndInvalidLeadBytesBecomeOneReplacementEach) {
    std::size_t replaced = 0;
    EXPECT_EQ(to_valid_utf8("a\x80"
                            "b\xFF"
                            "c",
                            &replaced),
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD"
              "c");
    EXPECT_EQ(replaced, 2u);
}

TEST(Utf8, TruncatedSequenceIsReplacedOnceThenTheNextCharacterKept) {
    std::size_t replaced = 0;
    // E2 82 is the start of "€" (E2 82 AC) cut short: one U+FFFD for the maximal prefix.
    EXPECT_EQ(to_valid_utf8("x\xE2\x82y", &replaced), "x\xEF\xBF\xBDy");
    EXPECT_EQ(replaced, 1u);
    replaced = 0;
    EXPECT_EQ(to_valid_utf8("end\xF0\x9F\x99", &replaced), "end\xEF\xBF\xBD");
    EXPECT_EQ(replaced, 1u);
}

TEST(Utf8, OverlongsAndSurrogatesAreInvalid) {
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // U+D800
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
    std::size_t replaced = 0;
    // WHATWG: ED is a valid lead but A0 is outside its range: ED alone, then A0, then 80.
    EXPECT_EQ(to_valid_utf8("\xED\xA0\x80", &replaced), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(replaced, 3u);
}

TEST(Utf8, WordsAreRunsOfNonSpace) {
    EXPECT_EQ(count_words("  The jury\tsaid\n\nFriday . "), 5u);
    EXPECT_EQ(count_words(""), 0u);
    EXPECT_EQ(count_words(" \n\t "), 0u);
}
