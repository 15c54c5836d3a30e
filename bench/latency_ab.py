#!/usr/bin/env python3
"""latency_ab.py BUILD_DIR OTHER_BUILD_DIR [options]: two builds at tight
latency settings, alternated in one run.

latency_bench.py's rounds (a JACK-driven GStreamer sender, 5 ms Opus
frames, rtp2jack and the GStreamer reference on the same packets, a fresh
dummy server each round), with rtp2jack from either build in turns: at
each of --settings, --reps rounds of each build, the order swapped every
round. Whether a round is clean, and how, moves with the host's stalls
from hour to hour (and from one VM to the next) by more than a change to
the sender clock does, so such a change is judged against the build
before it in the same minutes. A round is clean as in latency_bench.py.

Prints a Markdown report (per build and setting: clean rounds, late
packets, underruns, splices, each round's delay) and writes it to --out
(default bench/results/latency-ab-latest.md).
"""
import argparse
import os
import tempfile

import benchlib
import latency_bench
from benchlib import Procs


def main():
    benchlib.exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("other")
    ap.add_argument("--settings", default="6,7,8", help="rtp2jack's --latency values, ms")
    ap.add_argument("--reps", type=int, default=3, help="rounds of each build per setting")
    ap.add_argument("--seconds", type=float, default=10)
    latency_bench.add_round_options(ap)
    ap.add_argument("--out", default=os.path.join(benchlib.HERE, "results", "latency-ab-latest.md"))
    args = ap.parse_args()
    settings = [float(s) for s in args.settings.split(",")]
    builds, names = benchlib.two_builds(args.build, args.other)
    args.jammed = 0
    args.probe = os.path.join(builds["this"], "bench", "click_probe")
    ref = latency_bench.REFERENCE_GRID[0]
    tmp = tempfile.mkdtemp(prefix="rtp2jack-latency-ab.")
    procs = Procs(tmp)
    rounds = []
    try:
        for i in range(args.reps):
            for setting in settings:
                for key in benchlib.turns(i):
                    args.rtp2jack = os.path.join(builds[key], "rtp2jack")
                    latency_bench.play(args, procs, rounds, key, setting, ref)
    finally:
        procs.stop_all()
    command = (f"bench/latency_ab.py BUILD OTHER --settings {args.settings} --reps {args.reps} "
               f"--seconds {args.seconds:g}")
    lines = benchlib.header("Click-to-output latency at tight settings: two builds alternated", command)
    lines += [f"- {args.reps} rounds of each build per setting, order swapped every round; "
              f"latency_bench.py's rounds ({args.seconds:g} s each, a fresh dummy server each); "
              f"rounds run again after the server jammed: {args.jammed}", "",
              "| build | `--latency` | clean | late packets | underruns | splices | delay ms |",
              "|---|--:|--:|---|---|---|---|"]
    for key in ("this", "other"):
        for setting in settings:
            rs = [r for r in rounds if r["kind"] == key and r["rx_latency"] == setting]
            col = lambda k: ", ".join(str(r["stats"][k]) for r in rs)
            lines.append(f"| {names[key]} | {setting:g} | {sum(r['rx_ok'] for r in rs)} of {len(rs)} | "
                         f"{col('packets_late')} | {col('underruns')} | {col('splices')} | "
                         + ", ".join(f"{r['rx']['delay_median_ms']:.2f}" for r in rs) + " |")
    lines += ["", f"Logs of this run: `{tmp}` (not kept)."]
    benchlib.write_report(lines, args.out)


if __name__ == "__main__":
    main()
