#!/usr/bin/python3
"""plot-stats.py LOG [-o OUT.png] [--title TEXT]: one picture of a run.

LOG is what `rtp2jack --stats json` printed (one JSON object per line;
other lines are skipped). The picture has three panels over the run's
time:
  1. the buffer's delay against the target latency (what --latency sets);
  2. the network: peak lateness over 30 s, interarrival jitter, and the
     target --latency auto would choose (recommended_ms);
  3. the clocks: the sender's drift against JACK, and the rate playout
     consumes the stream at (drift plus corrections).
Markers along the top panel show when packets were lost, concealed or
recovered by FEC, when the buffer ran dry, when JACK had xruns or
stalled, when playout spliced or held, and when the target moved.

Needs Debian's python3 with python3-matplotlib (scripts/install-deps.sh
installs it): the script runs /usr/bin/python3, where apt puts it.
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

# Counters whose increase is an event worth a marker: (field, label, colour).
EVENTS = [
    ("packets_lost", "lost", "tab:red"),
    ("packets_concealed", "concealed", "tab:orange"),
    ("packets_recovered", "FEC", "tab:green"),
    ("packets_late", "late", "tab:brown"),
    ("underruns", "underrun", "black"),
    ("xruns", "JACK xrun", "tab:purple"),
    ("jack_stalls", "JACK stall", "tab:pink"),
    ("splices", "splice", "tab:cyan"),
    ("holds", "hold", "tab:olive"),
    ("target_changes", "target moved", "tab:blue"),
]


def read(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return [r for r in rows if "uptime_s" in r]


def events(rows):
    """{label: ([times], colour)} where a counter went up."""
    out = {}
    for field, label, colour in EVENTS:
        times = []
        for prev, cur in zip(rows, rows[1:]):
            if cur.get(field, 0) > prev.get(field, 0):
                times.append(cur["uptime_s"])
        if times:
            out[label] = (times, colour)
    return out


def plot(rows, out, title):
    t = [r["uptime_s"] for r in rows]
    fig, (depth, net, clocks) = plt.subplots(3, 1, sharex=True, figsize=(11, 8), constrained_layout=True)
    fig.suptitle(title)

    depth.plot(t, [r.get("buffer_ms", 0) for r in rows], label="buffer delay", color="tab:blue")
    depth.plot(t, [r.get("target_ms", 0) for r in rows], label="target", color="black", linestyle="--")
    depth.set_ylabel("ms")
    marks = events(rows)
    top = max([r.get("buffer_ms", 0) for r in rows] + [r.get("target_ms", 0) for r in rows] + [1])
    for i, (label, (times, colour)) in enumerate(sorted(marks.items())):
        y = top * (1.05 + 0.06 * i)
        depth.scatter(times, [y] * len(times), marker="|", s=120, color=colour, label=label)
    depth.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    depth.set_title("buffer against target; markers where something happened")

    net.plot(t, [r.get("lateness_ms", 0) for r in rows], label="peak lateness (30 s)", color="tab:red")
    net.plot(t, [r.get("jitter_ms", 0) for r in rows], label="jitter (RFC 3550)", color="tab:orange")
    rec = [(r["uptime_s"], r["recommended_ms"]) for r in rows if r.get("recommended_ms") is not None]
    if rec:
        net.plot([a for a, _ in rec], [b for _, b in rec], label="recommended --latency", color="tab:green")
    net.set_ylabel("ms")
    net.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    net.set_title("the network")

    clocks.plot(t, [r.get("drift_ppm", 0) for r in rows], label="drift (sender vs JACK)", color="tab:blue")
    clocks.plot(t, [r.get("ratio_ppm", 0) for r in rows], label="playout rate", color="tab:gray", alpha=0.7)
    clocks.set_ylabel("ppm")
    clocks.set_xlabel("seconds since start")
    clocks.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    clocks.set_title("the clocks")

    fig.savefig(out, dpi=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("-o", "--out", default="rtp2jack-stats.png")
    ap.add_argument("--title", default="rtp2jack --stats json")
    args = ap.parse_args()
    rows = read(args.log)
    if len(rows) < 2:
        sys.exit(f"plot-stats.py: {args.log}: fewer than two --stats json lines")
    plot(rows, args.out, args.title)
    print(f"plot-stats.py: {len(rows)} lines -> {args.out}")


if __name__ == "__main__":
    main()
