// Mixed precision for a stretch of code: bf16 autocast on the device the model lives on, in this
// thread only, restored on scope exit. Weights, gradients and optimizer state stay float32.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

#include "model/precision.h"

namespace cp::model {

class AutocastScope {
  public:
    // fp32: nothing changes; bf16: autocast on the device's type.
    AutocastScope(c10::Device device, Precision precision);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

    bool active() const { return active_; }

  private:
    c10::DeviceType device_type_;
    bool active_ = false, previous_enabled_ = false;
    c10::ScalarType previous_dtype_ = c10::ScalarType::BFloat16;
};

}  // namespace cp::model
