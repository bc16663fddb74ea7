// Corpus readers: Brown (detokenised), nlp-corpus JSON, .txt/.jsonl/.jsonl.zst folders, the
// deterministic split, and one clear error for each kind of bad input.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ngram_baselines.h"
#include "common/stats.h"
#include "data/test_chunks.h"
#include "data/brown.h"
#include "data/corpus.h"
#include "data/last_word.h"
#include "data/splits.h"
#include "test_support.h"

using cp::test::error_of;

using namespace cp::data;
using cp::test::TempDir;
using cp::test::write_text;
namespace fs = std::filesystem;

namespace {

std::string jsonl_line(const std::string& text) {
    return nlohmann::json({{"text", text}}).dump() + "\n";
}

std::string zstd_compress(const std::string& bytes) {
    std::string out(ZSTD_compressBound(bytes.size()), '\0');
    const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
    out.resize(n);
    return out;
}

}  // namespace

TEST(BrownDetokenizer, ReadsAsOrdinaryProse) {
    // ca01's first two sentences, as the corpus stores them.
    const std::string tagged =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at "
        "investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` "
        "no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n\n\n"
        "\tThe/at jury/nn further/rbr said/vbd in/in term-end/nn presentments/nns that/cs the/at "
        "City/nn-tl Executive/jj-tl Committee/nn-tl ,/, which/wdt had/hvd over-all/jj charge/nn "
        "of/in the/at election/nn ,/, ``/`` deserves/vbz the/at praise/nn ''/'' ./.\n";
    EXPECT_EQ(detokenize_brown(tagged),
              "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent "
              "primary election produced \"no evidence\" that any irregularities took place. The "
              "jury further said in term-end presentments that the City Executive Committee, which "
              "had over-all charge of the election, \"deserves the praise\".");
}

TEST(BrownDetokenizer, HandlesParenthesesSingleQuotesContractionsAndSlashesInWords) {
    EXPECT_EQ(detokenize_brown("(/( Robertson/np ,/, 1937/cd )/) didn't/dod* say/vb ;/. "
                               "'/' Met/np '/' 1-1/2/cd ?/."),
              "(Robertson, 1937) didn't say; 'Met' 1-1/2?");
}

TEST(CorpusReaders, BrownHas500DocumentsInFileOrder) {
    const Corpus brown = read_corpus(cp::test::brown_dir());
    EXPECT_EQ(brown.kind, CorpusKind::brown);
    ASSERT_EQ(brown.documents.size(), 500u);
    EXPECT_EQ(brown.documents[0].name, "ca01");
    EXPECT_EQ(brown.documents[9].name, "ca10");
    EXPECT_EQ(brown.documents[499].name, "cr09");
    EXPECT_EQ(brown.documents[0].text.rfind("The Fulton County Grand Jury said Friday", 0), 0u);
    EXPECT_EQ(brown.documents[0].text.find('/'), std::string::npos) << "tags must be gone";
    EXPECT_EQ(brown.invalid_utf8_replaced, 0u);
}

TEST(CorpusReaders, NlpCorpusJoinsSentencesInNumericFileOrder) {
    const Corpus nlp = read_corpus(cp::test::nlp_corpus_dir());
    EXPECT_EQ(nlp.kind, CorpusKind::nlp_corpus);
    ASSERT_EQ(nlp.documents.size(), 100u);
    EXPECT_EQ(nlp.documents[9].name, "doc-9.json");
    EXPECT_EQ(nlp.documents[10].name, "doc-10.json");
    EXPECT_EQ(nlp.documents[0].text.rfind("Creakiness and atmosphere this film has", 0), 0u);
}

TEST(CorpusSplits, EveryTenthDocumentIsHeldOut) {
    EXPECT_EQ(split_of_document(0), Split::train);
    EXPECT_EQ(split_of_document(8), Split::train);
    EXPECT_EQ(split_of_document(9), Split::test);   // ca10, doc-9
    EXPECT_EQ(split_of_document(19), Split::test);  // ca20, doc-19
    EXPECT_EQ(split_of_document(20), Split::train);
}

