#!/usr/bin/env bash
# The reliability build: the torch-free core (tokenizer, corpora, safetensors, store, reports,
# parameters) and its tests under AddressSanitizer + UndefinedBehaviorSanitizer, built with clang,
# then each libFuzzer target briefly from its seeds. scripts/test.sh (CI) runs this after the
# main suite. Any sanitizer report or fuzz finding fails it.
#   scripts/test-sanitizers.sh [BUILD_DIR]          CP_FUZZ_SECONDS=N per target (default 8)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build-sanitize}
seconds=${CP_FUZZ_SECONDS:-8}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -DCP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-O1" > /dev/null
cmake --build "$build" -j"${CP_JOBS:-2}"
ctest --test-dir "$build" --output-on-failure --timeout 1200

echo "== fuzzing, ${seconds} s per target"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in "$build"/tests/fuzz/fuzz_*; do
    name=$(basename "$target")
    mkdir -p "$work/$name"
    # Seeds are read, never written: new inputs go to the scratch corpus.
    "$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        "$work/$name" "$repo/tests/fuzz/seeds/$name" > "$work/$name.log" 2>&1 || {
        tail -40 "$work/$name.log"
        echo "FUZZ FINDING in $name (the crashing input is in $(pwd))"
        exit 1
    }
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$work/$name.log" | tail -1)
    echo "  $name: $runs executions, $cov, no findings"
done
