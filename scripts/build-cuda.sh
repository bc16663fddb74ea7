#!/usr/bin/env bash
# Builds the CLI and its tests (no GUI, no Qt) against the libtorch with CUDA inside a PyTorch
# wheel, on a machine without apt: the other libraries come as Debian .deb files unpacked into a
# private prefix (never into /).
#
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
prefix="$build/deps"
mkdir -p "$prefix"
for f in "$debs"/*.deb; do dpkg -x "$f" "$prefix"; done
export PATH="$prefix/usr/bin:$PATH"
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The .pc files say prefix=/usr; the sysroot variable moves their -I and -L into the prefix.
export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCP_BUILD_GUI=OFF -DCP_BUILD_TESTS=ON \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr" \
    -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf"
cmake --build "$build" -j"$(nproc)"
echo "built: $build/app/context-pythia bench --device cuda --dtype bf16 --size 70m"
