// Experiment parameters from untrusted JSON (a stored experiment, a GUI's settings): parsing
// either gives parameters or a cp::Error, validation never crashes, and what parses survives a
// round trip through to_json unchanged.
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "fuzz_support.h"
#include "experiment/experiment_params.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const nlohmann::json j =
        nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return 0;
    try {
        const cp::train::ExperimentParams p = cp::train::ExperimentParams::from_json(j);
        (void)p.problems();
        const nlohmann::json once = p.to_json();
        if (cp::train::ExperimentParams::from_json(once).to_json() != once)
            cp::fuzz::finding("parameters changed in a to_json/from_json round trip");
    } catch (const cp::Error&) {
    }
    return 0;
}
