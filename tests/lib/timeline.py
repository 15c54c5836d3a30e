#!/usr/bin/env python3
"""timeline.py: JACK's timeline in a jack_tap recording, against CLOCK_MONOTONIC.

    timeline.py stalls CYCLES [--min-ms 0.5] [--json]
    timeline.py at CYCLES MONO_NS...          recording positions (s) of times
    timeline.py mono CYCLES [--scheduled] POS_S...   times (ns) of recording positions
    timeline.py excuse CYCLES [--stalls] [--min-ms 0.5] [--pre-ms 5] [--pad-ms 20]
                              [--mono-windows FILE]
    timeline.py rate CYCLES [--json]

CYCLES is jack_tap's cycle log: '#' lines ('# rate R' among them), then one
line per recorded cycle, `rec_frame jack_frames wake_mono_ns nframes`.

The model. JACK's dummy driver keeps a schedule: cycle k starts at
anchor + k periods on CLOCK_MONOTONIC, at CLOCK_MONOTONIC's rate. When it
wakes late it re-anchors at the late moment and the lateness is lost for
good: a stall is an upward step in `offset = wake - frames / rate`. A
callback's wake time is its cycle's start plus scheduling noise that is
never negative (tens of us, now and then a few ms), so the schedule is the
lower envelope of the offsets. A stall is where the minimum of the offsets
after a cycle rises above the minimum before it and stays there; a late
callback rises alone and the next cycles are back on the old schedule.
The first cycle after a stall is the first whose callback ran after it: at
least half the step behind the old schedule (so a callback that woke a
little late just before the stall is not taken for it). The driver runs
that cycle at once on resuming, the next right after it on its new anchor,
and settles a cycle or two later (a further step of about 0.1-0.2 ms): a
stall's lost time is measured from the old level to the level a few cycles
on. Every step above --split-ms (0.1 ms: the noise of the envelope stays
below) splits the schedule; --min-ms chooses which steps are reported.

Outputs, one per line:
  stalls   POS_S MONO_NS LOST_MS: POS_S is where the first cycle after the
           stall starts in the recording, MONO_NS when that cycle would have
           started without the stall (the start of the lost time). --json
           adds each stall's cycle, rec_frame and mono_end_ns, the count of
           late callbacks (woke --min-ms late, JACK lost nothing), and the
           skips: cycles JACK ran without calling jack_tap (the server gave
           up waiting for its clients), whose frames the recording lacks.
  at       POS_S for each MONO_NS. Inside a cycle the position is
           interpolated on JACK's schedule (not on the noisy wake time);
           during a stall's lost time it is the position of the first cycle
           after it; the few cycles that run while a stall settles are
           placed at their wake times; before the first or after the last
           cycle the nearest cycle's schedule is extended.
  mono     MONO_NS for each POS_S, the inverse of `at` outside lost time.
           With --scheduled, the cycles that run while a stall settles
           (the first one runs at once on resuming, up to a few ms after
           its place on the new schedule) are placed on the schedule after
           the stall instead, where a client that places its cycles on
           JACK's filtered clock meant them.
  excuse   START_S END_S REASON: with --stalls, for each stall of at least
           --min-ms and each skip, from --pre-ms before its position to
           --pad-ms after;
           for each line `START_NS END_NS REASON` of --mono-windows, the two
           times mapped by `at` (none for a window that ends before the
           recording starts); of --playout-windows (stream audio due to
           play at those times: a lost packet's), the same, its end later
           by what JACK lost from PLAYOUT_LAG_S (0.1 s) before its start to
           its end: playout stays that far behind until it skips a stall's
           backlog, after the storm. Sorted by start.
  rate     PPM SECONDS STRETCHES: JACK's frame rate against CLOCK_MONOTONIC
           between stalls (every step above --split-ms splits the
           stretches), in ppm from the nominal rate, over SECONDS of
           stretches: the median of the stretches' rates weighted by length
           squared (--json adds their weighted quartiles). Within 10 ppm of
           the truth from 15 s of stretches on this VM's busy dummy server,
           about 1 ppm from a minute.

Exit: 0 done, 1 unreadable or empty log, 2 bad usage.
"""
import argparse
import bisect
import json
import math
import sys