TEST(CorpusReaders, NaturalOrderComparesNumbersByValue) {
    EXPECT_TRUE(natural_less("doc-9.json", "doc-10.json"));
    EXPECT_FALSE(natural_less("doc-10.json", "doc-9.json"));
    EXPECT_TRUE(natural_less("ca01", "ca02"));
    EXPECT_TRUE(natural_less("a", "ab"));
    EXPECT_FALSE(natural_less("ca01", "ca01"));
}

TEST(CorpusReaders, UserFolderReadsTxtJsonlAndZstdInNaturalOrder) {
    TempDir dir;
    const std::string s = cp::test::real_sentences(1200);
    const std::string a = s.substr(0, 300), b = s.substr(300, 300), c = s.substr(600, 300);
    write_text(dir / "corpus/part-10.txt", c);
    write_text(dir / "corpus/part-2.txt", a);
    write_text(dir / "corpus/part-3.jsonl", jsonl_line(b) + "\n" + jsonl_line(c));
    write_text(dir / "corpus/part-4.jsonl.zst", zstd_compress(jsonl_line(a) + jsonl_line(b)));
    write_text(dir / "corpus/notes.md", "not a corpus file");
    const Corpus corpus = read_corpus(dir / "corpus");
    EXPECT_EQ(corpus.kind, CorpusKind::user_folder);
    ASSERT_EQ(corpus.documents.size(), 6u);
    EXPECT_EQ(corpus.documents[0].name, "part-2.txt");
    EXPECT_EQ(corpus.documents[0].text, a);
    EXPECT_EQ(corpus.documents[1].name, "part-3.jsonl:1");
    EXPECT_EQ(corpus.documents[2].name, "part-3.jsonl:3");  // blank line 2 skipped
    EXPECT_EQ(corpus.documents[3].text, a);
    EXPECT_EQ(corpus.documents[4].text, b);
    EXPECT_EQ(corpus.documents[5].name, "part-10.txt");
}

TEST(CorpusReaders, SingleJsonlZstFileIsACorpus) {
    TempDir dir;
    const std::string s = cp::test::real_sentences(800);
    write_text(dir / "shard.jsonl.zst",
               zstd_compress(jsonl_line(s.substr(0, 400)) + jsonl_line(s.substr(400))));
    const Corpus corpus = read_corpus(dir / "shard.jsonl.zst");
    EXPECT_EQ(corpus.kind, CorpusKind::jsonl_file);
    ASSERT_EQ(corpus.documents.size(), 2u);
    EXPECT_EQ(corpus.documents[0].text + corpus.documents[1].text, s);
}

TEST(CorpusErrors, MalformedJsonlNamesFileAndLine) {
    TempDir dir;
    const std::string s = cp::test::real_sentences(400);
    write_text(dir / "c.jsonl",
               jsonl_line(s) + jsonl_line(s) + "{\"text\": \"unterminated\n" + jsonl_line(s));
    const std::string m = error_of([&] { read_corpus(dir / "c.jsonl"); });
    EXPECT_NE(m.find("c.jsonl' is not valid JSONL at line 3"), std::string::npos) << m;
    EXPECT_NE(m.find("--skip-bad-lines"), std::string::npos) << m;
}

TEST(CorpusErrors, JsonlLineWithoutTextFieldNamesFileAndLine) {
    TempDir dir;
    write_text(dir / "c.jsonl",
               jsonl_line(cp::test::real_sentences(200)) + "{\"body\": \"The jury said.\"}\n");
    const std::string m = error_of([&] { read_corpus(dir / "c.jsonl"); });
    EXPECT_NE(m.find("at line 2: expected an object with a \"text\" field"), std::string::npos)
        << m;
}

