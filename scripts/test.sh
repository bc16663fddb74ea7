#!/usr/bin/env bash
# Sets up (packages + data), builds, and runs the whole test suite, then the reliability stage:
# the torch-free core and its tests under ASan + UBSan and a short run of every fuzz target
# (scripts/test-sanitizers.sh), then the libtorch 2.x stage (scripts/test-libtorch2.sh). CI runs
# exactly this.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"
# Two at a time: the suites use their own temporary folders, and the timing-sensitive ones
# measure against themselves (the GUI's idle event loop, the kill test's own progress).
ctest --test-dir "$repo/build" --output-on-failure --timeout 1200 -j"${CP_JOBS:-2}"
"$repo/scripts/test-sanitizers.sh"
# libtorch 2.x (Debian 13's 2.6, Qt 6.8, GCC 14) in a debootstrapped root under build/ (#28).
"$repo/scripts/test-libtorch2.sh"
