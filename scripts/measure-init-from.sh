#!/usr/bin/env bash
# Measurement (not a test): the README's pretrained-checkpoint recipe timed on this machine, with a
# tiny stand-in for EleutherAI's pythia-70m (which cannot be fetched here): a tiny Pythia trained
# on 8000 x 32 tokens, 3 epochs, seed 100, is "the checkpoint". Then, as a researcher would with
# the real one: evaluate it under cache policies, convert it into three designs, and uptrain five
# designs from it on 2000 x 32 tokens, 1 epoch, seeds 0-2, at the tiny preset's learning rate and
# at a tenth of it (the comparison's first column is the checkpoint as it is, no training; Pythia
# fine-tuned from it is the control). Each step's wall time goes to OUT/times.csv; the comparisons
# to OUT/init-from-tiny.csv and OUT/init-from-tiny-lr3e-4.csv.
#   scripts/measure-init-from.sh OUT_DIR [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: measure-init-from.sh OUT_DIR [BUILD_DIR]}
build=${2:-$repo/build}
cli="$build/app/context-pythia"
mkdir -p "$out/converted"
echo "step,seconds,command" > "$out/times.csv"
timed() {  # NAME COMMAND...
    local name=$1 start end
    shift
    echo "== $name: $*"
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    printf '%s,%.1f,"%s"\n' "$name" "$(echo "$end - $start" | bc)" "$*" >> "$out/times.csv"
}

timed pretrain-stand-in "$cli" run --models pythia --size tiny --samples 8000 --seq-length 32 \
    --epochs 3 --seed 100 --threads 2 --db "$out/pretrained.db" --quiet
checkpoint=$("$cli" runs show 1 --json --db "$out/pretrained.db" |
             python3 -c 'import json, sys; print(json.load(sys.stdin)["checkpoint_path"])')
echo "the stand-in checkpoint: $checkpoint"

timed cache-eval "$cli" cache-eval --checkpoint "$checkpoint" --seq-length 32 --policy full \
    --policy int8 --policy int4 --threads 2 --db "$out/cache-eval.db" --quiet
for design in pythia-gqa pythia-mla context-kv; do
    timed "convert-$design" "$cli" convert --from "$checkpoint" --design "$design" \
        --out "$out/converted/$design.safetensors"
done
timed uptrain "$cli" run --init-from "$checkpoint" \
    --models pythia,context-pythia,pythia-gqa,pythia-mla,context-kv --size tiny --samples 2000 \
    --seq-length 32 --epochs 1 --seeds 3 --threads 2 --db "$out/uptrain.db" --quiet
"$cli" experiments compare 1 --db "$out/uptrain.db" --csv "$out/init-from-tiny.csv"
# The same at a tenth of the from-scratch learning rate (tiny: 3e-3): fine-tuning's usual choice.
timed uptrain-lr-3e-4 "$cli" run --init-from "$checkpoint" \
    --models pythia,context-pythia,pythia-gqa,pythia-mla,context-kv --size tiny --samples 2000 \
    --seq-length 32 --epochs 1 --seeds 3 --lr 3e-4 --threads 2 --db "$out/uptrain-lr3e-4.db" --quiet
"$cli" experiments compare 1 --db "$out/uptrain-lr3e-4.db" --csv "$out/init-from-tiny-lr3e-4.csv"
cat "$out/times.csv"
