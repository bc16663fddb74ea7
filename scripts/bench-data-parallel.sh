#!/usr/bin/env bash
# Benchmark (not a test): Phase 2 training speed of data-parallel ranks on this machine's CPU
# cores against one process, Pythia alone (no Phase 1), the same global batch and steps:
#   1 process x 1 torch thread, 1 process x 2 threads, 2 ranks (c10d/Gloo on loopback) x 1 thread.
# The ranks are started here with torchrun's variables (torchrun itself needs pip).
#   scripts/bench-data-parallel.sh [BUILD_DIR] [--size tiny|70m]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
size=tiny
while [[ $# -gt 0 ]]; do
    case $1 in
        --size) size=$2; shift 2 ;;
        *) build=$1; shift ;;
    esac
done
cli="$build/app/context-pythia"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ $size == tiny ]]; then
    shape=(--samples 4000 --seq-length 32 --epochs 1 --batch-size 16)
else
    shape=(--samples 130 --seq-length 128 --epochs 1 --batch-size 8)
fi
common=(run --size "$size" --models pythia "${shape[@]}" --skip-evaluation --quiet --json)
echo "== Pythia $size, ${shape[*]}: Phase 2 training tokens/s"

summary() {  # summary JSON -> tokens/s
    python3 - "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["models"]["pythia"]
print(f"{m['train_tokens_per_second']:.0f} tok/s, {m['seconds_per_epoch']:.1f} s/epoch, best val ppl {m['best_val_ppl']:.2f}")
PY
}

for threads in 1 2; do
    "$cli" "${common[@]}" --threads "$threads" --db "$tmp/one$threads.db" \
        --checkpoint-dir "$tmp/ckpt-one$threads" > "$tmp/one$threads.json"
    echo "  1 process x $threads thread(s): $(summary "$tmp/one$threads.json")"
done

port=$((30000 + $$ % 20000))
pids=()
for rank in 0 1; do
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2 RANK=$rank LOCAL_RANK=$rank \
        "$cli" "${common[@]}" --threads 1 --db "$tmp/dp.db" --checkpoint-dir "$tmp/ckpt-dp" \
        > "$tmp/rank$rank.json" 2> "$tmp/rank$rank.log" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "  2 ranks x 1 thread (Gloo, loopback): $(summary "$tmp/rank0.json")"
