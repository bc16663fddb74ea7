#!/usr/bin/env bash
# Measurement (not a test) behind the README's "Where the policies bind" (#25): a tiny comparison
# trained at 256 tokens per chunk, two seeds, the designs at a half and a quarter of Pythia's
# cache; then every evicting and low-rank policy on both Pythia runs at budgets of 0.5, 0.25 and
# 0.125 of the full cache's scored bytes (token by token, so eviction acts on the scored tokens),
# and int8/int4 at their own ratios. Writes the database and the CSVs the README quotes.
#   scripts/measure-policies-256.sh OUT_DIR [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: measure-policies-256.sh OUT_DIR [BUILD_DIR]}
build=${2:-$repo/build}
cli="$build/app/context-pythia"
mkdir -p "$out"
db="$out/seq256.db"
designs=pythia,pythia-input-cache,context-pythia,context-pythia-128,pythia-256,pythia-128,pythia-gqa,pythia-gqa-2,pythia-mla,pythia-mla-240

if [ ! -e "$db" ]; then
    echo "== training: $designs, 400 x 256, 2 epochs, batch 8, seeds 0 and 1"
    time "$cli" run --samples 400 --seq-length 256 --epochs 2 --batch-size 8 --models "$designs" \
        --seeds 2 --size tiny --eval-test-chunks 32 --eval-kv-lengths 256 --threads 2 --db "$db" --quiet
fi
# The two Pythia runs (one per seed).
runs=()
sql() { python3 -c 'import sqlite3, sys; [print(*r) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' "$db" "$1"; }
while read -r id; do runs+=(--run "$id"); done < <(
    sql "select id from runs where model = 'pythia' and phase = 'phase2' order by id")
echo "== cache policies on runs ${runs[*]} at budgets 0.5, 0.25, 0.125"
# (SnapKV compresses a prompt once, after reading it: fed token by token there is no prompt, so it
# reaches no budget below 1 and cache-eval refuses it by name. It is left out here.)
time "$cli" cache-eval --db "$db" "${runs[@]}" --policy full --policy streaming --policy h2o \
    --policy lowrank:rank=8,target=kv --budgets 0.5,0.25,0.125 --no-anatomy --threads 2 --quiet
echo "== int8 and int4 at their own ratios"
time "$cli" cache-eval --db "$db" "${runs[@]}" --policy int8 --policy int4 --no-anatomy \
    --threads 2 --quiet
experiment=$(sql "select min(id) from experiments")
"$cli" experiments compare "$experiment" --db "$db" --csv "$out/seq256-comparison.csv"
