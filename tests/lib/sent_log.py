#!/usr/bin/env python3
"""sent_log.py: what udp_relay sent (its --send-log), for the tests' judges.

    sent_log.py late SENT_LOG CYCLES LATENCY_MS

`late` prints an excuse window (START_S END_S REASON, recording positions
as timeline.py's `excuse` prints them) for the playout of each packet sent
later than the target absorbs: by a sender in JACK's graph, whose RTP
timestamps follow JACK's frames, or by a relay whose path held it back.
Its lateness is on JACK's timeline: where the relay sent it in the
recording (tests/lib/timeline.py `at`: JACK's time stands still in a
stall) less its timestamp, above the least of the 2 s before it (the
first packets of the recording are judged by fewer). For a sender outside
JACK a stall of JACK's makes the packets after it read earlier, never
later: what it holds back is for playout to skip, not late.
Later than the target less playout's own cost (a period, the render-ahead
and net's 3 ms margin: 6 ms at 48 kHz / 128) less 1 ms for the measure: a
jackaudiosrc sender's own pattern stays within 1.7 ms. The window runs
from 20 ms before its playout to 80 ms after (that frame and Opus's way
back over the next two), as a lost packet's does in playout_test.sh.
"""
import os
import subprocess
import sys

PLAYOUT_COST_MS = 6.0  # a period, the render-ahead, net's repair margin
MEASURE_MS = 1.0


def read(path):
    """The RTP packets of a send log, in order: (sent_mono_ns, seq, rtp_ts
    unwrapped across 2**32)."""
    sent = []
    for line in open(path):
        ns, seq, ts, _ = map(int, line.split())
        if ts < 0:
            continue
        if sent:
            prev = sent[-1][2]
            ts = prev + ((ts - prev) % 2**32 + 2**31) % 2**32 - 2**31
        sent.append((ns, seq, ts))
    return sent


def late(sent_path, cycles, latency_ms, rate=48000):
    sent = read(sent_path)
    timeline = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timeline.py")
    at = subprocess.run([sys.executable, timeline, "at", cycles] + [str(ns) for ns, _, _ in sent],
                        check=True, capture_output=True, text=True).stdout.split()
    over_s = (latency_ms - PLAYOUT_COST_MS - MEASURE_MS) / 1000
    # Those sent while the recording ran (before it, `at` only extrapolates).
    rows = [(float(pos), seq, float(pos) - (ts - sent[0][2]) / rate)
            for pos, (_, seq, ts) in zip(at, sent) if float(pos) >= 0]
    for i, (pos, seq, transit) in enumerate(rows):
        base = min(t for p, _, t in rows[:i + 1] if p >= pos - 2)
        if transit - base > over_s:
            due = pos - (transit - base) + latency_ms / 1000  # where its playout begins
            print(f"{due - 0.02:.6f} {due + 0.08:.6f} late-seq-{seq}-{(transit - base) * 1000:.1f}ms")


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "late":
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    late(sys.argv[2], sys.argv[3], float(sys.argv[4]))
