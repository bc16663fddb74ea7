// Reference numerics: `context-pythia score` agrees with an independent NumPy implementation
// written from MODEL_SPEC.md alone (tests/reference/numpy_reference.py), for both models, to 1e-4.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/models.h"
#include "test_support.h"

using namespace cp::model;
using nlohmann::json;

class ReferenceNumerics : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceNumerics, ScoreLogprobsMatchTheNumpyReference) {
    cp::test::TempDir dir;
    ModelConfig config = preset(GetParam());
    // Larger weights than the spec's init make the logits sharp, so that a mistake in head
    // layout, rotary or the recurrence changes them well past the tolerance.
    config.init_std = 0.3;
    config.context_init_std = 0.5;
    auto model = make_model(config, 21);
    save_checkpoint(*model, dir / "m.safetensors");

    auto tok = cp::test::gpt2_tokenizer();
    const auto ids = tok.encode(cp::test::real_sentences(300));
    std::string id_list;
    for (auto id : ids) id_list += (id_list.empty() ? "" : ",") + std::to_string(id);

    const auto ours = cp::test::run_cli(
        {"score", "--checkpoint", (dir / "m.safetensors").string(), "--ids", id_list, "--json"});
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    const auto ref = cp::test::run_command(
        {CP_TEST_PYTHON, CP_TEST_NUMPY_REFERENCE, (dir / "m.safetensors").string(), id_list});
    ASSERT_EQ(ref.exit_code, 0) << ref.err;

    const auto a = json::parse(ours.out)["logprobs"].get<std::vector<double>>();
    const auto b = json::parse(ref.out)["logprobs"].get<std::vector<double>>();
    ASSERT_EQ(a.size(), ids.size() - 1);
    ASSERT_EQ(a.size(), b.size());
    double worst = 0, spread = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::abs(a[i] - b[i]));
        spread = std::max(spread, std::abs(a[i] - a[0]));
    }
    EXPECT_LT(worst, 1e-4);
    EXPECT_GT(spread, 1.0) << "logits too flat for the comparison to mean anything";
    std::cout << GetParam() << ": " << a.size()
              << " log-probabilities, max |ours - numpy| = " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(BothModels, ReferenceNumerics,
                         ::testing::Values("pythia-tiny", "context-pythia-tiny"));
