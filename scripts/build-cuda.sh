#!/usr/bin/env bash
# Builds the project against a libtorch with CUDA: the one inside a PyTorch wheel, or the libtorch
# archive named by CP_TORCH_PREFIX. With Qt 6 and QCustomPlot installed (a workstation after
# scripts/setup.sh) it builds the workbench too, so the GUI trains on the GPU; without them (a
# GPU server with no apt) the CLI and its tests, the other libraries then coming as Debian .deb
# files unpacked into a private prefix (never into /). Configure checks the libtorch's version
# and C++ ABI against Qt's (cmake/TorchCompat.cmake).
#
#   a workstation:             scripts/setup.sh && CP_TORCH_PREFIX=~/libtorch scripts/build-cuda.sh
#   here (Debian, with apt):   scripts/build-cuda.sh --fetch-debs      -> gpu-debs/*.deb
#   there (GPU, PyTorch 2.x):  scripts/build-cuda.sh [BUILD_DIR]       -> build-cuda/
#
# NOT YET RUN ON A GPU MACHINE: no GPU was lent to the issue that wrote it (docs/GPU.md).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debs="$repo/gpu-debs"
# Headers and libraries the core needs besides libtorch, and pkg-config to find them.
packages=(libpcre2-dev libpcre2-8-0 libzstd-dev libzstd1 nlohmann-json3-dev libsqlite3-dev
          libsqlite3-0 libjemalloc-dev libjemalloc2 libgtest-dev pkgconf pkgconf-bin libpkgconf3
          libgloo-dev)   # the Gloo headers c10d's process group includes (data-parallel runs)

if [[ ${1:-} == --fetch-debs ]]; then
    mkdir -p "$debs"
    (cd "$debs" && apt-get download "${packages[@]}")
    echo "fetched into $debs; carry gpu-debs (and data/) to the GPU machine"
    exit 0
fi

build=${1:-$repo/build-cuda}
if [ -n "${CP_TORCH_PREFIX:-}" ]; then
    torch_prefix=$CP_TORCH_PREFIX
else
    torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || {
        echo "build-cuda.sh: no libtorch: set CP_TORCH_PREFIX to an unpacked libtorch archive" \
             "(cxx11 ABI, CUDA) or install a PyTorch wheel with CUDA" >&2
        exit 1
    }
fi
options=(-DCMAKE_BUILD_TYPE=Release -DCP_BUILD_TESTS=ON -DCMAKE_CUDA_ARCHITECTURES="${CP_CUDA_ARCH:-90}")
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if dpkg-query -W -f='${Status}' qt6-base-dev libqcustomplot-dev 2>/dev/null | grep -q "install ok installed"; then
    # A workstation: the system's libraries, the workbench included.
    gui=ON
    options+=(-DCP_BUILD_GUI=ON -DCMAKE_PREFIX_PATH="$torch_prefix")
else
    gui=OFF
    prefix="$build/deps"
    mkdir -p "$prefix"
    for f in "$debs"/*.deb; do dpkg -x "$f" "$prefix"; done
    export PATH="$prefix/usr/bin:$PATH"
    export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # The .pc files say prefix=/usr; the sysroot variable moves their -I and -L into the prefix.
    export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR="$prefix"
    options+=(-DCP_BUILD_GUI=OFF -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr"
              -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf")
fi
cmake -S "$repo" -B "$build" "${generator[@]}" "${options[@]}"
cmake --build "$build" -j"$(nproc)"
echo "built (GUI $gui): $build/app/context-pythia bench --device cuda --dtype bf16 --size 70m"
[ "$gui" = OFF ] || echo "  and the workbench: $build/app/context-pythia-workbench"
