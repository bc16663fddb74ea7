#!/usr/bin/env bash
# Benchmark (not a test): single-thread tokenizer throughput on the Brown corpus, ours beside
# gpt-3-encoder's JavaScript reference on the same detokenised text, in one run.
#   scripts/bench-tokenizer.sh [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}
cmake --build "$build" -j2 --target bench_tokenizer >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ours=$("$build/tests/bench_tokenizer" brown --dump-jsonl "$tmp/brown.jsonl")
node "$repo/tests/reference/encode_documents.js" "${CP_DATA_DIR:-$repo/data}/npm/gpt-3-encoder-1.1.4/package" \
    "$tmp/brown.jsonl" > /dev/null 2> "$tmp/ref.json"
python3 - "$ours" "$(cat "$tmp/ref.json")" <<'PY'
import json, sys
ours, ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ref_mbs = ref["bytes"] / 1e6 / ref["seconds"]
print(f"Brown corpus: {ours['documents']} documents, {ours['bytes']/1e6:.2f} MB, {ours['tokens']} tokens")
print(f"  ours, cold word cache : {ours['cold_mb_per_s']:7.2f} MB/s ({ours['cold_seconds']:.3f} s)")
print(f"  ours, warm word cache : {ours['warm_mb_per_s']:7.2f} MB/s ({ours['warm_seconds']:.3f} s)")
print(f"  reference (node)      : {ref_mbs:7.2f} MB/s ({ref['seconds']:.3f} s)")
print(f"  speed-up (cold)       : {ours['cold_mb_per_s'] / ref_mbs:7.1f}x")
PY
