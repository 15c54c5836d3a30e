#!/usr/bin/env python3
"""stats_check.py FILE EXPR...: check rtp2jack's --stats json output.

Reads the last line of FILE whose object has "final": true (the line printed
at shutdown) and evaluates each EXPR (a Python expression over its fields,
e.g. 'packets_received == 500' or 'jitter_ms < 2') against it. Prints every
field once, then one line per failed expression; exits 1 if any failed, 2 if
there is no final line.
"""
import json
import sys


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    final = None
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            obj = json.loads(line)  # a malformed line is a failure worth seeing
            if obj.get("final"):
                final = obj
    if final is None:
        print(f"stats_check: no final stats line in {sys.argv[1]}", file=sys.stderr)
        return 2
    print("final stats: " + " ".join(f"{k}={v}" for k, v in final.items()), file=sys.stderr)
    failed = 0
    for expr in sys.argv[2:]:
        if not eval(expr, {"__builtins__": {"abs": abs, "min": min, "max": max}}, dict(final)):  # test input we wrote ourselves
            print(f"stats_check: FAIL {expr}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
