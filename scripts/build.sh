#!/usr/bin/env bash
# Configures and builds the workbench into build/ (Release, -j2: the machines here have 2 cores).
#   scripts/build.sh [extra cmake -D options]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$repo/build" -j"${CP_JOBS:-2}"
