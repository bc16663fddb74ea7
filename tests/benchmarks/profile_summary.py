#!/usr/bin/python3
"""Sums a libtorch profiler trace (`context-pythia bench --profile DIR`, Chrome trace format) by
operator: total milliseconds of each op (self and children counted as the profiler records
them), calls, and share of the traced time. Benchmark helper, not a test.

    /usr/bin/python3 tests/benchmarks/profile_summary.py DIR/pythia-70m-trace.json [--top 20]
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    events = json.load(open(a.trace))
    if isinstance(events, dict):
        events = events.get("traceEvents", [])
    total = collections.Counter()
    calls = collections.Counter()
    span_start, span_end = float("inf"), 0.0
    for e in events:
        if e.get("ph") != "X":
            continue
        total[e["name"]] += float(e.get("dur", 0))
        calls[e["name"]] += 1
        span_start = min(span_start, float(e["ts"]))
        span_end = max(span_end, float(e["ts"]) + float(e.get("dur", 0)))
    span = max(span_end - span_start, 1e-9)
    print("%-40s %10s %7s %7s" % ("operator", "ms", "calls", "% span"))
    for name, us in total.most_common(a.top):
        print("%-40s %10.1f %7d %6.1f%%" % (name[:40], us / 1000, calls[name], 100 * us / span))
    print("traced span: %.1f ms (nested ops overlap: shares of parents include their children)"
          % (span / 1000))


if __name__ == "__main__":
    main()