TEST(CorpusErrors, SkipPolicyCountsBadLinesAndKeepsTheRest) {
    TempDir dir;
    const std::string s = cp::test::real_sentences(400);
    write_text(dir / "c.jsonl", jsonl_line(s) + "not json\n" + "[1, 2]\n" + jsonl_line(s));
    const Corpus corpus = read_corpus(dir / "c.jsonl", BadLinePolicy::skip);
    EXPECT_EQ(corpus.documents.size(), 2u);
    EXPECT_EQ(corpus.skipped_lines, 2u);
}

TEST(CorpusErrors, TruncatedZstdIsReportedAsTruncated) {
    TempDir dir;
    const std::string packed = zstd_compress(jsonl_line(cp::test::real_sentences(2000)));
    write_text(dir / "c.jsonl.zst", packed.substr(0, packed.size() / 2));
    const std::string m = error_of([&] { read_corpus(dir / "c.jsonl.zst"); });
    EXPECT_NE(m.find("truncated"), std::string::npos) << m;
}

TEST(CorpusErrors, MissingPathIsNamed) {
    const std::string m = error_of([] { read_corpus("/nonexistent/corpus"); });
    EXPECT_NE(m.find("corpus not found: '/nonexistent/corpus'"), std::string::npos) << m;
}

TEST(CorpusErrors, EmptyCorpusIsAnError) {
    TempDir dir;
    write_text(dir / "c/a.txt", "");
    write_text(dir / "c/b.txt", " \n\t\n");
    const std::string m = error_of([&] { read_corpus(dir / "c"); });
    EXPECT_NE(m.find("holds no text"), std::string::npos) << m;
}

TEST(CorpusErrors, FolderWithoutCorpusFilesSaysWhatItExpected) {
    TempDir dir;
    write_text(dir / "c/readme.md", "The jury said.");
    const std::string m = error_of([&] { read_corpus(dir / "c"); });
    EXPECT_NE(m.find("holds no documents: expected Brown files"), std::string::npos) << m;
}

TEST(CorpusErrors, MalformedNlpCorpusJsonNamesTheFile) {
    TempDir dir;
    write_text(dir / "c/doc-0.json", "[\"The jury said.\", ");
    const std::string m = error_of([&] { read_corpus(dir / "c"); });
    EXPECT_NE(m.find("doc-0.json' is not valid JSON"), std::string::npos) << m;
}

TEST(CorpusErrors, UnreadableFileIsNamed) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their permissions";
    TempDir dir;
    write_text(dir / "c/a.txt", cp::test::real_sentences(200));
    fs::permissions(dir / "c/a.txt", fs::perms::none);
    const std::string m = error_of([&] { read_corpus(dir / "c"); });
    EXPECT_NE(m.find("cannot read"), std::string::npos) << m;
    EXPECT_NE(m.find("a.txt"), std::string::npos) << m;
}

TEST(CorpusErrors, InvalidUtf8IsReplacedAndCounted) {
    TempDir dir;
    write_text(dir / "c/a.txt", "The jury said \xFF\xFE it \xE2\x82 would.");
    const Corpus corpus = read_corpus(dir / "c");
    EXPECT_EQ(corpus.invalid_utf8_replaced, 3u);
    EXPECT_EQ(corpus.documents[0].text,
              "The jury said \xEF\xBF\xBD\xEF\xBF\xBD it \xEF\xBF\xBD would.");
}

