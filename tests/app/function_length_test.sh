#!/usr/bin/env bash
# #29 item 4: the function-length gate (scripts/check-function-length.py) holds on this tree, and it
# sees what it must: in a scratch tree, a 61-line core function whose signature wraps over three
# lines is caught (counted from its first line to its closing brace: 61 by construction), an
# 80-line widget function passes, a listed function that grew fails, and an allowance larger than
# its function must be lowered.
#   tests/app/function_length_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: function_length_test.sh SOURCE_DIR}
gate="$src/scripts/check-function-length.py"
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 "$gate" --root "$src" || fail "the tree breaks its own length gate"
echo "ok: the tree holds the gate"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/core/x" "$work/widgets" "$work/app" "$work/scripts"
body() {  # NAME LINES: a function of exactly LINES lines, its signature wrapped over three
    echo "int $1(int a,"
    echo "       int b,"
    echo "       int c) {"
    for ((i = 0; i < $2 - 5; ++i)); do echo "    a += b * c + $i;"; done
    echo "    return a;"
    echo "}"
}
body long_core 61 > "$work/core/x/a.cpp"
body fine_widget 80 > "$work/widgets/b.cpp"
: > "$work/scripts/function-length-allowances.txt"
out=$(python3 "$gate" --root "$work") && fail "a 61-line core function passed: $out"
grep -q "core/x/a.cpp:1 long_core is 61 lines, over the limit of 60" <<< "$out" || fail "not named: $out"
grep -q "fine_widget" <<< "$out" && fail "an 80-line widget function was flagged: $out"
echo "ok: a wrapped 61-line core function is caught, an 80-line widget function is not"

echo "core/x/a.cpp long_core 60" > "$work/scripts/function-length-allowances.txt"
out=$(python3 "$gate" --root "$work") && fail "a function over its allowance passed: $out"
grep -q "grew to 61 lines (allowed 60" <<< "$out" || fail "growth not named: $out"
echo "core/x/a.cpp long_core 70" > "$work/scripts/function-length-allowances.txt"
out=$(python3 "$gate" --root "$work") && fail "a slack allowance passed: $out"
grep -q "lower its allowance" <<< "$out" || fail "slack not named: $out"
echo "core/x/a.cpp long_core 61" > "$work/scripts/function-length-allowances.txt"
python3 "$gate" --root "$work" > /dev/null || fail "an exact allowance failed"
echo "ok: allowances only shrink"
