#!/usr/bin/env bash
# Sets up (packages + data), builds, and runs the whole test suite. CI runs exactly this.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"
ctest --test-dir "$repo/build" --output-on-failure --timeout 1200
