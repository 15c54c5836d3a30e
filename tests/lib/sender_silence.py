#!/usr/bin/env python3
"""sender_silence.py PCAP PORT CHANNELS [--pre-ms MS] [--post-ms MS]

Where a PCM sender (L16) sent silence in the middle of its audio: a
sender that misses its own graph's cycle (a host stall starving the
application that feeds it) fills the packet with zeros. A tone at any
level has no run of 8 exactly silent frames; the first and last audible
frames bound where runs are looked for.

Prints one window per run on CLOCK_MONOTONIC (`START_NS END_NS REASON`,
tests/lib/timeline.py's --mono-windows): from PRE ms (default 0: nothing
plays before it arrives) after the first silent frame arrived to POST ms
(default 140) after the last one did. The capture's times are the wall
clock's, moved to CLOCK_MONOTONIC by the offset between the two read now:
run it right after the capture.
"""
import argparse
import subprocess
import sys
import time

MIN_RUN = 8


def wall_minus_mono_ns():
    best = None
    for _ in range(5):
        a = time.monotonic_ns()
        w = time.time_ns()
        b = time.monotonic_ns()
        if best is None or b - a < best[0]:
            best = (b - a, w - (a + b) // 2)
    return best[1]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pcap")
    p.add_argument("port", type=int)
    p.add_argument("channels", type=int)
    p.add_argument("--pre-ms", type=float, default=0)
    p.add_argument("--post-ms", type=float, default=140)
    a = p.parse_args(argv)
    out = subprocess.run(
        ["tshark", "-r", a.pcap, "-d", f"udp.port=={a.port},rtp", "-Y", "rtp", "-T", "fields",
         "-e", "frame.time_epoch", "-e", "rtp.timestamp", "-e", "rtp.payload"],
        check=True, capture_output=True, text=True).stdout
    packets = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 3 or not f[2]:
            continue
        arrival_ns = int(round(float(f[0]) * 1e9))
        payload = bytes.fromhex(f[2].replace(":", ""))
        frame_bytes = 2 * a.channels
        silent = [payload[i:i + frame_bytes] == bytes(frame_bytes)
                  for i in range(0, len(payload) - frame_bytes + 1, frame_bytes)]
        packets.setdefault(int(f[1]), (arrival_ns, silent))
    # Frames in timestamp order (32-bit wrap ignored: a test's stream is short).
    frames = []
    for ts in sorted(packets):
        arrival_ns, silent = packets[ts]
        frames.extend((arrival_ns, s) for s in silent)
    audible = [i for i, (_, s) in enumerate(frames) if not s]
    if not audible:
        return 0
    offset = wall_minus_mono_ns()
    i, last = audible[0], audible[-1]
    while i <= last:
        if not frames[i][1]:
            i += 1
            continue
        j = i
        while j <= last and frames[j][1]:
            j += 1
        if j - i >= MIN_RUN:
            start = frames[i][0] - offset + int(a.pre_ms * 1e6)
            end = frames[j - 1][0] - offset + int(a.post_ms * 1e6)
            print(start, end, f"sender-silence-{j - i}-frames")
        i = j
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