// DATA.md "Splits": Phase 1, Phase 2 training and validation read disjoint ranges of the
// training stream, for several sizes; the expected counts are worked out here by hand.
TEST(Splits, PhaseRangesOfTheTrainingStreamAreDisjoint) {
    struct Case {
        std::int64_t samples, seq;
        double fraction;
        std::int64_t validation;  // chunks, by hand: round(samples x fraction), at least 1
    };
    for (const Case c : {Case{10, 16, 0.1, 1}, Case{120, 32, 0.1, 12}, Case{10000, 128, 0.1, 1000},
                         Case{15, 8, 0.1, 2}, Case{300, 32, 0.25, 75}, Case{11, 64, 0.01, 1}}) {
        SCOPED_TRACE(std::to_string(c.samples) + " x " + std::to_string(c.seq));
        const auto s = cp::data::chunk_split(c.samples, c.seq, c.fraction);
        EXPECT_EQ(s.validation_chunks, c.validation);
        EXPECT_EQ(s.train_chunks, c.samples - c.validation);
        const std::int64_t chunk = c.seq + 1;
        EXPECT_EQ(s.phase2_train.begin, 0);
        EXPECT_EQ(s.phase2_train.end, (c.samples - c.validation) * chunk);
        EXPECT_EQ(s.validation.end, c.samples * chunk);
        // Disjoint: Phase 1 ends where validation begins, and reads no more than training.
        EXPECT_LE(s.phase1.end, s.validation.begin);
        EXPECT_LE(s.phase2_train.end, s.validation.begin);
        EXPECT_GE(s.phase1.begin, s.phase2_train.begin);
        EXPECT_LE(s.phase1.end, s.phase2_train.end);
    }
}

// MODEL_SPEC §5: n and a 95% Wilson interval beside every last-word accuracy. Expected values
// worked out by hand with z = 1.96: 5 of 10 -> 0.5 ± 0.2634; 0 of 8 -> [0, 0.3244]; 8 of 8 the
// mirror image.
TEST(Stats, WilsonIntervalMatchesHandWorkedValues) {
    const cp::Interval half = cp::wilson_interval(5, 10);
    EXPECT_NEAR(half.low, 0.2366, 5e-4);
    EXPECT_NEAR(half.high, 0.7634, 5e-4);
    const cp::Interval none = cp::wilson_interval(0, 8);
    EXPECT_EQ(none.low, 0.0);
    EXPECT_NEAR(none.high, 0.3244, 5e-4);
    const cp::Interval all = cp::wilson_interval(8, 8);
    EXPECT_NEAR(all.low, 1.0 - none.high, 1e-12);
    EXPECT_EQ(all.high, 1.0);
    const cp::Interval empty = cp::wilson_interval(0, 0);
    EXPECT_EQ(empty.low, 0.0);
    EXPECT_EQ(empty.high, 0.0);
}

// MODEL_SPEC §5, repeated seeds: a 95% t-interval. Quantiles from the printed table of Student's
// t (two-sided 95%: 12.706, 4.303, 2.776, 2.262, 2.042 for 1, 2, 4, 9, 30 degrees of freedom;
// the normal 1.960 in the limit).
TEST(Stats, StudentTQuantilesMatchThePrintedTable) {
    const std::pair<double, double> table[] = {
        {1, 12.706}, {2, 4.303}, {4, 2.776}, {9, 2.262}, {30, 2.042}, {1e7, 1.960}};
    for (const auto& [df, t] : table) {
        EXPECT_NEAR(cp::student_t_quantile(0.975, df), t, 6e-4) << "df " << df;
        EXPECT_NEAR(cp::student_t_quantile(0.025, df), -t, 6e-4) << "df " << df;
    }
    EXPECT_NEAR(cp::student_t_quantile(0.95, 1), 6.314, 6e-4);  // one-sided 95%, df 1
}

// {1, 2, 3} by hand: mean 2, sd sqrt(((1-2)^2 + 0 + (3-2)^2) / 2) = 1, half-width
// 4.303 x 1 / sqrt(3) = 2.484; one value has no spread; {5, 6, 7} lies above 0, {-1, 0, 1} not.
TEST(Stats, SeedEstimateIsMeanSdAndTInterval) {
    const auto e = cp::estimate({1, 2, 3});
    ASSERT_TRUE(e && e->sd && e->interval);
    EXPECT_EQ(e->n, 3);
    EXPECT_DOUBLE_EQ(e->mean, 2.0);
    EXPECT_NEAR(*e->sd, 1.0, 1e-12);
    EXPECT_NEAR(e->interval->low, 2.0 - 2.484, 1e-3);
    EXPECT_NEAR(e->interval->high, 2.0 + 2.484, 1e-3);
    const auto one = cp::estimate({4.5});
    ASSERT_TRUE(one);
    EXPECT_EQ(one->mean, 4.5);
    EXPECT_FALSE(one->sd || one->interval || one->excludes_zero());
    EXPECT_TRUE(cp::estimate({5, 6, 7})->excludes_zero());
    EXPECT_FALSE(cp::estimate({-1, 0, 1})->excludes_zero());
    EXPECT_TRUE(cp::estimate({-7, -6, -5})->excludes_zero());
    EXPECT_FALSE(cp::estimate({}).has_value());
}

