#include "model/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "common/error.h"

// libtorch 2.4 replaced the per-backend autocast switches (set_enabled, set_cpu_enabled, ...) by
// ones that take the device type; 1.13 (Debian, CI) has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CP_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace cp::model {
namespace {

bool enabled(c10::DeviceType type) {
#ifdef CP_AUTOCAST_BY_DEVICE_TYPE
    return at::autocast::is_autocast_enabled(type);
#else
    return type == c10::DeviceType::CUDA ? at::autocast::is_enabled()
                                         : at::autocast::is_cpu_enabled();
#endif
}

c10::ScalarType dtype(c10::DeviceType type) {
#ifdef CP_AUTOCAST_BY_DEVICE_TYPE
    return at::autocast::get_autocast_dtype(type);
#else
    return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                         : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set(c10::DeviceType type, bool on, c10::ScalarType scalar) {
#ifdef CP_AUTOCAST_BY_DEVICE_TYPE
    at::autocast::set_autocast_dtype(type, scalar);
    at::autocast::set_autocast_enabled(type, on);
#else
    if (type == c10::DeviceType::CUDA) {
        at::autocast::set_autocast_gpu_dtype(scalar);
        at::autocast::set_enabled(on);
    } else {
        at::autocast::set_autocast_cpu_dtype(scalar);
        at::autocast::set_cpu_enabled(on);
    }
#endif
}

}  // namespace

AutocastScope::AutocastScope(c10::Device device, Precision precision)
    : device_type_(device.type()) {
    if (precision == Precision::fp32) return;
    if (device_type_ != c10::DeviceType::CUDA && device_type_ != c10::DeviceType::CPU)
        throw Error("bf16 autocast is supported on CPU and CUDA only");
    previous_enabled_ = enabled(device_type_);
    previous_dtype_ = dtype(device_type_);
    set(device_type_, true, c10::ScalarType::BFloat16);
    active_ = true;
}

AutocastScope::~AutocastScope() {
    if (!active_) return;
    set(device_type_, previous_enabled_, previous_dtype_);
    // Autocast caches the bf16 copies of weights while enabled; they are stale once it is off.
    if (!previous_enabled_) at::autocast::clear_cache();
}

}  // namespace cp::model
