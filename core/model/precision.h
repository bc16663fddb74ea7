// The arithmetic a run trains and evaluates in: fp32, or bf16 autocast (weights stay fp32).
#pragma once

#include <optional>
#include <string_view>

namespace cp::model {

enum class Precision { fp32, bf16 };

inline const char* precision_key(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

inline std::optional<Precision> precision_from_key(std::string_view key) {
    if (key == "fp32") return Precision::fp32;
    if (key == "bf16") return Precision::bf16;
    return std::nullopt;
}

}  // namespace cp::model
