#!/usr/bin/env bash
# #28 item 3: configure checks the libtorch given by CMAKE_PREFIX_PATH (cmake/TorchCompat.cmake).
# Stand-in libtorch packages (a TorchConfig.cmake that sets what a real one sets: the version and
# TORCH_CXX_FLAGS) show that a pre-C++11-ABI libtorch is refused with the GUI or the tests on,
# naming the ABI and the fix, and accepted for the CLI alone; that a libtorch older than 1.13 is
# refused naming its version; that one of this system's ABI configures; and that a CUDA libtorch
# whose kernels the GPU cannot run is refused naming both architectures (the archs and the GPU's
# compute capability given by hand: no CUDA toolkit nor GPU here). Nothing is built.
#   tests/app/torch_configure_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: torch_configure_test.sh SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

fake_torch() {  # DIR VERSION ABI
    mkdir -p "$1/share/cmake/Torch"
    cat > "$1/share/cmake/Torch/TorchConfig.cmake" <<CFG
set(TORCH_FOUND TRUE)
set(TORCH_INSTALL_PREFIX "$1")
set(TORCH_INCLUDE_DIRS "")
set(TORCH_LIBRARIES "")
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=$3")
CFG
    cat > "$1/share/cmake/Torch/TorchConfigVersion.cmake" <<CFG
set(PACKAGE_VERSION "$2")
set(PACKAGE_VERSION_COMPATIBLE TRUE)
CFG
}
configure() {  # TORCH_DIR BUILD_NAME extra cmake options...
    local torch=$1 build=$2
    shift 2
    cmake -S "$src" -B "$work/$build" -DCMAKE_PREFIX_PATH="$torch" -DCMAKE_BUILD_TYPE=Release "$@" \
        > "$work/$build.raw" 2>&1 && local status=0 || local status=$?
    tr '\n' ' ' < "$work/$build.raw" | tr -s ' ' > "$work/$build.log"   # CMake wraps its messages
    return $status
}

fake_torch "$work/old-abi" 2.5.1 0
if configure "$work/old-abi" gui -DCP_BUILD_TESTS=OFF; then fail "a pre-C++11-ABI libtorch configured with the GUI on"; fi
grep -q "is built with _GLIBCXX_USE_CXX11_ABI=0" "$work/gui.log" || fail "no ABI named: $(cat "$work/gui.log")"
grep -q "Qt 6 (the workbench)" "$work/gui.log" || fail "Qt not named: $(cat "$work/gui.log")"
grep -q "cxx11-abi" "$work/gui.log" || fail "no fix named: $(cat "$work/gui.log")"
echo "ok: a pre-C++11-ABI libtorch is refused with the GUI on, naming the ABI, Qt and the fix"

configure "$work/old-abi" cli -DCP_BUILD_GUI=OFF -DCP_BUILD_TESTS=OFF ||
    fail "the CLI alone did not configure against a pre-C++11-ABI libtorch: $(cat "$work/cli.log")"
grep -q "with the GUI and the tests off the CLI links only C libraries" "$work/cli.log" ||
    fail "no warning for the CLI alone: $(cat "$work/cli.log")"
echo "ok: the CLI alone configures against it, with a warning"

fake_torch "$work/old-version" 1.12.1 1
if configure "$work/old-version" version -DCP_BUILD_GUI=OFF -DCP_BUILD_TESTS=OFF; then fail "libtorch 1.12 configured"; fi
grep -q "libtorch 1.12.1 .* is older than 1.13" "$work/version.log" || fail "no version named: $(cat "$work/version.log")"
echo "ok: libtorch 1.12 is refused naming its version"

fake_torch "$work/this-abi" 2.6.0 1
configure "$work/this-abi" same -DCP_BUILD_TESTS=OFF ||
    fail "a libtorch of this system's ABI did not configure: $(cat "$work/same.log")"
echo "ok: a libtorch 2.6 of this system's ABI configures with the GUI on"

# A CUDA libtorch (it has lib/libtorch_cuda.so). Expected by hand from NVIDIA's compatibility rules:
# a cubin runs on GPUs of its major architecture at its minor or later; PTX on any later GPU.
fake_torch "$work/cuda" 2.6.0 1
mkdir -p "$work/cuda/lib" && : > "$work/cuda/lib/libtorch_cuda.so"
cuda() {  # NAME ARCHS CAPABILITY
    configure "$work/cuda" "$1" -DCP_BUILD_GUI=OFF -DCP_BUILD_TESTS=OFF \
        "-DCP_TORCH_CUDA_ARCHS=$2" "-DCP_GPU_COMPUTE_CAPABILITY=$3"
}
if cuda hopper "sm_50;sm_60;sm_70;sm_75;sm_80;sm_86" 9.0; then
    fail "a libtorch without sm_90 configured for an H100"
fi
grep -q "holds CUDA kernels for sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 only" "$work/hopper.log" ||
    fail "the library's architectures not named: $(cat "$work/hopper.log")"
grep -q "is sm_90 (compute capability 9.0)" "$work/hopper.log" || fail "the GPU not named: $(cat "$work/hopper.log")"
grep -q "TORCH_CUDA_ARCH_LIST" "$work/hopper.log" || fail "no fix named: $(cat "$work/hopper.log")"
echo "ok: a CUDA libtorch without kernels for the GPU is refused, naming both"
cuda ada "sm_50;sm_80;sm_86" 8.9 || fail "sm_86 cubins refused on an 8.9 GPU: $(cat "$work/ada.log")"
if cuda ampere "sm_86;sm_90" 8.0; then fail "sm_86 cubins accepted on an 8.0 GPU"; fi
cuda ptx "sm_80;compute_80" 9.0 || fail "compute_80 PTX refused on a 9.0 GPU: $(cat "$work/ptx.log")"
if cuda arch-specific "sm_90a" 10.0; then fail "sm_90a accepted on a 10.0 GPU"; fi
configure "$work/cuda" skipped -DCP_BUILD_GUI=OFF -DCP_BUILD_TESTS=OFF -DCP_TORCH_CUDA_ARCHS=sm_50 \
    -DCP_GPU_COMPUTE_CAPABILITY=9.0 -DCP_SKIP_CUDA_ARCH_CHECK=ON ||
    fail "CP_SKIP_CUDA_ARCH_CHECK did not skip: $(cat "$work/skipped.log")"
echo "ok: same-major cubins and earlier PTX are accepted, a later minor's or an 'a' cubin is not; the check can be skipped"
