#!/usr/bin/env bash
# Benchmark (not a test): on this machine's CPU,
#  1. a complete tiny comparison (Phase 1, Phase 2 of both models, evaluation), timed;
#  2. seconds per training step of the 70M presets at the reference batch (32 x 128 tokens).
# Results go to a scratch database; the summary is printed as it is measured.
#   scripts/bench-cpu-training.sh [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}
cli="$build/app/context-pythia"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== tiny comparison: --size tiny --models context-pythia,pythia --samples 2000 --seq-length 32 --epochs 3 --lr 1e-2"
start=$(date +%s)
"$cli" run --size tiny --models context-pythia,pythia --samples 2000 --seq-length 32 --epochs 3 --lr 1e-2 --db "$tmp/bench.db" \
    --checkpoint-dir "$tmp/runs" --quiet --json > "$tmp/tiny.json"
end=$(date +%s)
python3 - "$tmp/tiny.json" "$((end - start))" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"wall time {int(sys.argv[2])} s (status {s['status']}, Phase 1: {s['phase1']['iterations']} iterations, "
      f"convergence {s['phase1']['convergence_rate']:.3f}, effective rank {s['phase1']['effective_rank']:.1f} of 32)")
for name, m in s["models"].items():
    kv = {k["tokens"]: k["kv_bytes_per_token"] for k in m["kv_cache"]}
    print(f"  {name:15s} best val ppl {m['best_val_ppl']:8.1f} (epoch {m['best_epoch']}), test ppl {m['test_ppl']:8.1f}, "
          f"acc {m['test_accuracy']:.3f}, last-word acc {m['last_word_accuracy']:.3f}, "
          f"train {m['train_tokens_per_second']:.0f} tok/s, {m['seconds_per_epoch']:.1f} s/epoch, "
          f"generate {m['generation_tokens_per_second']:.0f} tok/s, KV B/token {kv}")
PY

echo "== 70M presets, 2 steps of 32 x 128 tokens each: --size 70m --samples 70 --seq-length 128 --epochs 1"
"$cli" run --size 70m --models context-pythia,pythia --samples 70 --seq-length 128 --epochs 1 --skip-evaluation --p1-max-iterations 5 \
    --db "$tmp/bench.db" --checkpoint-dir "$tmp/runs" --quiet --json > "$tmp/70m.json"
python3 - "$tmp/70m.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for name, m in s["models"].items():
    steps = 2  # 63 training chunks at batch 32
    print(f"  {name:15s} {m['seconds_per_epoch'] / steps:6.1f} s per training step, {m['train_tokens_per_second']:.0f} tokens/s")
PY
