"""Where the time goes: the operators of a Chrome trace (sit-bench --profile, or a PyTorch
profiler export) ranked by self time, the time spent in an operator minus its children's.

    python3 profile_summary.py trace.json [--top 20]
"""

import argparse
import collections
import json


def self_times(events):
    """Self time per name: an event's duration less that of the events nested inside it."""
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    totals = collections.Counter()
    counts = collections.Counter()
    for thread_events in by_thread.values():
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, children's duration]
        for e in thread_events:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
                done, children = stack.pop()
                totals[done["name"]] += done["dur"] - children
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
            counts[e["name"]] += 1
        for done, children in stack:
            totals[done["name"]] += done["dur"] - children
    return totals, counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    with open(args.trace) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    totals, counts = self_times(events)
    whole = sum(totals.values())
    print(f"{'operator':<40} {'self ms':>10} {'share':>7} {'calls':>7}")
    for name, us in totals.most_common(args.top):
        print(f"{name:<40} {us / 1000:>10.1f} {100 * us / whole:>6.1f}% {counts[name]:>7}")


if __name__ == "__main__":
    main()
