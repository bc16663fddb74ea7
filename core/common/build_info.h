// What this build is and what it runs on, for the reproducibility stamp of every experiment and
// the About box: the workbench's version and commit, the versions of the libraries in the
// process (each front end adds the ones it links: libtorch, Qt, QCustomPlot, SQLite), and the
// machine's CPU.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cp {

const char* workbench_version();  // "0.1.0"
const char* workbench_commit();   // "a48147e1c2d3", or "unknown" outside a git checkout

// A library's name and version, registered once by whoever links it ("SQLite", "3.40.1").
void register_library(const std::string& name, const std::string& version);
std::vector<std::pair<std::string, std::string>> library_versions();

// The CPU's model name from /proc/cpuinfo ("CPU" when it says none), and the first NVIDIA GPU's
// from the driver's /proc entries ("" without one): no vendor headers needed.
std::string cpu_model();
std::string gpu_model();
// What a run ran on, for the stamp: "CPU: AMD EPYC 7B13 (2 cores)", "CUDA: NVIDIA H200".
std::string device_description(const std::string& device_type);

}  // namespace cp
