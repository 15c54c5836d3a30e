#!/usr/bin/env python3
"""check_skips.py CTEST_OUTPUT BUILD_DIR: a skipped test counts as failed
unless its output names the kernel feature it lacks.

CTest reports a test that exits with its SKIP_RETURN_CODE as skipped, and
passes the run. A test that could not run proved nothing; the one excuse is
a machine whose kernel lacks what the test needs, which the test must say
in a line containing "missing kernel feature:". Reads the names of the
skipped tests from ctest's own output (CTEST_OUTPUT) and each one's output
from BUILD_DIR/Testing/Temporary/LastTest.log. Exit 1 when any skip is not
so excused.
"""
import re
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    summary = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    skipped = re.findall(r"^\s*\d+ - (\S+) \(Skipped\)\s*$", summary, re.M)
    log = open(f"{sys.argv[2]}/Testing/Temporary/LastTest.log", encoding="utf-8", errors="replace").read()
    bad = []
    for name in skipped:
        m = re.search(r"^\d+/\d+ Test: " + re.escape(name) + r"\n.*?^Output:\n-+\n(.*?)<end of output>",
                      log, re.M | re.S)
        output = m.group(1) if m else ""
        if "missing kernel feature:" in output:
            print(f"check_skips: {name} skipped: " + next(
                l for l in output.splitlines() if "missing kernel feature:" in l).strip())
        else:
            bad.append(name)
            print(f"check_skips: {name} was skipped without naming a missing kernel feature:\n{output}",
                  file=sys.stderr)
    if bad:
        print("check_skips: skipped, so failed: " + ", ".join(bad), file=sys.stderr)
        return 1
    print(f"check_skips: {len(skipped)} skipped test(s), each for a missing kernel feature")
    return 0


if __name__ == "__main__":
    sys.exit(main())
