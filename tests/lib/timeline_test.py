#!/usr/bin/env python3
"""Unit tests for timeline.py on synthetic cycle logs whose truth is known.

A synthetic log follows the model in timeline.py's docstring: JACK's
schedule (anchor + frames / rate, at a chosen rate), steps where the driver
loses time, late callbacks, and non-negative wake noise from a seeded PRNG.
The stall shape after a SIGSTOP is the one measured on the dummy driver:
the cycle due during the stop runs at once on resume (late on the old
schedule, 2.4 ms after its place on the new one), the next one right after
it on the new anchor, which settles two cycles later about 0.15 ms further
on.
"""
import io
import os
import random
import re
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timeline  # noqa: E402

RATE = 48000
PERIOD = 128
PERIOD_NS = PERIOD * 1e9 / RATE
T0 = 1_000_000_000_000  # monotonic ns of the first cycle's schedule


def synth(cycles, steps=(), late=(), ppm=0.0, noise_us=(5, 60), seed=1, first_frame=4096):
    """A cycle log as text. steps: {cycle: lost_ms} (the first cycle on the
    new schedule); late: {cycle: ms}. Returns (text, truth) where truth
    holds each cycle's scheduled start."""
    rng = random.Random(seed)
    level = 0.0
    text = ["# jack_tap cycle log", f"# rate {RATE}",
            "# columns rec_frame jack_frames wake_mono_ns nframes"]
    starts = []
    steps = dict(steps)
    late = dict(late)
    for i in range(cycles):
        if i in steps:
            level += steps[i] * 1e6
        if i - 2 in steps:
            level += 0.15e6  # the driver settles on its new anchor
        start = T0 + level + i * PERIOD_NS / (1 + ppm * 1e-6)
        starts.append(start)
        wake = start + rng.uniform(*noise_us) * 1e3 + late.get(i, 0.0) * 1e6
        frames = (first_frame + i * PERIOD) % (1 << 32)
        text.append(f"{i * PERIOD} {frames} {round(wake)} {PERIOD}")
    return "\n".join(text) + "\n", starts


class LogFile:
    """A synthetic log on disk for the duration of a with block."""

    def __init__(self, text):
        self.text = text

    def __enter__(self):
        fd, self.path = tempfile.mkstemp(suffix=".cycles")
        with os.fdopen(fd, "w") as f:
            f.write(self.text)
        return self.path

    def __exit__(self, *exc):
        os.unlink(self.path)


def run_cli(*args):
    out = io.StringIO()
    with redirect_stdout(out):
        status = timeline.main([str(a) for a in args])
    return status, out.getvalue().split("\n")[:-1]


