"""What the benchmark drivers share: free ports, background processes stopped
by PID, bounded JACK command-line clients, rtp2jack's --stats json lines,
and the report's header."""
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from free_port import free_port  # noqa: E402,F401  (re-exported)


class Procs:
    """Background processes with their output in TMP/NAME.log, each stopped
    by its PID (TERM, then KILL). gst-launch-1.0 gets INT instead, on which
    it shuts its pipeline down and closes its JACK client itself, also when
    a wrapper that execs it (chrt, stdbuf) starts it."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.live = []

    def start(self, name, argv, env=None, stdout=None):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=stdout or log, stderr=log if stdout else subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, text=True)
        p.log_path = log.name
        gst = any(os.path.basename(a) == "gst-launch-1.0" for a in argv)
        p.stop_signal = signal.SIGINT if gst else signal.SIGTERM
        self.live.append(p)
        return p

    def stop(self, p, timeout=10):
        if p.poll() is None:
            p.send_signal(p.stop_signal)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in reversed(list(self.live)):
            self.stop(p)


def exit_on_sigterm():
    """SIGTERM (timeout, kill) ends the run through the caller's finally,
    which stops every process it started, the JACK servers included."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def poll(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def jack_opus_sender(client_name, clients, src_props="buffer-time=20000 latency-time=5000",
                     encoder_props="audio-type=restricted-lowdelay", sink_props="sync=false", frame_ms=5,
                     rt_priority=3):
    """argv of a GStreamer sender that takes its audio from JACK (ports
    CLIENT_NAME:in_jackaudiosrc0_1/2, unconnected) in Opus frames of
    FRAME_MS at 128 kbit/s and sends every packet to CLIENTS (host:port
    strings). Driven by the JACK cycle, its packets stray from their schedule
    in a fixed pattern (5 ms frames cut from 2.67 ms periods: up to 2.4 ms).
    With RT_PRIORITY > 0 it runs SCHED_FIFO (chrt): its streaming thread
    otherwise wakes late now and then on a busy machine (latency_bench.py)."""
    cmd = (f"jackaudiosrc client-name={client_name} connect=none {src_props} "
           "! audio/x-raw,channels=2 ! audioconvert "
           f"! opusenc bitrate=128000 frame-size={frame_ms:g} {encoder_props} ! rtpopuspay pt=96 "
           f"! multiudpsink {sink_props} clients={','.join(clients)}")
    rt = ["chrt", "-f", str(rt_priority)] if rt_priority > 0 else []
    return [*rt, "gst-launch-1.0", "-q", *cmd.split()]


def jack_cmd(argv, env=None, check=False):
    """A JACK command-line client's output. Bounded: now and then a client
    hangs while another one registers (seen with jack_lsp on a -S server);
    it is killed and tried again."""
    for _ in range(3):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=5, env=env)
        except subprocess.TimeoutExpired:
            continue
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
        return r.stdout
    raise RuntimeError(f"{' '.join(argv)} hung three times")


def again_on_jam(procs, run_round, tries, label):
    """run_round() again, every process stopped first, when the JACK server
    jammed: on this VM the synchronous dummy server now and then stops
    running its graph for good ("SuspendRefNum error ... engine may now
    behave abnormally", then every client times out), for every receiver
    alike, most often after a round of dozens of clients. run_round starts
    its own fresh server. Returns its result and how many times it jammed."""
    for attempt in range(tries):
        try:
            return run_round(), attempt
        except (subprocess.TimeoutExpired, RuntimeError) as e:
            if attempt == tries - 1:
                raise
            print(f"{label}: the JACK server jammed ({e}); the round again on a fresh one", flush=True)
            procs.stop_all()


JACKD_OPTS = "-S -t 2000"