# Every default in one place; --help prints them.
DEFAULT_MIN_MS = 0.5  # a stall worth reporting loses at least this much
DEFAULT_SPLIT_MS = 0.1  # every step above this splits the schedule (noise stays below)
DEFAULT_WINDOW_MS = 20.0  # envelope windows span this much JACK time...
MIN_WINDOW_CYCLES = 4  # ...and at least this many cycles
SETTLE_CYCLES = 4  # a stall's new schedule is settled this many cycles on...
MAX_RAMP_CYCLES = 64  # ...or, while it keeps rising, at most this many
# How long before a playout window a stall can still have playout behind
# when the window plays: rtp2jack skips a storm's backlog once JACK has gone
# audio::PlayoutClock::kQuietS (60 ms) without a stall; timeline_test.py
# reads that constant and holds this above it.
PLAYOUT_LAG_S = 0.1
DEFAULT_PRE_MS = 5.0
DEFAULT_PAD_MS = 20.0
RATE_MIN_BLOCKS = 3  # stretches shorter than this many windows give no slope


class LogError(Exception):
    """The cycle log cannot be read or holds no cycles."""


class CycleLog:
    """The cycles of one jack_tap log, JACK frame counts unwrapped."""

    def __init__(self, path):
        self.rate = None
        self.rec = []  # rec_frame of each cycle
        self.frames = []  # JACK frame time, unwrapped past 2^32
        self.wake = []  # wake_mono_ns
        self.n = []  # nframes
        try:
            f = open(path, encoding="utf-8")
        except OSError as e:
            raise LogError(f"{path}: {e.strerror}") from e
        with f:
            wraps = 0
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                if fields[0] == "#":
                    if len(fields) >= 3 and fields[1] == "rate":
                        self.rate = int(fields[2])
                    continue
                try:
                    rec, frames, wake, n = (int(x) for x in fields[:4])
                except ValueError as e:
                    raise LogError(f"{path}:{number}: want "
                                   "'rec_frame jack_frames wake_mono_ns nframes'") from e
                if self.frames and frames + wraps < self.frames[-1] - (1 << 31):
                    wraps += 1 << 32  # jack_nframes_t wrapped
                self.rec.append(rec)
                self.frames.append(frames + wraps)
                self.wake.append(wake)
                self.n.append(n)
        if self.rate is None:
            raise LogError(f"{path}: no '# rate' line")
        if not self.rec:
            raise LogError(f"{path}: no cycles")


