#!/usr/bin/env python3
"""Lists the C++ function bodies longer than a limit (default 60 lines), longest first: the check
of issue #13 that no function in core/train is longer than about 60 lines. A brace-matching scan
from each line that opens a definition at namespace or class level, enough for this code base's
clang-format style.

    scripts/check-function-length.py core/train/*.cpp [--limit 60]

Exits 1 when any function is over the limit.
"""
import argparse
import re
import sys


def lengths(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        opens = re.match(r"^(\s{0,4})[A-Za-z].*\)\s*(const)?\s*(override)?\s*\{\s*$", line)
        if opens and not re.match(r"^\s*(if|for|while|switch|else|catch|namespace|struct|class)\b",
                                  line):
            depth, j = 0, i
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                if depth == 0:
                    break
                j += 1
            yield j - i + 1, "%s:%d %s" % (path, i + 1, line.strip()[:80])
            i = j
        i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--limit", type=int, default=60)
    a = ap.parse_args()
    found = sorted((n, where) for f in a.files for n, where in lengths(f))
    longest = found[-1] if found else (0, "(no functions)")
    over = [(n, w) for n, w in found if n > a.limit]
    for n, where in reversed(over):
        print("%4d %s" % (n, where))
    print("longest: %d lines (%s); limit %d" % (longest[0], longest[1], a.limit))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
