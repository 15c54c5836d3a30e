#!/usr/bin/env python3
"""judge_calibration.py REPORT.json...: the distribution of each per-block
statistic and of the pitch per window over tone_judge --json reports of
clean recordings (tests/tools/record_reference.sh), for setting and
checking tone_judge's limits (tests/README.md, "How audio is judged").

Prints one line per statistic: count, median, 99th and 99.9th percentile,
the worst value and where it is (file, channel, block time), for all the
reports given together; then one line per report with its worst values."""
import json
import math
import sys

STATS = [  # name, key, transform (what the limit applies to)
    ("residual_db", "residual_db", lambda v: v),
    ("|phase_dev_rad|", "phase_dev_rad", abs),
    ("|phase_step_rad|", "phase_step_rad", abs),
    ("|level_dev_db|", "level_dev_db", abs),
    ("click_db", "click_db", lambda v: v),
]


def percentile(sorted_values, p):
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def main(paths):
    every = {name: [] for name, _, _ in STATS}
    pitch = []
    per_file = []
    glitched = 0
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        worst = {name: (-math.inf, None) for name, _, _ in STATS}
        worst_pitch = 0.0
        for ch in report["channels"]:
            channel = ch["summary"]["channel"]
            glitched += ch["summary"]["glitched"]
            for b in ch["blocks"]:
                for name, key, fn in STATS:
                    if b[key] is None:
                        continue
                    v = fn(b[key])
                    every[name].append((v, path, channel, b["t"]))
                    if v > worst[name][0]:
                        worst[name] = (v, b["t"])
            for w in ch["windows"]:
                if w["judged"]:
                    pitch.append((abs(w["ppm"]), path, channel, w["start_s"]))
                    worst_pitch = max(worst_pitch, abs(w["ppm"]))
        per_file.append((path, worst, worst_pitch))

    print(f"{len(paths)} reports, {glitched} glitched blocks at the limits the reports were made with")
    print(f"{'statistic':18} {'count':>7} {'median':>9} {'p99':>9} {'p99.9':>9} {'max':>9}  where")
    for name, values in list(every.items()) + [("|pitch_ppm|", pitch)]:
        values.sort(key=lambda e: e[0])
        vs = [e[0] for e in values]
        top = values[-1] if values else (math.nan, "", 0, 0)
        print(f"{name:18} {len(vs):7d} {percentile(vs, 0.5):9.4f} {percentile(vs, 0.99):9.4f} "
              f"{percentile(vs, 0.999):9.4f} {top[0]:9.4f}  {top[1]} ch{top[2]} t={top[3]}")
    print()
    for path, worst, worst_pitch in per_file:
        cells = " ".join(f"{name}={v:.4f}@{t}" for name, (v, t) in worst.items())
        print(f"{path}: {cells} |pitch|={worst_pitch:.3f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
