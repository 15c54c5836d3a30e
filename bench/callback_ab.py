#!/usr/bin/env python3
"""callback_ab.py BUILD_DIR OTHER_BUILD_DIR [options]: the process callback's
cost of two builds, alternated in one run.

A callback's wall-clock time moves between runs by more than a code change
does (on this VM the median at 128 frames read 5.7 us in one CPU run and
7.2 us in the next). So two builds (this revision's and, say, one built
from an older revision in a worktree) are measured in turns on the same
machine in the same minutes: --pairs rounds of each, the order swapped
every round, each round bench/callback_cost (rtp2jack with its callback
timed, cpu_bench.py's callback round) on a fresh dummy server at --period
frames, 2.5 ms Opus frames, --seconds after --warmup. The figures are each
build's round medians and the median of them.

Prints a Markdown report and writes it to --out
(default bench/results/callback-ab-latest.md).
"""
import argparse
import os
import statistics
import tempfile

import benchlib
import cpu_bench
from benchlib import Procs


def main():
    benchlib.exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("other")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--period", type=int, default=128)
    ap.add_argument("--out", default=os.path.join(benchlib.HERE, "results", "callback-ab-latest.md"))
    args = ap.parse_args()
    builds, names = benchlib.two_builds(args.build, args.other)
    tmp = tempfile.mkdtemp(prefix="rtp2jack-callback-ab.")
    procs = Procs(tmp)
    rounds = {"this": [], "other": []}
    try:
        for i in range(args.pairs):
            for key in benchlib.turns(i):
                a = argparse.Namespace(warmup=args.warmup, rtp2jack=os.path.join(builds[key], "rtp2jack"),
                                       callback_cost=os.path.join(builds[key], "bench", "callback_cost"))
                r = cpu_bench.callback_round(a, procs, args.period, args.seconds)
                if "median_us" not in r:
                    raise SystemExit(f"callback_cost of {names[key]} printed no figures (logs: {tmp})")
                rounds[key].append(r)
                print(f"{names[key]}: median {r['median_us']:.2f} us, p99 {r['p99_us']:.2f} us, "
                      f"worst {r['worst_us']:.2f} us over {r['calls']} calls", flush=True)
    finally:
        procs.stop_all()
    command = (f"bench/callback_ab.py BUILD OTHER --pairs {args.pairs} --seconds {args.seconds:g} "
               f"--period {args.period}")
    lines = benchlib.header("Process-callback cost: two builds alternated", command)
    lines += [f"- {args.pairs} rounds of each, order swapped every round; a fresh dummy server "
              f"(48 kHz / {args.period}) and rtp2jack each round, 2.5 ms Opus frames, {args.seconds:g} s "
              f"after {args.warmup:g} s; wall-clock time inside the callback (bench/callback_cost)", "",
              "| build | round medians us | median of them us | p99 us, median | worst us, most |",
              "|---|---|--:|--:|--:|"]
    for key in ("this", "other"):
        rs = rounds[key]
        medians = ", ".join(f"{r['median_us']:.2f}" for r in rs)
        lines.append(f"| {names[key]} | {medians} | "
                     f"**{statistics.median(r['median_us'] for r in rs):.2f}** | "
                     f"{statistics.median(r['p99_us'] for r in rs):.2f} | {max(r['worst_us'] for r in rs):.1f} |")
    lines += ["", f"Logs of this run: `{tmp}` (not kept)."]
    benchlib.write_report(lines, args.out)


if __name__ == "__main__":
    main()
