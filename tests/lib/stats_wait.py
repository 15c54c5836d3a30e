#!/usr/bin/env python3
"""stats_wait.py FILE TIMEOUT_S EXPR: wait for rtp2jack's --stats json output
to satisfy EXPR.

Polls FILE every 50 ms and evaluates EXPR (a Python expression over the
fields, e.g. 'target_ms < 20') against the newest complete JSON line. Exits
0 as soon as it holds, printing that line's time and the fields EXPR names;
1 after TIMEOUT_S without (printing the newest line).
"""
import json
import sys
import time


def newest(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{") and l.endswith("}")]
    except FileNotFoundError:
        return None
    return json.loads(lines[-1]) if lines else None


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, timeout, expr = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + timeout
    env = {"__builtins__": {"abs": abs, "min": min, "max": max}}
    while True:
        obj = newest(path)
        if obj is not None and eval(expr, env, dict(obj)):  # test input we wrote ourselves
            shown = {k: v for k, v in obj.items() if k in expr or k == "uptime_s"}
            print(f"stats_wait: {expr} holds: {shown}", file=sys.stderr)
            return 0
        if time.monotonic() >= deadline:
            print(f"stats_wait: timeout after {timeout} s waiting for {expr}; newest: {obj}",
                  file=sys.stderr)
            return 1
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
