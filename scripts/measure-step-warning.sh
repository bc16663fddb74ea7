#!/usr/bin/env bash
# Measurement (not a test) behind the "too few steps" warning (experiment/plan.h kFewestStepsToLearn),
# derived on validation only (#26): Pythia and Context-Pythia at the tiny presets' learning rate,
# 64-token chunks, 2 epochs, seed 0, over sample counts that give 14 to 85 Phase 2 optimizer
# steps. A cell learned when each design's best validation perplexity is below the unigram
# baseline's validation perplexity (the smoothing chosen on the same validation chunks); no test
# number is read. Writes the sweep's database and a CSV of the cells.
#   scripts/measure-step-warning.sh OUT_DIR [BUILD_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: measure-step-warning.sh OUT_DIR [BUILD_DIR]}
build=${2:-$repo/build}
cli="$build/app/context-pythia"
mkdir -p "$out"
db="$out/step-warning.db"

echo "== sweep: samples 500, 1000, 1500, 2000, 3000 x 64 tokens, 2 epochs, pythia and context-pythia"
time "$cli" sweep --local --grid samples=500,1000,1500,2000,3000 --models context-pythia,pythia \
    --seq-length 64 --epochs 2 --size tiny --threads 1 --db "$db" --quiet
python3 - "$db" "$out/step-warning.csv" <<'PY'
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""
  select e.id, r.id, r.model,
         json_extract(e.params_json, '$.samples'),
         (select value from results where run_id = r.id and name = 'epochs_run'),
         (select max(step) from metrics where run_id = r.id and name = 'train_loss'),
         (select value from results where run_id = r.id and name = 'best_val_ppl'),
         (select value from results where run_id = r.id and name = 'unigram_val_ppl'),
         (select value from results where run_id = r.id and name = 'bigram_val_ppl')
  from runs r join experiments e on e.id = r.experiment_id
  where r.phase = 'phase2' order by 4, r.model""").fetchall()
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["experiment", "run", "design", "samples", "epochs_run", "last_step",
                "best_val_ppl", "unigram_val_ppl", "bigram_val_ppl", "below_unigram_on_val"])
    for r in rows:
        w.writerow(list(r) + [int(r[6] is not None and r[7] is not None and r[6] < r[7])])
        print(*r)
PY
