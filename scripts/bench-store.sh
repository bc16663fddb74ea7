#!/usr/bin/env bash
# Benchmark (not a test): the run store at sweep scale, 200 runs x 100,000 metric points
# (a synthetic loss curve: this measures storage and export, not training). Prints the in-process
# timings as JSON, then times the CLI commands end to end, process start included.
#   scripts/bench-store.sh [DB=/tmp/cp-bench-store.db]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
db=${1:-/tmp/cp-bench-store.db}
cmake --build "$build" -j2 --target bench_store context-pythia >/dev/null
"$build/tests/bench_store" "$db" 200 100000 /tmp/cp-bench-series.csv
cli=$build/app/context-pythia
time_ms() {  # median of 5 runs of a command, in milliseconds
    local t=()
    for _ in 1 2 3 4 5; do
        local s e
        s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
        t+=($(( (e - s) / 1000000 )))
    done
    printf '%s\n' "${t[@]}" | sort -n | sed -n 3p
}
last=$("$cli" runs list --json --db "$db" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
echo "CLI, process start included (median of 5):"
echo "  runs list                   $(time_ms "$cli" runs list --db "$db") ms"
echo "  runs compare 1 $last          $(time_ms "$cli" runs compare 1 "$last" --db "$db") ms"
echo "  runs export-metrics $last     $(time_ms "$cli" runs export-metrics "$last" --csv /tmp/cp-bench-series.csv --db "$db") ms for 100,000 rows"
