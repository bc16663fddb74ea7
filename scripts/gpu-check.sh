#!/usr/bin/env bash
# The GPU checks (#28 item 5), one prepared script for a lent GPU machine (PyTorch 2.x wheel with
# CUDA, no Qt, no apt; carry gpu-debs/ from `scripts/build-cuda.sh --fetch-debs` and data/ from
# scripts/setup.sh): builds with scripts/build-cuda.sh, runs the tests named *_CUDA (bf16 against
# fp32 training, SDPA against the explicit attention, KV bytes from the caching allocator against
# the tensors; each skips itself without a device) and the benches of every design in fp32 and
# bf16. About 8 minutes on an H100 (the build is most of it). Writes into OUT_DIR (default
# $OUT when the device tool sets it, else build-cuda/gpu-check).
#   scripts/gpu-check.sh [OUT_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-${OUT:-$repo/build-cuda/gpu-check}}
mkdir -p "$out"
export CP_DATA_DIR=${CP_DATA_DIR:-$repo/data}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"; } > "$out/device.txt"
start=$(date +%s)
"$repo/scripts/build-cuda.sh" "$repo/build-cuda" > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
echo "built in $(( $(date +%s) - start )) s" | tee -a "$out/device.txt"
status=0
for suite in test_models test_training; do
    "$repo/build-cuda/tests/$suite" --gtest_filter='*_CUDA' > "$out/$suite-cuda.txt" 2>&1 || status=1
    grep -E '^\[ *(OK|FAILED|SKIPPED) *\]' "$out/$suite-cuda.txt" || true
done
cli="$repo/build-cuda/app/context-pythia"
for dtype in fp32 bf16; do
    "$cli" bench --device cuda --dtype "$dtype" --size 70m --models all --batch 32 --seq-length 128 \
        --steps 10 --warmup 3 > "$out/bench-70m-$dtype-all.json" || status=1
done
echo "gpu-check: $( [ $status = 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s; results in $out"
exit $status