class Jack:
    """A private dummy JACK server (synchronous, as the tests run theirs)."""

    def __init__(self, procs, name, rate=48000, period=128):
        self.name = name
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        # JACKD_OPTS as in tests/lib/jack.sh, here by default with a 2 s
        # client timeout: with the default one a client slow to answer once
        # (a busy VM) jammed the synchronous dummy server for good in 3 of 4
        # rounds of one latency run; with 2 s, in 6 of 28 of the next
        # (bench/latency_bench.py runs those again on a fresh server).
        opts = os.environ.get("JACKD_OPTS", JACKD_OPTS).split()
        self.proc = procs.start(f"jackd-{name}", ["jackd", *opts, "-n", name, "-d", "dummy",
                                                 "-r", str(rate), "-p", str(period)])
        try:
            poll(f"jackd {name}", lambda: jack_cmd(["jack_wait", "-s", name, "-c"], self.env).strip() == "running",
                 10)
        except RuntimeError:
            with open(self.proc.log_path) as f:
                if "Too many servers already active" in f.read():
                    # libjack frees a dead server's slot (of 8) only for a
                    # server of the same name: killed servers of other
                    # names fill the registry for good.
                    raise RuntimeError("JACK's server registry is full of servers killed earlier; "
                                       "with no jackd running, remove /dev/shm/jack-shm-registry") from None
            raise

    def ports(self):
        return jack_cmd(["jack_lsp"], self.env).split()

    def connect(self, a, b):
        jack_cmd(["jack_connect", a, b], self.env, check=True)

    def xruns(self):
        with open(self.proc.log_path) as f:
            return sum(1 for line in f if "XRun" in line)


def stats_lines(path):
    """rtp2jack's --stats json lines in PATH (a line being written is skipped)."""
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("{") and line.endswith("}\n"):
                out.append(json.loads(line))
    return out


def last_stats(path):
    lines = stats_lines(path)
    return lines[-1] if lines else None


def final_stats(path):
    finals = [s for s in stats_lines(path) if s.get("final")]
    return finals[-1] if finals else None


def revision(src=ROOT):
    """The commit the sources at SRC are at, "-dirty" if a tracked file
    outside bench/results, other than Markdown, differs from it: a
    benchmark's own reports, written as a run of several goes on, and the
    documents its figures go into are not the code it measures."""
    run = lambda *a: subprocess.run(["git", "-C", src, *a], capture_output=True, text=True)
    rev = run("describe", "--always").stdout.strip()
    if rev and run("diff", "--quiet", "HEAD", "--", ".", ":(exclude)bench/results",
                   ":(exclude,glob)**/*.md").returncode != 0:
        rev += "-dirty"
    return rev


def build_revision(build):
    """The revision a build directory's sources are at (its CMake cache's source dir)."""
    src = None
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("CMAKE_HOME_DIRECTORY"):
                src = line.split("=", 1)[1].strip()
    if src is None:
        return "?"
    return revision(src) or "?"


def two_builds(build, other):
    """An A/B's builds by key ("this", "other"), and the revision each is at."""
    builds = {"this": os.path.abspath(build), "other": os.path.abspath(other)}
    return builds, {k: build_revision(v) for k, v in builds.items()}


def turns(i):
    """The order of an A/B's i-th round: swapped every round."""
    return ("this", "other") if i % 2 == 0 else ("other", "this")


def header(title, command):
    """The report's first lines: what ran, where, when, on which revision."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rev = revision()
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return [f"# {title}", "",
            f"- Date: {now}; revision {rev}; {platform.node()}, {os.cpu_count()} CPUs ({cpu}), "
            f"kernel {platform.release()}",
            f"- Command: `{command}`"]


def write_report(lines, out):
    text = "\n".join(lines) + "\n"
    print(text)
    if out != "-":
        with open(out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    # `python3 bench/benchlib.py revision`: the same revision for the shell
    # benchmarks as for the Python ones.
    if sys.argv[1:] != ["revision"]:
        sys.exit("usage: benchlib.py revision")
    print(revision() or "unknown")