// The unigram baseline by hand: training {0, 0, 1} over 4 ids, add-one smoothed, gives
// p = 3/7, 2/7, 1/7, 1/7; targets {0, 2} cost -(ln 3/7 + ln 1/7) / 2, perplexity sqrt(49 / 3).
// With no training tokens it is the uniform distribution: perplexity = vocabulary size.
TEST(Stats, UnigramBaselineMatchesTheHandWorkedValue) {
    EXPECT_NEAR(cp::unigram_perplexity({0, 0, 1}, {0, 2}, 4), std::sqrt(49.0 / 3.0), 1e-12);
    EXPECT_NEAR(cp::unigram_perplexity({}, {3, 1, 2}, 4), 4.0, 1e-12);
}

// #26: Hugging Face's sliding window by hand. 10 tokens, windows of 4 moved 2 at a time:
// [0, 4) scores 1..3, [2, 6) scores 4..5 (3 was scored), [4, 8) 6..7, [6, 10) 8..9: every token but
// the first, once. Moved 4 at a time (disjoint), each window's first token goes unscored: 1..3,
// 5..7, 9. A stride of 0 or above the window makes no windows.
TEST(TestChunks, StridedWindowsScoreEachTokenOnceAsHuggingFacesGuideDoes) {
    using W = cp::data::StridedWindow;
    const auto same = [](const std::vector<W>& got, const std::vector<W>& want) {
        if (got.size() != want.size()) return false;
        for (std::size_t i = 0; i < got.size(); ++i)
            if (got[i].begin != want[i].begin || got[i].end != want[i].end ||
                got[i].first_scored != want[i].first_scored)
                return false;
        return true;
    };
    EXPECT_TRUE(same(cp::data::strided_windows(10, 4, 2),
                     {{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}}));
    EXPECT_TRUE(same(cp::data::strided_windows(10, 4, 4), {{0, 4, 1}, {4, 8, 5}, {8, 10, 9}}));
    EXPECT_TRUE(cp::data::strided_windows(10, 4, 0).empty());
    EXPECT_TRUE(cp::data::strided_windows(10, 4, 5).empty());
    // Spans: from each chunk start, at most 30 tokens, cut at the next chunk's start.
    cp::data::TestChunkChoice c;
    c.starts = {0, 20, 90};
    const auto spans = cp::data::strided_spans(c, 100, 30);
    ASSERT_EQ(spans.size(), 3u);
    EXPECT_EQ(spans[0], (std::pair<std::size_t, std::size_t>{0, 20}));
    EXPECT_EQ(spans[1], (std::pair<std::size_t, std::size_t>{20, 50}));
    EXPECT_EQ(spans[2], (std::pair<std::size_t, std::size_t>{90, 100}));
}

