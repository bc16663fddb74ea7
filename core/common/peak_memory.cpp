#include "common/peak_memory.h"

#include <fstream>
#include <string>

namespace cp {

bool reset_peak_resident() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";  // 5: reset the peak resident set size (Linux 4.0 and later)
    clear.flush();
    return static_cast<bool>(clear);
}

std::int64_t peak_resident_bytes() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmHWM:") {
            std::int64_t kib = -1;
            status >> kib;
            return kib < 0 ? -1 : kib * 1024;
        }
        std::getline(status, key);
    }
    return -1;
}

}  // namespace cp
