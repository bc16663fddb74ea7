// safetensors: a round trip, and one clear error for each hostile file (nothing read past the
// data, nothing allocated from claimed sizes).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/safetensors.h"
#include "test_support.h"

using cp::test::error_of;

using namespace cp::model;
using nlohmann::json;

namespace {

// A file with the given header JSON (as text) and `data_bytes` bytes of data.
std::string file_with(const std::string& header, std::size_t data_bytes) {
    std::string out;
    for (int b = 0; b < 8; ++b) out += static_cast<char>((header.size() >> (8 * b)) & 0xFF);
    return out + header + std::string(data_bytes, '\0');
}

std::string open_error(const std::string& bytes) {
    cp::test::TempDir dir;
    cp::test::write_text(dir / "m.safetensors", bytes);
    return error_of([&] { SafetensorsFile f(dir / "m.safetensors"); });
}

}  // namespace

TEST(Safetensors, RoundTripKeepsNamesShapesDtypesBytesAndMetadata) {
    cp::test::TempDir dir;
    const std::vector<float> a = {1.5f, -2.25f, 3.0f, 0.125f, 5.0f, -6.5f};
    const std::vector<std::uint16_t> b = {0x3C00, 0xC000};  // F16 1.0, -2.0
    write_safetensors(dir / "m.safetensors",
                      {{"layers.0.weight", DType::F32, {2, 3}, a.data()},
                       {"embed.weight", DType::F16, {2}, b.data()}},
                      {{"cp_config", "{\"x\": 1}"}});
    const SafetensorsFile f(dir / "m.safetensors");
    ASSERT_EQ(f.tensors().size(), 2u);
    const TensorEntry& e = f.at("layers.0.weight");
    EXPECT_EQ(e.dtype, DType::F32);
    EXPECT_EQ(e.shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(std::memcmp(f.data(e), a.data(), 24), 0);
    EXPECT_EQ(std::memcmp(f.data(f.at("embed.weight")), b.data(), 4), 0);
    EXPECT_EQ(f.metadata().at("cp_config"), "{\"x\": 1}");
    // Header padded so the data starts 8-byte aligned, as Hugging Face writes it.
    const std::string bytes = cp::test::read_text(dir / "m.safetensors");
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u);
}

TEST(SafetensorsHostile, FileShorterThanTheLengthField) {
    EXPECT_NE(open_error("abc").find("is truncated"), std::string::npos);
}

TEST(SafetensorsHostile, HeaderLargerThanTheFile) {
    std::string bytes = file_with("{}", 0);
    bytes[0] = static_cast<char>(0xFF);
    bytes[5] = static_cast<char>(0x7F);  // claims petabytes
    const std::string m = open_error(bytes);
    EXPECT_NE(m.find("is larger than the file"), std::string::npos) << m;
}

TEST(SafetensorsHostile, HeaderThatIsNotJson) {
    const std::string m = open_error(file_with("{\"a\": [1, 2", 0));
    EXPECT_NE(m.find("header is not valid JSON"), std::string::npos) << m;
}

TEST(SafetensorsHostile, UnknownDtype) {
    const std::string m = open_error(
        file_with(R"({"w": {"dtype": "F8_E9", "shape": [1], "data_offsets": [0, 1]}})", 1));
    EXPECT_NE(m.find("tensor 'w' has unknown dtype \"F8_E9\""), std::string::npos) << m;
}

TEST(SafetensorsHostile, OffsetsPastTheData) {
    const std::string m = open_error(
        file_with(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8));
    EXPECT_NE(m.find("fall outside the 8 data bytes"), std::string::npos) << m;
}

TEST(SafetensorsHostile, ShapeThatDoesNotMatchItsBytes) {
    const std::string m = open_error(
        file_with(R"({"w": {"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 16]}})", 16));
    EXPECT_NE(m.find("needs 36 bytes but its offsets hold 16"), std::string::npos) << m;
}

TEST(SafetensorsHostile, ShapeWhoseProductOverflows) {
    const std::string m = open_error(file_with(
        R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})",
        0));
    EXPECT_NE(m.find("shape is too large"), std::string::npos) << m;
}

TEST(SafetensorsHostile, OverlappingTensors) {
    const std::string m =
        open_error(file_with(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                             12));
    EXPECT_NE(m.find("overlap"), std::string::npos) << m;
}

TEST(SafetensorsHostile, NegativeShape) {
    const std::string m = open_error(
        file_with(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4));
    EXPECT_NE(m.find("negative or non-integer size"), std::string::npos) << m;
}