// #26: the document bootstrap by hand. One seed, two documents of one chunk each, losses a = (1, 2)
// and b = (1, 1): a resample draws documents {0, 0} (a quarter of the time: difference 0), {0, 1}
// (half: e^1.5 - e) or {1, 1} (a quarter: e^2 - e). With 4,000 resamples the 2.5th percentile is
// 0 and the 97.5th e^2 - e. Equal sides give exactly [0, 0]; a chunk of a document counted twice
// weighs twice.
TEST(Stats, DocumentBootstrapIntervalMatchesTheHandWorkedDistribution) {
    const cp::Interval i =
        cp::document_bootstrap_interval({{1.0, 2.0}}, {{1.0, 1.0}}, {0, 1}, 4000);
    EXPECT_EQ(i.low, 0.0);
    EXPECT_NEAR(i.high, std::exp(2.0) - std::exp(1.0), 1e-12);
    const cp::Interval same = cp::document_bootstrap_interval({{1.0, 2.0}}, {{1.0, 2.0}}, {0, 1});
    EXPECT_EQ(same.low, 0.0);
    EXPECT_EQ(same.high, 0.0);
    // One document holding both chunks: every resample is the whole text, e^1.5 - e.
    const cp::Interval one = cp::document_bootstrap_interval({{1.0, 2.0}}, {{1.0, 1.0}}, {7, 7});
    EXPECT_NEAR(one.low, std::exp(1.5) - std::exp(1.0), 1e-12);
    EXPECT_NEAR(one.high, std::exp(1.5) - std::exp(1.0), 1e-12);
    // Two seeds: the mean of the seeds' differences (here 0 and e^1.5 - e in the one document).
    const cp::Interval seeds = cp::document_bootstrap_interval({{1.0, 2.0}, {1.0, 1.0}},
                                                               {{1.0, 1.0}, {1.0, 1.0}}, {3, 3});
    EXPECT_NEAR(seeds.low, (std::exp(1.5) - std::exp(1.0)) / 2, 1e-12);
}

// #26: the same bootstrap on the mean scale (token accuracy, a passage's 0/1 outcome): with
// a = (1, 0) and b = (0, 0) over two one-chunk documents the difference of means is 0 (a quarter
// of the draws: document 1 twice), 0.5 (half) or 1 (a quarter: document 0 twice), so the interval
// is [0, 1]; in one document it is the plain difference of means, 0.5, where the exp scale would
// give e^0.5 - 1.
TEST(Stats, DocumentBootstrapOnTheMeanScaleTakesNoExponential) {
    const auto mean = cp::BootstrapScale::mean;
    const cp::Interval i =
        cp::document_bootstrap_interval({{1.0, 0.0}}, {{0.0, 0.0}}, {0, 1}, 4000, 1, mean);
    EXPECT_EQ(i.low, 0.0);
    EXPECT_EQ(i.high, 1.0);
    const cp::Interval one =
        cp::document_bootstrap_interval({{1.0, 0.0}}, {{0.0, 0.0}}, {5, 5}, 100, 1, mean);
    EXPECT_DOUBLE_EQ(one.low, 0.5);
    EXPECT_DOUBLE_EQ(one.high, 0.5);
}

// #26: LAMBADA's own format, as lm-eval-harness's lambada_openai splits it: the target is what
// follows the last space, the context everything before it. Lines from Brown's held-out ca10, one
// in JSONL, one plain, one JSONL again; a blank last line is ignored.
TEST(LastWord, LambadaFilePassagesSplitAtTheLastSpace) {
    cp::test::TempDir dir;
    const auto file = dir / "lambada.jsonl";
    cp::test::write_text(
        file,
        "{\"text\": \"Vincent G. Ierulli has been appointed temporary assistant district attorney, "
        "it was announced Monday by Charles E. Raymond, District Attorney\"}\n"
        "Ierulli will replace Desmond D. Connall who has been called to active military service "
        "but is expected back on the job by March\r\n"
        "{\"text\": \"Ierulli, 29, has been practicing in Portland since November\"}\n\n");
    const auto p = cp::data::lambada_file_passages(file);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].word, "Attorney");
    EXPECT_EQ(p[0].context,
              "Vincent G. Ierulli has been appointed temporary assistant district attorney, it was "
              "announced Monday by Charles E. Raymond, District");
    EXPECT_EQ(p[1].word, "March");
    EXPECT_EQ(p[1].context.substr(p[1].context.size() - 10), "the job by");
    EXPECT_EQ(p[2].word, "November");
    EXPECT_EQ(p[2].context, "Ierulli, 29, has been practicing in Portland since");
    // Bad lines, by file and line.
    const auto refused = [&](const std::string& text) {
        cp::test::write_text(file, text);
        return cp::test::error_of([&] { cp::data::lambada_file_passages(file); });
    };
    EXPECT_NE(refused("a b c\n\nd e f\n").find("lambada.jsonl:2: the line has no text"),
              std::string::npos);
    EXPECT_NE(refused("a b c\nIerulli\n").find("lambada.jsonl:2: the passage has one word only"),
              std::string::npos);
    EXPECT_NE(refused("{\"txt\": \"a b\"}\n").find("lambada.jsonl:1: not a JSON object"),
              std::string::npos);
}

