// The safetensors reader on untrusted files: a file that opens has every tensor's bytes inside
// the file (each one is read end to end here, so AddressSanitizer sees any read past the data),
// and sizes that agree with dtype x shape.
#include "common/error.h"
#include "fuzz_support.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto dir = cp::fuzz::scratch();
    const auto path =
        cp::fuzz::write_file(dir / "m.safetensors", {reinterpret_cast<const char*>(data), size});
    try {
        const cp::model::SafetensorsFile file(path);
        unsigned sum = 0;
        for (const auto& [name, entry] : file.tensors()) {
            const std::size_t bytes =
                static_cast<std::size_t>(entry.numel()) * cp::model::dtype_bytes(entry.dtype);
            if (bytes > size) cp::fuzz::finding("a tensor larger than the file was accepted");
            const unsigned char* p = file.data(entry);
            for (std::size_t i = 0; i < bytes; ++i) sum += p[i];
        }
        (void)sum;
        (void)file.metadata();
    } catch (const cp::Error&) {
    }
    return 0;
}
