#!/usr/bin/env bash
# Measurement (not a test) behind the README's design findings under #26's evaluation: every
# design and the untrained-ContextBlock ablation (`--models all`) trained on the same 2000 x 32
# Brown chunks with seeds 0, 1 and 2, then the comparison with paired differences to Pythia and to
# projection-256 (seed t-intervals and intervals over resampled held-out documents), and the
# Context-Pythia effects (the recurrence, Phase 1). Writes the database and the CSVs the README
# quotes.
#   scripts/measure-designs-tiny.sh OUT_DIR [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: measure-designs-tiny.sh OUT_DIR [BUILD_DIR]}
build=${2:-$repo/build}
cli="$build/app/context-pythia"
mkdir -p "$out"
db="$out/designs-tiny.db"

if [ ! -e "$db" ]; then
    echo "== training: every design and the ablation, 2000 x 32, 2 epochs, seeds 0, 1, 2"
    time "$cli" run --samples 2000 --seq-length 32 --epochs 2 --models all --seeds 3 --size tiny \
        --threads 1 --db "$db" --quiet
fi
sql() { python3 -c 'import sqlite3, sys; [print(*r) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' "$db" "$1"; }
experiment=$(sql "select min(id) from experiments")
"$cli" experiments compare "$experiment" --db "$db" --csv "$out/designs-tiny.csv"
"$cli" experiments compare "$experiment" --db "$db" --reference projection-256 \
    --csv "$out/designs-tiny-vs-projection-256.csv"