// #26: the baselines by hand on a small real text, one word per id: the = 0, cat = 1, sat = 2,
// ran = 3, dog = 4 (vocabulary 5). Training rows "the cat sat" and "the cat ran": target counts
// cat 2, sat 1, ran 1 (N = 4); contexts the 2, cat 2; pairs (the, cat) 2, (cat, sat) 1,
// (cat, ran) 1.
namespace {
const cp::TokenChunks kTraining{{0, 1, 2, 0, 1, 3}, 3};
const cp::TokenChunks kTheCatSat{{0, 1, 2}, 3};
const cp::TokenChunks kTheDogRan{{0, 4, 3}, 3};
const cp::TokenChunks kTheCatRan{{0, 1, 3}, 3};
}  // namespace

// At alpha 1: p(cat) = 3/9, p(sat) = 2/9, perplexity of "cat sat" sqrt(27 / 2). The bigram at
// lambda 0.5: p(cat | the) = 0.5 + 0.5 / 3 = 2/3, p(sat | cat) = 0.25 + 1/9 = 13/36, perplexity
// sqrt(108 / 26).
TEST(Baselines, UnigramAndBigramMatchTheHandWorkedValues) {
    EXPECT_NEAR(cp::unigram_chunk_perplexity(kTraining, kTheCatSat, 5, 1.0), std::sqrt(13.5),
                1e-12);
    EXPECT_NEAR(cp::bigram_chunk_perplexity(kTraining, kTheCatSat, 5, 1.0, 0.5),
                std::sqrt(108.0 / 26.0), 1e-12);
    // lambda 0 is the unigram; a context never seen before a target falls back to it.
    EXPECT_NEAR(cp::bigram_chunk_perplexity(kTraining, kTheCatSat, 5, 1.0, 0.0), std::sqrt(13.5),
                1e-12);
    EXPECT_NEAR(cp::bigram_chunk_perplexity(kTraining, {{4, 2}, 2}, 5, 1.0, 0.9), 4.5, 1e-12);
}

// The smoothing is chosen on validation and only evaluated on test. Validation "the dog ran" holds
// an unseen word: alpha(1 + alpha) / (4 + 5 alpha)^2 grows with alpha (its log's derivative is
// (4 + 3 alpha) / (...) > 0), so the largest alpha searched, 10, wins, although the test text "the
// cat sat" (all seen) would pick the smallest; at 10 its perplexity is 54 / sqrt(12 x 11). The
// bigram never helps "dog" (lambda 0). Validation "the cat sat" instead picks the smallest alpha
// (the derivative at 0 is 1/2 + 1 - 10/4 < 0) and the largest lambda (both pairs were seen).
TEST(Baselines, SmoothingIsChosenOnValidationNotOnTest) {
    const cp::NgramBaselines unseen = cp::ngram_baselines(kTraining, kTheDogRan, kTheCatSat, 5);
    EXPECT_DOUBLE_EQ(unseen.unigram_alpha, 10.0);
    EXPECT_NEAR(unseen.unigram_test_ppl, 54.0 / std::sqrt(132.0), 1e-9);
    EXPECT_EQ(unseen.bigram_lambda, 0.0);
    EXPECT_NEAR(unseen.bigram_test_ppl, unseen.unigram_test_ppl, 1e-12);

    const cp::NgramBaselines seen = cp::ngram_baselines(kTraining, kTheCatSat, kTheCatRan, 5);
    const double a = 1e-4;
    EXPECT_NEAR(seen.unigram_alpha, a, 1e-12);
    EXPECT_NEAR(seen.bigram_lambda, 0.95, 1e-12);
    const double uni_cat = (2 + a) / (4 + 5 * a), uni_ran = (1 + a) / (4 + 5 * a);
    EXPECT_NEAR(seen.unigram_test_ppl, 1 / std::sqrt(uni_cat * uni_ran), 1e-9);
    const double cat_after_the = 0.95 + 0.05 * uni_cat, ran_after_cat = 0.95 * 0.5 + 0.05 * uni_ran;
    EXPECT_NEAR(seen.bigram_test_ppl, 1 / std::sqrt(cat_after_the * ran_after_cat), 1e-9);
    EXPECT_LT(seen.bigram_test_ppl, seen.unigram_test_ppl);
}

