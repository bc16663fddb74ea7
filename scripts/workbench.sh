#!/usr/bin/env bash
# Sets up (packages + data), builds, and starts the workbench. Until the GUI lands this runs the
# headless demo: prepare the real corpora's token caches, then a small tiny-preset comparison
# (both models, a few minutes on two cores) into the workbench's database.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"
cli="$repo/build/app/context-pythia"
"$cli" data prepare
echo
"$cli" run --samples 600 --seq-length 32 --epochs 2 --lr 3e-3 --size tiny --eval-kv-lengths 128,512
