#include "common/build_info.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <mutex>
#include <thread>

#include "common/build_info_values.h"

namespace cp {
namespace {

std::mutex& libraries_mutex() {
    static std::mutex m;
    return m;
}

std::vector<std::pair<std::string, std::string>>& libraries() {
    static std::vector<std::pair<std::string, std::string>> l;
    return l;
}

}  // namespace

const char* workbench_version() {
    return CP_WORKBENCH_VERSION;
}

const char* workbench_commit() {
    return CP_WORKBENCH_COMMIT;
}

void register_library(const std::string& name, const std::string& version) {
    const std::lock_guard<std::mutex> lock(libraries_mutex());
    for (auto& [n, v] : libraries())
        if (n == name) {
            v = version;
            return;
        }
    libraries().emplace_back(name, version);
}

std::vector<std::pair<std::string, std::string>> library_versions() {
    const std::lock_guard<std::mutex> lock(libraries_mutex());
    return libraries();
}

namespace {
std::string first_match(const std::filesystem::path& file, const std::regex& pattern) {
    std::ifstream in(file);
    std::string line;
    std::smatch m;
    while (std::getline(in, line))
        if (std::regex_search(line, m, pattern)) return m[1].str();
    return "";
}
}  // namespace

std::string cpu_model() {
    const std::string name = first_match("/proc/cpuinfo", std::regex(R"(^model name\s*:\s*(.*)$)"));
    return name.empty() ? "CPU" : name;
}

std::string gpu_model() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
        const std::string name =
            first_match(entry.path() / "information", std::regex(R"(^Model:\s*(.*)$)"));
        if (!name.empty()) return name;
    }
    return "";
}

std::string device_description(const std::string& device_type) {
    if (device_type == "cuda") {
        const std::string gpu = gpu_model();
        return "CUDA: " + (gpu.empty() ? std::string("NVIDIA GPU") : gpu);
    }
    return "CPU: " + cpu_model() + " (" + std::to_string(std::thread::hardware_concurrency()) +
           " cores)";
}

}  // namespace cp