class StallTest(unittest.TestCase):
    def setUp(self):
        # A SIGSTOP-like stall at 1000, a 5 ms one at 2000 preceded by a
        # late callback (the one the stall followed, as measured), a stall
        # spread over 12 cycles from 2300 (a starved host runs each cycle
        # later than the one before), late callbacks alone and in a pair
        # elsewhere, and a step below the reporting threshold.
        steps = {1000: 36.8, 2000: 5.0, 2600: 0.2}
        steps.update({c: 2.5 for c in range(2300, 2312)})
        self.text, self.starts = synth(
            3000, steps=steps, late={1000: 2.4, 1999: 0.7, 500: 2.5, 1500: 1.5, 1501: 1.5})

    def test_finds_each_stall_at_its_first_cycle_with_its_lost_time(self):
        with LogFile(self.text) as path:
            tl = timeline.Timeline(timeline.CycleLog(path))
        stalls = tl.stalls(0.5)
        self.assertEqual([s["cycle"] for s in stalls][:2], [1000, 2000])
        self.assertEqual(len(stalls), 3)
        # The spread stall is one, found where half its time is lost.
        self.assertIn(stalls[2]["cycle"], range(2304, 2308))
        self.assertAlmostEqual(stalls[2]["lost_ms"], 12 * 2.65, delta=0.1)
        self.assertEqual(stalls[0]["rec_frame"], 1000 * PERIOD)
        self.assertAlmostEqual(stalls[0]["pos_s"], 1000 * PERIOD / RATE)
        # lost includes the driver's settling step; noise floors differ by tens of us
        self.assertAlmostEqual(stalls[0]["lost_ms"], 36.95, delta=0.1)
        self.assertAlmostEqual(stalls[1]["lost_ms"], 5.15, delta=0.1)
        # The stall starts where the old schedule would have begun cycle 1000.
        old_start = self.starts[999] + PERIOD_NS
        self.assertAlmostEqual(stalls[0]["mono_ns"], old_start, delta=100e3)
        # The small step is found (it splits the schedule) but not reported.
        self.assertIn(2600, [s["cycle"] for s in tl.steps])

    def test_late_callbacks_are_not_stalls(self):
        with LogFile(self.text) as path:
            tl = timeline.Timeline(timeline.CycleLog(path))
        late = {c["cycle"] for c in tl.late_callbacks(0.5)}
        # 1999 is counted with the stall it ran into.
        self.assertEqual(late, {500, 1500, 1501})

    def test_positions_follow_the_schedule_not_the_wake_times(self):
        with LogFile(self.text) as path:
            tl = timeline.Timeline(timeline.CycleLog(path))
        frame_ns = 1e9 / RATE
        # 1 ms into cycle 500, whose callback woke 2.5 ms late.
        self.assertAlmostEqual(tl.position(self.starts[500] + 1e6), 500 * PERIOD + 48, delta=4)
        # In the lost time of the stall: the first cycle after it.
        self.assertEqual(tl.position(self.starts[999] + PERIOD_NS + 10e6), 1000 * PERIOD)
        # Back and forth between positions and times, in a regular stretch.
        for frame in (0, 12345, 1200 * PERIOD + 17, 2900 * PERIOD):
            self.assertAlmostEqual(tl.position(tl.mono(frame)), frame, delta=0.01)
            self.assertAlmostEqual(tl.mono(frame), self.starts[frame // PERIOD]
                                   + (frame % PERIOD) * frame_ns, delta=80e3)
        # The first cycle after a stall runs 2.4 ms after its place on the
        # new schedule; placed there with scheduled=True (the new schedule
        # settles 0.15 ms further on two cycles later).
        frame = 1000 * PERIOD + 31
        self.assertAlmostEqual(tl.mono(frame), self.starts[1000] + 2.4e6 + 31 * frame_ns, delta=80e3)
        self.assertAlmostEqual(tl.mono(frame, scheduled=True), self.starts[1000] + 0.15e6 + 31 * frame_ns,
                               delta=80e3)
        self.assertAlmostEqual(tl.mono(1200 * PERIOD, scheduled=True), tl.mono(1200 * PERIOD))
        # Before the first cycle the first cycle's schedule extends back.
        self.assertAlmostEqual(tl.position(self.starts[0] - 1e6), -48, delta=4)

    def test_excuse_windows_for_stalls_and_monotonic_windows(self):
        with LogFile(self.text) as path:
            stop = round(self.starts[999] + 1e6)
            with tempfile.NamedTemporaryFile("w", suffix=".win", delete=False) as w:
                w.write(f"# start end reason\n{stop} {stop + 40_000_000} injected stop\n")
            try:
                status, lines = run_cli("excuse", path, "--stalls", "--min-ms", "10",
                                        "--pad-ms", "20", "--mono-windows", w.name)
            finally:
                os.unlink(w.name)
        self.assertEqual(status, 0)
        rows = [line.split(None, 2) for line in lines]
        pos = 1000 * PERIOD / RATE
        self.assertEqual(len(rows), 3)  # the 5 ms stall is below --min-ms
        stall = [r for r in rows if r[2].startswith("jack-stall-") and float(r[0]) < 3]
        self.assertEqual(len(stall), 1)
        self.assertAlmostEqual(float(stall[0][0]), pos - 0.005, places=6)
        self.assertAlmostEqual(float(stall[0][1]), pos + 0.020, places=6)
        stop_row = [r for r in rows if r[2] == "injected stop"][0]
        self.assertAlmostEqual(float(stop_row[0]), (999 * PERIOD + 48) / RATE, delta=4 / RATE)
        # The stop ends before cycle 1000 runs (it runs 2.4 ms after its
        # place on the new schedule): at the stall's position.
        self.assertLess(stop + 40e6, self.starts[1000] + 2.4e6)
        self.assertAlmostEqual(float(stop_row[1]), pos, delta=1 / RATE)
        self.assertEqual(rows, sorted(rows, key=lambda r: float(r[0])))

    def test_a_playout_window_ends_later_by_what_a_stall_in_it_lost(self):
        # Audio due from 5 cycles before the 36.8 ms stall for 100 ms: it
        # plays that much later than its end maps to, playout being behind
        # until the backlog is skipped. The same window as a monotonic one
        # ends where its end maps to.
        with LogFile(self.text) as path:
            start = round(self.starts[995])
            with tempfile.NamedTemporaryFile("w", suffix=".win", delete=False) as w:
                w.write(f"{start} {start + 100_000_000} lost\n")
            try:
                rows = {}
                for kind in ("--mono-windows", "--playout-windows"):
                    status, lines = run_cli("excuse", path, kind, w.name)
                    self.assertEqual(status, 0)
                    rows[kind] = [float(v) for v in lines[0].split()[:2]]
            finally:
                os.unlink(w.name)
        mono, playout = rows["--mono-windows"], rows["--playout-windows"]
        self.assertEqual(playout[0], mono[0])
        self.assertAlmostEqual(playout[1] - mono[1], 0.0368, delta=0.0005)

    def test_a_window_before_the_recording_excuses_nothing(self):
        # A sender's silence before recording started maps to no window at
        # all, never to an empty one at 0 s (the judge refuses those). One
        # inside a stall's lost time is where JACK's time stood still: one
        # position, kept. As stream audio due then (--playout-windows), it
        # plays that stall's lost time later, so it reaches that much
        # further; the windows before the recording lag no stall.
        with LogFile(self.text) as path:
            lost_s = timeline.Timeline(timeline.CycleLog(path)).stalls(0.5)[0]["lost_ms"] / 1e3
            start = round(self.starts[0] - 500e6)
            lost = round(self.starts[999] + 10e6)
            with tempfile.NamedTemporaryFile("w", suffix=".win", delete=False) as w:
                w.write(f"{start} {start + 140_000_000} before\n"
                        f"{start + 400_000_000} {start + 540_000_000} across\n"
                        f"{lost} {lost + 10_000_000} stopped\n")
            try:
                runs = {kind: run_cli("excuse", path, kind, w.name) for kind in ("--mono-windows", "--playout-windows")}
            finally:
                os.unlink(w.name)
        for kind, (status, lines) in runs.items():
            with self.subTest(kind=kind):
                self.assertEqual(status, 0)
                rows = {r[2]: (float(r[0]), float(r[1])) for r in (line.split(None, 2) for line in lines)}
                self.assertEqual(sorted(rows), ["across", "stopped"])
                self.assertEqual(rows["across"][0], 0.0)
                self.assertAlmostEqual(rows["across"][1], 0.040, delta=1 / RATE)
                self.assertAlmostEqual(rows["stopped"][0], 1000 * PERIOD / RATE, delta=1 / RATE)
                lag = lost_s if kind == "--playout-windows" else 0.0
                self.assertAlmostEqual(rows["stopped"][1] - rows["stopped"][0], lag, delta=1 / RATE)

    def test_cli_stalls_and_at(self):
        with LogFile(self.text) as path:
            status, lines = run_cli("stalls", path, "--min-ms", "1")
            self.assertEqual(status, 0)
            self.assertEqual(len(lines), 3)
            pos, mono, lost = lines[0].split()
            self.assertAlmostEqual(float(pos), 1000 * PERIOD / RATE, places=6)
            self.assertAlmostEqual(float(lost), 36.95, delta=0.1)
            status, lines = run_cli("at", path, mono, round(self.starts[10]))
            self.assertEqual(status, 0)
            self.assertAlmostEqual(float(lines[0]), 1000 * PERIOD / RATE, delta=1 / RATE)
            self.assertAlmostEqual(float(lines[1]), 10 * PERIOD / RATE, delta=4 / RATE)


class RateTest(unittest.TestCase):
    def test_rate_between_stalls(self):
        for ppm in (0.0, 25.0, -300.0):
            with self.subTest(ppm=ppm):
                # 60 s, a stall every 3 s, some small steps and late callbacks.
                steps = {c: 37.0 for c in range(1125, 22500, 1125)}
                steps.update({c: 0.3 for c in range(400, 22500, 1500)})
                late = {c: 2.0 for c in range(77, 22500, 333)}
                text, _ = synth(22500, steps=steps, late=late, ppm=ppm, seed=3)
                with LogFile(text) as path:
                    r = timeline.Timeline(timeline.CycleLog(path)).rate()
                self.assertAlmostEqual(r["ppm"], ppm, delta=1.0)
                self.assertGreater(r["seconds"], 40)


class SkipTest(unittest.TestCase):
    def test_a_cycle_jack_ran_without_us_is_a_skip_not_a_stall(self):
        text, _ = synth(600, steps={300: 8.0})
        lines = text.split("\n")
        # Drop cycle 300's line and move the recording positions after it
        # back by a period: JACK's frames go on, the recording does not.
        body = [l for l in lines if l and not l.startswith("#")]
        head = [l for l in lines if l.startswith("#")]
        kept = []
        for i, line in enumerate(body):
            if i == 300:
                continue
            rec, frames, wake, n = line.split()
            if i > 300:
                rec = str(int(rec) - PERIOD)
            kept.append(" ".join((rec, frames, wake, n)))
        with LogFile("\n".join(head + kept) + "\n") as path:
            tl = timeline.Timeline(timeline.CycleLog(path))
            status, lines = run_cli("excuse", path, "--stalls", "--pad-ms", "10")
        self.assertEqual(tl.skips(),
                         [{"cycle": 300, "pos_s": 300 * PERIOD / RATE, "frames": PERIOD}])
        self.assertEqual([s["cycle"] for s in tl.stalls()], [300])
        self.assertAlmostEqual(tl.stalls()[0]["lost_ms"], 8.15, delta=0.1)
        self.assertEqual(status, 0)
        reasons = sorted(line.split()[2] for line in lines)
        self.assertEqual(len(reasons), 2)
        self.assertEqual(reasons[0], "jack-skip-128-frames")
        self.assertTrue(reasons[1].startswith("jack-stall-8."), reasons)


class PlayoutLagTest(unittest.TestCase):
    def test_playout_lag_outlasts_the_players_quiet_time(self):
        # A stall's backlog plays on until the player skips it, kQuietS
        # after the storm and a few cycles for JACK to settle: a playout
        # window must look back further than that.
        header = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "..", "..", "audio", "playout_clock.hpp")
        with open(header, encoding="utf-8") as f:
            match = re.search(r"kQuietS\s*=\s*([0-9.]+)\s*;", f.read())
        self.assertIsNotNone(match, "kQuietS not found in audio/playout_clock.hpp")
        settle_s = timeline.SETTLE_CYCLES * PERIOD / RATE
        self.assertGreater(timeline.PLAYOUT_LAG_S, float(match.group(1)) + settle_s)


class LogTest(unittest.TestCase):
    def test_frame_counter_wraps(self):
        text, _ = synth(400, steps={200: 10.0}, first_frame=(1 << 32) - 100 * PERIOD)
        with LogFile(text) as path:
            tl = timeline.Timeline(timeline.CycleLog(path))
        self.assertEqual([s["cycle"] for s in tl.stalls()], [200])
        self.assertAlmostEqual(tl.stalls()[0]["lost_ms"], 10.15, delta=0.1)

    def test_bad_logs_are_one_line_errors(self):
        for text, why in (("0 1 2 3\n", "no '# rate' line"), ("# rate 48000\n", "no cycles"),
                          ("# rate 48000\n0 x 2 3\n", "want 'rec_frame")):
            with self.subTest(why=why), LogFile(text) as path:
                with self.assertRaises(timeline.LogError) as e:
                    timeline.CycleLog(path)
                self.assertIn(why, str(e.exception))


if __name__ == "__main__":
    unittest.main()
