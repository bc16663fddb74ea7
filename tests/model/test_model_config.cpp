// Model configurations: the presets are valid and as MODEL_SPEC.md says; invalid sizes are
// refused with a message that names the field.
#include <gtest/gtest.h>

#include "common/error.h"
#include "model/model_config.h"

using namespace cp::model;

TEST(ModelConfig, PresetsAreValidAndMatchTheSpec) {
    for (const auto& name : preset_names()) EXPECT_TRUE(preset(name).problems().empty()) << name;
    const ModelConfig p = preset("pythia-70m");
    EXPECT_EQ(p.layer_width(), 512);
    EXPECT_EQ(p.head_dim(), 64);
    EXPECT_EQ(p.rotary_dims(), 16);
    const ModelConfig c = preset("context-pythia-70m");
    EXPECT_EQ(c.layer_width(), 256);
    EXPECT_EQ(c.head_dim(), 32);
    EXPECT_EQ(c.rotary_dims(), 8);
    EXPECT_EQ(c.intermediate, 1024);
    EXPECT_EQ(preset("pythia-tiny").vocab_rows, 50304);  // tiny keeps the full vocabulary
}

TEST(ModelConfig, WidthNotDivisibleByHeadsIsNamed) {
    ModelConfig c = preset("context-pythia-tiny");
    c.context_dim = 30;
    const auto problems = c.problems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("context_dim 30 is not divisible by heads 4"), std::string::npos)
        << problems[0];
    EXPECT_THROW(c.validate(), cp::Error);
}

TEST(ModelConfig, EveryProblemIsListed) {
    ModelConfig c = preset("pythia-tiny");
    c.layers = 0;
    c.rotary_pct = 1.5;
    c.end_of_text_id = 60000;
    EXPECT_EQ(c.problems().size(), 3u);
}

TEST(ModelConfig, JsonRoundTripKeepsEveryField) {
    ModelConfig c = preset("context-pythia-tiny");
    c.rotary_base = 5000;
    c.context_init_std = 0.2;
    const ModelConfig back = ModelConfig::from_json(c.to_json());
    EXPECT_EQ(back.to_json(), c.to_json());
}

TEST(ModelConfig, UnknownPresetListsTheKnownOnes) {
    try {
        preset("pythia-7b");
        FAIL() << "no error";
    } catch (const cp::Error& e) {
        EXPECT_NE(std::string(e.what()).find("known: pythia-70m, context-pythia-70m"),
                  std::string::npos)
            << e.what();
    }
}