class Timeline:
    """JACK's schedule reconstructed from a CycleLog; see the module doc."""

    def __init__(self, log, split_ms=DEFAULT_SPLIT_MS, window_ms=DEFAULT_WINDOW_MS):
        self.log = log
        rate = log.rate
        n = len(log.rec)
        period = sorted(log.n)[n // 2]
        self.period = period
        self.k = max(MIN_WINDOW_CYCLES, math.ceil(window_ms * 1e-3 * rate / max(1, period)))
        # Offsets relative to the first cycle keep the floats small.
        self.x = [(f - log.frames[0]) * 1e9 / rate for f in log.frames]  # JACK time, ns
        self.o = [(w - log.wake[0]) - x for w, x in zip(log.wake, self.x)]
        self.steps = self._find_steps(split_ms * 1e6)
        self._levels()

    def _find_steps(self, split_ns):
        """Every step up of the lower envelope above split_ns, as dicts."""
        o, k, n = self.o, self.k, len(self.o)
        steps = []
        seg = 0  # first cycle of the current schedule: windows never look past it
        i = 1
        while i < n:
            before = min(o[max(seg, i - k):i])
            after = min(o[i:i + k])
            if after - before <= split_ns:
                i += 1
                continue
            # The cycles from i on are all behind the old schedule. Old
            # level from the cycles before (more of them, for a steadier
            # floor); new level once the driver has settled. A callback
            # that woke late just before the stall (often the one the stall
            # interrupted) is no part of it: the new schedule begins with
            # the first cycle at least half the step behind the old one.
            old = min(o[max(seg, i - 2 * k):i])
            settled = min(i + SETTLE_CYCLES, n - 1)
            # A starved host can stretch a stall over several cycles, each
            # later than the one before: it has settled when the envelope
            # stops rising.
            while (settled + 1 < n and settled < i + MAX_RAMP_CYCLES
                   and min(o[settled + 1:settled + 1 + k]) - min(o[settled:settled + k])
                   > split_ns):
                settled += 1
            half = (min(o[settled:settled + k]) - old) / 2
            first = next(j for j in range(i, settled + 1) if o[j] - old >= half)
            settled = min(max(settled, first + SETTLE_CYCLES), n - 1)
            new = min(o[settled:settled + k])
            steps.append({"cycle": first, "old_ns": old, "new_ns": new, "lost_ns": new - old,
                          "span": (i, settled)})
            seg = settled
            i = settled + 1
        return steps

    def _levels(self):
        """The schedule's offset at each cycle and each cycle's start.

        Between steps, the lower envelope near the cycle (its window on
        both sides, within the stretch). While a stall settles (from its
        first cycle until the envelope is flat again) the driver has no
        steady schedule: each cycle started when its callback woke.
        """
        o, k, n = self.o, self.k, len(self.o)
        self.level = list(o)  # settling cycles keep their own offset
        los = [0] + [s["span"][1] for s in self.steps]
        his = [s["cycle"] for s in self.steps] + [n]
        for lo, hi in zip(los, his):
            for i in range(lo, hi):
                self.level[i] = min(o[max(lo, i - k):min(hi, i + k + 1)])
        w0 = self.log.wake[0]
        self.start = [w0 + c + x for c, x in zip(self.level, self.x)]  # ns, monotonic
        # A callback woken more than a period late just before a steady
        # stretch could put its start after the next one's; keep them in order.
        for i in range(1, n):
            self.start[i] = max(self.start[i], self.start[i - 1])
        # The same with the settling cycles on the schedule the stall left:
        # where a client that places its cycles on JACK's filtered clock
        # (rtp2jack does) meant them to be.
        scheduled = list(self.level)
        for s in self.steps:
            for i in range(s["cycle"], s["span"][1]):
                scheduled[i] = s["new_ns"]
        self.scheduled_start = [w0 + c + x for c, x in zip(scheduled, self.x)]

    def stalls(self, min_ms=DEFAULT_MIN_MS):
        """Steps that lost at least min_ms, with positions and times."""
        log, out = self.log, []
        w0 = log.wake[0]
        for s in self.steps:
            if s["lost_ns"] < min_ms * 1e6:
                continue
            i = s["cycle"]
            out.append({
                "cycle": i,
                "rec_frame": log.rec[i],
                "pos_s": log.rec[i] / log.rate,
                "mono_ns": round(w0 + s["old_ns"] + self.x[i]),
                "mono_end_ns": round(w0 + s["new_ns"] + self.x[i]),
                "lost_ms": s["lost_ns"] / 1e6,
            })
        return out

    def skips(self):
        """Where JACK's frame time advanced past the frames recorded: cycles
        the server ran without calling us. The recording lacks them, so its
        signal jumps there."""
        log, out = self.log, []
        for i in range(1, len(log.rec)):
            missing = (log.frames[i] - log.frames[i - 1]) - (log.rec[i] - log.rec[i - 1])
            if missing > 0:
                out.append({"cycle": i, "pos_s": log.rec[i] / log.rate, "frames": missing})
        return out

    def late_callbacks(self, min_ms=DEFAULT_MIN_MS):
        """Callbacks that woke at least min_ms after their cycle's start,
        outside the cycles of a step (from where it is found to where it
        has settled)."""
        in_steps = {i for s in self.steps for i in range(*s["span"])}
        return [{"cycle": i, "pos_s": self.log.rec[i] / self.log.rate,
                 "late_ms": (self.o[i] - self.level[i]) / 1e6}
                for i in range(len(self.o))
                if i not in in_steps and self.o[i] - self.level[i] >= min_ms * 1e6]

    def position(self, mono_ns):
        """Recording position (frames, float) of a CLOCK_MONOTONIC time."""
        log, rate = self.log, self.log.rate
        i = bisect.bisect_right(self.start, mono_ns) - 1
        if i < 0:
            return log.rec[0] + (mono_ns - self.start[0]) * rate / 1e9
        into = (mono_ns - self.start[i]) * rate / 1e9
        if i == len(self.start) - 1:
            return log.rec[i] + into
        if into < log.n[i]:
            return log.rec[i] + into
        return float(log.rec[i + 1])  # in lost time (or a rounding sliver) before cycle i+1

    def mono(self, frame, scheduled=False):
        """CLOCK_MONOTONIC time (ns, float) of a recording position in frames;
        `scheduled`: a settling cycle's on the schedule after its stall."""
        log = self.log
        i = max(0, bisect.bisect_right(log.rec, frame) - 1)
        start = self.scheduled_start if scheduled else self.start
        return start[i] + (frame - log.rec[i]) * 1e9 / log.rate

    def rate(self):
        """JACK's frame rate against CLOCK_MONOTONIC between steps.

        Each stretch between steps is cut into windows; the lowest offset of
        each window (its cycle least delayed by scheduling) is a point of
        the schedule, and a least-squares line through a stretch's points
        gives its slope. The rate is the median of the stretches' slopes,
        each weighted by its length squared: the host delays callbacks in
        spells too (100-200 us for a tenth of a second), which tilt the
        stretch they fall in, and a median is not pulled by a few tilted
        stretches as a pooled fit is. The cycles whose noise decided where
        a step is (the windows on both sides of it) and the settling cycles
        after it are left out: a step is found where the offsets before it
        happen to be low and those after it high.
        """
        k, n = self.k, len(self.o)
        firsts = [s["cycle"] for s in self.steps]
        starts = [0] + [f + SETTLE_CYCLES + k for f in firsts]
        ends = [f - 2 * k for f in firsts] + [n]
        slopes = []  # (slope, weight)
        seconds = 0.0
        for lo, hi in zip(starts, ends):
            points = []
            for b in range(lo, hi - k + 1, k):
                j = min(range(b, b + k), key=self.o.__getitem__)
                points.append((self.x[j], self.o[j]))
            if len(points) < RATE_MIN_BLOCKS:
                continue
            mx = sum(p[0] for p in points) / len(points)
            my = sum(p[1] for p in points) / len(points)
            sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
            sxx = sum((p[0] - mx) ** 2 for p in points)
            length = (points[-1][0] - points[0][0]) / 1e9
            slopes.append((sxy / sxx, length * length))
            seconds += length
        if not slopes:
            return {"ppm": None, "seconds": 0.0, "stretches": 0}

        def ppm(slope):
            # offset = wake - frames/nominal grows by (nominal/actual - 1) per ns of JACK time.
            return (1.0 / (1.0 + slope) - 1.0) * 1e6

        # ppm falls as the slope rises: the slopes' quartiles swap ends.
        return {"ppm": ppm(weighted_quantile(slopes, 0.5)), "seconds": seconds,
                "stretches": len(slopes),
                "quartiles_ppm": [ppm(weighted_quantile(slopes, 0.75)),
                                  ppm(weighted_quantile(slopes, 0.25))]}


def weighted_quantile(pairs, q):
    """The smallest value whose share of the total weight up to it is >= q."""
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    seen = 0.0
    for value, weight in pairs:
        seen += weight
        if seen >= q * total:
            return value
    return pairs[-1][0]


def read_windows(path):
    """Lines `START_NS END_NS REASON` ('#' lines and blank lines skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 2)
            try:
                start, end = int(parts[0]), int(parts[1])
            except (ValueError, IndexError) as e:
                raise LogError(f"{path}:{number}: want 'START_NS END_NS REASON'") from e
            out.append((start, end, parts[2].strip() if len(parts) > 2 else "window"))
    return out


def excuses(tl, with_stalls, min_ms, pre_ms, pad_ms, windows, playout=()):
    """(start_s, end_s, reason) for stalls, monotonic windows and playout
    windows, sorted."""
    rate = tl.log.rate
    out = []
    stalls = tl.stalls(DEFAULT_SPLIT_MS) if playout else []
    # A playout window ends later by what JACK lost from PLAYOUT_LAG_S
    # before it to its end; a monotonic window is mapped as it is.
    for (start, end, reason), lags in [(w, False) for w in windows] + [(w, True) for w in playout]:
        lag_ms = sum(s["lost_ms"] for s in stalls if start - PLAYOUT_LAG_S * 1e9 <= s["mono_ns"] <= end) if lags else 0
        end_s = tl.position(end) / rate + lag_ms / 1e3
        if end_s < 0:
            continue  # wholly before the recording: nothing in it to excuse
        a = max(0.0, tl.position(start) / rate)
        # JACK's time stands still while the server is stopped: a window
        # inside a stop maps to one position.
        out.append((a, max(a, end_s), reason))
    if with_stalls:
        for s in tl.stalls(min_ms):
            out.append((max(0.0, s["pos_s"] - pre_ms / 1e3), s["pos_s"] + pad_ms / 1e3,
                        f"jack-stall-{s['lost_ms']:.1f}ms"))
        for s in tl.skips():
            out.append((max(0.0, s["pos_s"] - pre_ms / 1e3), s["pos_s"] + pad_ms / 1e3,
                        f"jack-skip-{s['frames']}-frames"))
    return sorted(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("cycles", help="jack_tap's cycle log")
        sp.add_argument("--split-ms", type=float, default=DEFAULT_SPLIT_MS,
                        help="steps above this split the schedule (default %(default)s)")

    sp = sub.add_parser("stalls", help="JACK's stalls: POS_S MONO_NS LOST_MS")
    common(sp)
    sp.add_argument("--min-ms", type=float, default=DEFAULT_MIN_MS,
                    help="report stalls that lost at least this (default %(default)s)")
    sp.add_argument("--json", action="store_true", help="one JSON object with details")
    sp = sub.add_parser("at", help="recording positions (s) of CLOCK_MONOTONIC times (ns)")
    common(sp)
    sp.add_argument("mono_ns", type=int, nargs="+")
    sp = sub.add_parser("mono", help="CLOCK_MONOTONIC times (ns) of recording positions (s)")
    common(sp)
    sp.add_argument("--scheduled", action="store_true",
                    help="the cycles that run while a stall settles on the schedule after it")
    sp.add_argument("pos_s", type=float, nargs="+")
    sp = sub.add_parser("excuse", help="excuse windows: START_S END_S REASON")
    common(sp)
    sp.add_argument("--stalls", action="store_true", help="one window per JACK stall")
    sp.add_argument("--min-ms", type=float, default=DEFAULT_MIN_MS,
                    help="stalls that lost at least this (default %(default)s)")
    sp.add_argument("--pre-ms", type=float, default=DEFAULT_PRE_MS,
                    help="a stall's window opens this much before it (default %(default)s)")
    sp.add_argument("--pad-ms", type=float, default=DEFAULT_PAD_MS,
                    help="and closes this much after it (default %(default)s)")
    sp.add_argument("--mono-windows", metavar="FILE",
                    help="lines 'START_NS END_NS REASON' to map to recording seconds")
    sp.add_argument("--playout-windows", metavar="FILE",
                    help="the same, of audio due to play then: later by a stall's lag")
    sp = sub.add_parser("rate", help="JACK's rate between stalls: PPM SECONDS STRETCHES")
    common(sp)
    sp.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def main(argv):
    a = parse_args(argv)
    try:
        tl = Timeline(CycleLog(a.cycles), split_ms=a.split_ms)
        if a.command == "stalls":
            stalls = tl.stalls(a.min_ms)
            if a.json:
                late = tl.late_callbacks(a.min_ms)
                print(json.dumps({
                    "rate": tl.log.rate, "period": tl.period, "cycles": len(tl.o),
                    "stalls": stalls,
                    "lost_ms": sum(s["lost_ms"] for s in stalls),
                    "late_callbacks": len(late),
                    "max_late_ms": max((c["late_ms"] for c in late), default=0.0),
                    "skips": tl.skips(),
                }))
            else:
                for s in stalls:
                    print(f"{s['pos_s']:.6f} {s['mono_ns']} {s['lost_ms']:.3f}")
        elif a.command == "at":
            for t in a.mono_ns:
                print(f"{tl.position(t) / tl.log.rate:.6f}")
        elif a.command == "mono":
            for s in a.pos_s:
                print(round(tl.mono(s * tl.log.rate, a.scheduled)))
        elif a.command == "excuse":
            windows = read_windows(a.mono_windows) if a.mono_windows else []
            playout = read_windows(a.playout_windows) if a.playout_windows else []
            for start, end, reason in excuses(tl, a.stalls, a.min_ms, a.pre_ms, a.pad_ms, windows, playout):
                print(f"{start:.6f} {end:.6f} {reason}")
        elif a.command == "rate":
            r = tl.rate()
            if r["ppm"] is None:
                raise LogError(f"{a.cycles}: no stretch between stalls long enough to measure")
            if a.json:
                print(json.dumps(r))
            else:
                print(f"{r['ppm']:.3f} {r['seconds']:.3f} {r['stretches']}")
    except (LogError, OSError) as e:
        print(f"timeline.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
