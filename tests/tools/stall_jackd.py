#!/usr/bin/env python3
"""Stalls a process on purpose: SIGSTOP, a short wait, SIGCONT, repeatedly.

    stall_jackd.py --pid P --every-s 3 --stall-ms 40 --log FILE
                   [--first-s S] [--count N]

Meant for a test's own jackd: a stopped server loses the time it was
stopped (tests/lib/timeline.py finds it in jack_tap's cycle log), while
senders outside JACK go on.

Each stall is logged as one line `STOP_MONO_NS CONT_MONO_NS`, on
CLOCK_MONOTONIC (time.monotonic_ns), flushed at once. The target is stopped
throughout [STOP, CONT]: STOP is read once every thread of the target shows
as stopped in /proc (kill() returns before that: a real-time jackd thread
on the other core ran a whole JACK cycle, 0.45 ms, after it), CONT just
before kill(SIGCONT) (read after it, it came up to 0.6 ms late: the resumed
jackd ran before this script read the clock). The stall lasts --stall-ms
from STOP.

Stops after --count stalls, or at SIGTERM/SIGINT; the target is always left
running (SIGCONT on every way out). Exit: 0 done, 1 the target vanished or
did not stop, 2 bad usage.
"""

import argparse
import os
import signal
import sys
import time

# Every default in one place; --help prints them.
DEFAULT_EVERY_S = 3.0
DEFAULT_STALL_MS = 40.0
STOP_TIMEOUT_S = 1.0  # a target whose threads do not all stop by then is an error


class Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to end the schedule."""


def on_signal(signum, frame):
    raise Stop()


def all_stopped(pid):
    """True when every thread of pid is stopped (or gone)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        raise ProcessLookupError(pid)
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            continue  # the thread ended
        # The state follows the command name, which is in parentheses and
        # may itself hold spaces or parentheses.
        if stat[stat.rindex(")") + 2] not in "TtZX":
            return False
    return True


def wait_stopped(pid, timeout_s=STOP_TIMEOUT_S):
    """Polls until every thread of pid is stopped; False on timeout."""
    deadline = time.monotonic_ns() + int(timeout_s * 1e9)
    while not all_stopped(pid):
        if time.monotonic_ns() > deadline:
            return False
    return True


def sleep_until(deadline_ns):
    """Sleeps until time.monotonic_ns() >= deadline_ns (sleep may wake early)."""
    while True:
        left = deadline_ns - time.monotonic_ns()
        if left <= 0:
            return
        time.sleep(left / 1e9)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="SIGSTOP/SIGCONT a process periodically and log each stall "
        "as 'STOP_MONO_NS CONT_MONO_NS'.")
    p.add_argument("--pid", type=int, required=True, help="the process to stall")
    p.add_argument("--every-s", type=float, default=DEFAULT_EVERY_S,
                   help="from one stall's start to the next (default %(default)s)")
    p.add_argument("--stall-ms", type=float, default=DEFAULT_STALL_MS,
                   help="how long each stall lasts (default %(default)s)")
    p.add_argument("--first-s", type=float, default=None,
                   help="wait before the first stall (default: --every-s)")
    p.add_argument("--count", type=int, default=None,
                   help="stop after this many stalls (default: until SIGTERM)")
    p.add_argument("--log", required=True, help="file to write the stalls to")
    a = p.parse_args(argv)
    if a.every_s <= 0 or a.stall_ms <= 0 or a.every_s * 1e3 <= a.stall_ms:
        p.error("need 0 < --stall-ms < --every-s * 1000")
    if a.first_s is None:
        a.first_s = a.every_s
    if a.first_s < 0 or (a.count is not None and a.count < 0):
        p.error("--first-s and --count must not be negative")
    return a


def main(argv):
    a = parse_args(argv)
    try:
        os.kill(a.pid, 0)
    except OSError as e:
        print(f"stall_jackd: cannot signal pid {a.pid}: {e.strerror}", file=sys.stderr)
        return 2
    log = open(a.log, "w", buffering=1)  # one flushed line per stall
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # `stopped` turns True before the SIGSTOP and False only once the stall
    # is logged: wherever the SIGTERM handler raises, the finally clause
    # sends SIGCONT if the target may be stopped (a spare SIGCONT is
    # harmless) and logs that stall.
    stopped = False
    stop_ns = None
    n = 0
    try:
        next_ns = time.monotonic_ns() + int(a.first_s * 1e9)
        while a.count is None or n < a.count:
            sleep_until(next_ns)
            stop_ns = None
            stopped = True
            os.kill(a.pid, signal.SIGSTOP)
            if not wait_stopped(a.pid):
                print(f"stall_jackd: pid {a.pid} did not stop within {STOP_TIMEOUT_S} s",
                      file=sys.stderr)
                return 1
            stop_ns = time.monotonic_ns()
            sleep_until(stop_ns + int(a.stall_ms * 1e6))
            cont_ns = time.monotonic_ns()
            os.kill(a.pid, signal.SIGCONT)
            log.write(f"{stop_ns} {cont_ns}\n")
            stopped = False
            n += 1
            next_ns += int(a.every_s * 1e9)
    except Stop:
        pass
    except ProcessLookupError:
        print(f"stall_jackd: pid {a.pid} is gone", file=sys.stderr)
        return 1
    finally:
        if stopped:
            try:
                cont_ns = time.monotonic_ns()
                os.kill(a.pid, signal.SIGCONT)
                log.write(f"{stop_ns or cont_ns} {cont_ns}\n")
            except ProcessLookupError:
                pass
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
