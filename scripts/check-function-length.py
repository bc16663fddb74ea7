#!/usr/bin/env python3
"""The function-length gate (#29): every function body in core/ at most 60 lines, in app/ and
widgets/ at most 80, measured by Universal Ctags (its `end:` field: wrapped signatures, macros and
lambdas counted as anyone running ctags would count them; a lambda counts inside its function).

A function still over its limit is named in scripts/function-length-allowances.txt with the length
it may not exceed; the file may only shrink: a listed function that grew fails, and one now within
its limit (or gone) must be taken off the list. Run from the repository root:

    scripts/check-function-length.py              # the gate: exit 1 on any excess or stale line
    scripts/check-function-length.py --list       # every function over its limit, longest first

Needs `ctags` (Debian's universal-ctags, installed by scripts/setup.sh).
"""
import argparse
import os
import subprocess
import sys

LIMITS = (("core/", 60), ("app/", 80), ("widgets/", 80))
ALLOWANCES = "scripts/function-length-allowances.txt"


def limit_of(path):
    for prefix, limit in LIMITS:
        if path.startswith(prefix):
            return limit
    return None


def functions(root):
    """(path, name, first line, length) of every function definition ctags finds."""
    files = []
    for folder, _ in LIMITS:
        for base, _, names in os.walk(os.path.join(root, folder)):
            files += [os.path.relpath(os.path.join(base, n), root) for n in names
                      if n.endswith((".cpp", ".h"))]
    out = subprocess.run(["ctags", "--languages=C++", "--kinds-C++=f", "--fields=+ne",
                          "-o", "-"] + sorted(files),
                         cwd=root, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        fields = dict(c.split(":", 1) for c in cols[3:] if ":" in c)
        if "end" not in fields or cols[0].startswith("__anon"):  # a lambda: inside its function
            continue
        yield cols[1], cols[0], int(fields["line"]), int(fields["end"]) - int(fields["line"]) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list every function over its limit")
    ap.add_argument("--root", default=os.getcwd())
    a = ap.parse_args()
    over = sorted(((length, path, name, line) for path, name, line, length in
                   functions(a.root) if length > limit_of(path)), reverse=True)
    if a.list:
        for length, path, name, line in over:
            print("%4d %s:%d %s (limit %d)" % (length, path, line, name, limit_of(path)))
        return 0
    allowed = {}
    with open(os.path.join(a.root, ALLOWANCES), encoding="utf-8") as f:
        for raw in f:
            raw = raw.split("#", 1)[0].strip()
            if raw:
                path, name, most = raw.split()
                allowed[(path, name)] = int(most)
    problems = []
    for length, path, name, line in over:
        most = allowed.pop((path, name), None)
        if most is None:
            problems.append("%s:%d %s is %d lines, over the limit of %d: split it"
                            % (path, line, name, length, limit_of(path)))
        elif length > most:
            problems.append("%s:%d %s grew to %d lines (allowed %d while it is split): split it"
                            % (path, line, name, length, most))
        elif length < most:
            problems.append("%s %s is now %d lines: lower its allowance in %s from %d to %d"
                            % (path, name, length, ALLOWANCES, most, length))
    for (path, name), most in allowed.items():
        problems.append("%s %s is within its limit now (or gone): take it off %s"
                        % (path, name, ALLOWANCES))
    for p in problems:
        print(p)
    print("%d functions over their limits (core 60, app and widgets 80); %d allowed while they "
          "are split; %d problems" % (len(over), len(over) - sum(1 for p in problems if "split it" in p),
                                      len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