// #26: test chunks drawn evenly across the held-out stream. 100 tokens hold 10 chunks of 10;
// 4 of them are chunks 0, 2, 5 and 7 (i x 10 / 4), beginning at tokens 0, 20, 50, 70: in the
// documents starting at 0, 0, 30 and 60, so 3 documents of 2 genres ("a", "a", "b"). The first
// 4 chunks would have been one document.
TEST(TestChunks, AreDrawnEvenlyAcrossTheHeldOutDocumentsAndCounted) {
    const std::vector<cp::data::HeldOutDocument> docs = {{0, "a"}, {30, "a"}, {60, "b"}};
    const auto c = cp::data::choose_test_chunks(100, 10, 4, docs);
    EXPECT_EQ(c.starts, (std::vector<std::size_t>{0, 20, 50, 70}));
    EXPECT_EQ(c.documents, (std::vector<std::size_t>{0, 0, 1, 2}));
    EXPECT_EQ(c.distinct_documents, 3u);
    EXPECT_EQ(c.distinct_genres, 2u);
    // More chunks asked than the stream holds: every whole chunk, once.
    EXPECT_EQ(cp::data::choose_test_chunks(25, 10, 9, docs).starts,
              (std::vector<std::size_t>{0, 10}));
    EXPECT_EQ(cp::data::genre_of("ca01", true, "brown"), "a");
    EXPECT_EQ(cp::data::genre_of("cr09", true, "brown"), "r");
    EXPECT_EQ(cp::data::genre_of("notes.txt", false, "my-notes"), "my-notes");
}

// Passages drawn evenly across all held-out documents, and contexts cut on the left to the
// trained sequence length.
TEST(LastWord, PassagesAreDrawnEvenlyAndContextsCutToTheTrainedLength) {
    EXPECT_EQ(cp::data::evenly_spaced(10, 5), (std::vector<std::size_t>{0, 2, 4, 6, 8}));
    EXPECT_EQ(cp::data::evenly_spaced(1000, 3), (std::vector<std::size_t>{0, 333, 666}));
    EXPECT_EQ(cp::data::evenly_spaced(3, 10), (std::vector<std::size_t>{0, 1, 2}));
    std::vector<std::int64_t> context(100);
    for (std::size_t i = 0; i < context.size(); ++i) context[i] = static_cast<std::int64_t>(i);
    const auto cut = cp::data::cut_left(context, 2, 32);  // 30 context + 2 target = 32
    ASSERT_TRUE(cut.fits);
    ASSERT_EQ(cut.context.size(), 30u);
    EXPECT_EQ(cut.context.front(), 70);  // the last 30 tokens: 70..99
    EXPECT_EQ(cut.context.back(), 99);
    EXPECT_EQ(cp::data::cut_left({5, 6}, 2, 32).context, (std::vector<std::int64_t>{5, 6}));
    EXPECT_FALSE(cp::data::cut_left(context, 32, 32).fits);  // no room left for any context
}
