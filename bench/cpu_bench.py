#!/usr/bin/env python3
"""cpu_bench.py BUILD_DIR [options]: CPU, callback cost, scale and memory.

1. CPU per stream, --runs times at each frame size (where the scheduler
   puts each thread, and which client ends JACK's cycle and is preempted by
   the server's thread as it hands the cycle back, moves a process's cost
   by tens of percent): the median of the runs' ratios is the figure. A run
   is two halves of its window, each on a fresh server with fresh
   processes: in one rtp2jack starts first, in the other the reference.
   The JACK client that starts first often pays more per cycle (here
   tenths of a second a minute), so a run's figures are its two halves
   together. In each half one real
   GStreamer sender (pink noise, 48 kHz stereo,
   Opus 128 kbit/s) sends every packet to three receivers at once
   (multiudpsink), all on one private dummy JACK server (48 kHz / 128):
     - rtp2jack (--latency 30),
     - the GStreamer reference receiver (udpsrc ! rtpjitterbuffer latency=30
       ! rtpopusdepay ! opusdec ! audioconvert ! jackaudiosink sync=false),
     - the floor: bench/opus_floor (UDP + libopus decode, nothing else)
       plus jack_thru (a minimal JACK client) on the same server.
   CPU seconds the scheduler ran each process (/proc/PID/task/*/schedstat,
   every thread, to the nanosecond) per minute of audio, and per thread for
   rtp2jack and the reference, at 20 ms and at 2.5 ms frames, measured over the same window.
   A last 2.5 ms round, outside the medians, lasts as long as an hour of
   20 ms traffic in packets (--hour-packets, 180 000 packets = 7.5 min)
   and gives the memory figure: rtp2jack's resident size at the start of
   the window and at its end.
2. Process-callback cost: bench/callback_cost (rtp2jack with its callback
   timed) on servers with 64 and 128 frame periods, 2.5 ms frames.
3. Scale: N rtp2jack processes, each receiving the 20 ms stream (the same
   packets, to N ports), N doubling until one of them underruns or
   receives late; and the network thread's cost per packet, from its own
   thread's CPU time.
4. Rescue: what a small --latency costs. Two rtp2jack, at 7 and 30 ms
   (--rescue-latency), on one real-time JACK-driven sender of pink noise
   (5 ms frames, as in latency_bench.py): at 7 ms, 1 ms above what playout
   itself costs at 48 kHz / 128, most packets come after net's repair
   deadline, are concealed, and then decoded over their concealment
   (rescued). CPU of each over the same window.

Prints a Markdown report and writes it to --out
(default bench/results/cpu-latest.md).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import benchlib
from benchlib import Procs, final_stats, free_port, last_stats, poll

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User and system CPU seconds of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def thread_cpu_s(pid, name):
    """User+system CPU seconds of the process's threads called NAME."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


def run_s(pid):
    """CPU seconds the scheduler ran the process, all its threads, to the
    nanosecond (/proc/PID/task/TID/schedstat). utime and stime are sampled
    at the scheduler tick (250 Hz here): a thread that wakes for tens of
    microseconds every JACK period is charged a whole tick or nothing,
    depending on when the tick falls, so they misstate short bursts."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def thread_run_s(pid):
    """{(tid, name): CPU seconds} of the process's live threads (schedstat)."""
    return {k: v[0] for k, v in thread_stats(pid).items()}


def thread_stats(pid):
    """{(tid, name): (CPU seconds, voluntary switches, involuntary switches)}
    of the process's live threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run = int(f.read().split()[0]) / 1e9
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
            out[(tid, name)] = (run, int(st["voluntary_ctxt_switches"]), int(st["nonvoluntary_ctxt_switches"]))
        except (OSError, KeyError, ValueError):
            pass
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Jack(benchlib.Jack):
    def __init__(self, procs, period):
        super().__init__(procs, f"cpubench_{os.getpid()}_{period}", 48000, period)


def sender(procs, jack, frame_ms, ports):
    clients = ",".join(f"127.0.0.1:{p}" for p in ports)
    cmd = ("audiotestsrc is-live=true wave=pink-noise volume=0.3 samplesperbuffer=120 "
           "! audio/x-raw,rate=48000,channels=2 ! audioconvert "
           f"! opusenc bitrate=128000 frame-size={frame_ms:g} ! rtpopuspay pt=96 "
           f"! multiudpsink clients={clients}")
    return procs.start(f"sender-{frame_ms:g}", ["gst-launch-1.0", "-q", *cmd.split()], env=jack.env)


def rtp2jack_argv(args, port, latency=30, binary=None):
    return [binary or args.rtp2jack, "--bind", "127.0.0.1", "--port", str(port), "--latency", str(latency),
            "--connect", "none", "--stats", "json", "--stats-interval", "5"]


def cpu_round(args, procs, jack, frame_ms, seconds, first="rtp2jack"):
    """One window: rtp2jack and the reference (FIRST of them started, and
    its JACK client up, before the other), the floor's two processes."""
    p_rx, p_ref, p_floor = free_port(), free_port(), free_port()
    ref_cmd = (f"udpsrc address=127.0.0.1 port={p_ref} "
               "caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96 "
               "! rtpjitterbuffer latency=30 do-lost=true drop-on-latency=true "
               "! rtpopusdepay ! opusdec plc=true ! audioconvert "
               "! jackaudiosink client-name=gstref connect=none sync=false")
    start = {
        "rtp2jack": lambda: procs.start(f"rtp2jack-{frame_ms:g}", rtp2jack_argv(args, p_rx), env=jack.env),
        "reference": lambda: procs.start(f"reference-{frame_ms:g}", ["gst-launch-1.0", "-q", *ref_cmd.split()],
                                         env=jack.env),
    }
    ports = {"rtp2jack": lambda: any(p.startswith("rtp2jack:") for p in jack.ports()),
             "reference": lambda: any(p.startswith("gstref:") for p in jack.ports())}
    second = "reference" if first == "rtp2jack" else "rtp2jack"
    # The reference opens its JACK client when the first packet comes: the
    # sender starts first.
    floor = procs.start(f"opus_floor-{frame_ms:g}", [args.opus_floor, str(p_floor)])
    send = sender(procs, jack, frame_ms, [p_rx, p_ref, p_floor])
    started = {first: start[first]()}
    poll(f"{first}'s ports", ports[first], 15)
    started[second] = start[second]()
    poll(f"{second}'s ports", ports[second], 15)
    rx, ref = started["rtp2jack"], started["reference"]
    thru = procs.start(f"jack_thru-{frame_ms:g}", ["jack_thru"], env=jack.env)
    time.sleep(args.warmup)
    who = {"rtp2jack": rx, "reference": ref, "opus_floor": floor, "jack_thru": thru}
    t0 = time.monotonic()
    c0 = {k: cpu_s(p.pid) for k, p in who.items()}
    r0 = {k: run_s(p.pid) for k, p in who.items()}
    t0s = {k: thread_stats(who[k].pid) for k in ("rtp2jack", "reference")}
    net0 = thread_cpu_s(rx.pid, "rtp2jack-net")
    rss0 = {k: rss_kib(p.pid) for k, p in who.items()}
    pk0 = (last_stats(rx.log_path) or {}).get("packets_received", 0)
    xr0 = jack.xruns()
    time.sleep(seconds)
    c1 = {k: cpu_s(p.pid) for k, p in who.items()}
    r1 = {k: run_s(p.pid) for k, p in who.items()}
    t1s = {k: thread_stats(who[k].pid) for k in ("rtp2jack", "reference")}
    net1 = thread_cpu_s(rx.pid, "rtp2jack-net")
    rss1 = {k: rss_kib(p.pid) for k, p in who.items()}
    elapsed = time.monotonic() - t0
    xr1 = jack.xruns()
    procs.stop(send)
    for p in (rx, ref, floor, thru):
        procs.stop(p)
    stats = final_stats(rx.log_path) or {}
    per_min = {k: (r1[k] - r0[k]) * 60 / elapsed for k in who}
    ticks_per_min = {k: ((c1[k][0] - c0[k][0]) + (c1[k][1] - c0[k][1])) * 60 / elapsed for k in who}
    # Per thread: s per minute, and voluntary and involuntary switches a
    # second (JACK's process thread sleeps once a period; an involuntary
    # switch there is mostly the server's thread preempting it as it hands
    # the cycle back).
    zero = (0.0, 0, 0)
    threads = {k: sorted((((t1s[k][t][0] - t0s[k].get(t, zero)[0]) * 60 / elapsed, t[1],
                           (t1s[k][t][1] - t0s[k].get(t, zero)[1]) / elapsed,
                           (t1s[k][t][2] - t0s[k].get(t, zero)[2]) / elapsed) for t in t1s[k]),
                         reverse=True) for k in t1s}
    split = {k: ((c1[k][0] - c0[k][0]) * 60 / elapsed, (c1[k][1] - c0[k][1]) * 60 / elapsed) for k in who}
    packets = stats.get("packets_received", 0) - pk0
    return {
        "frame_ms": frame_ms, "seconds": elapsed, "first": first, "per_min": per_min, "ticks_per_min": ticks_per_min,
        "threads": threads,
        "split": split,
        "rss0": rss0, "rss1": rss1, "stats": stats, "packets": packets,
        "net_cpu_s": net1 - net0, "xruns": xr1 - xr0,
    }


def rescue_round(args, procs, seconds):
    """What a small --latency costs. At a few milliseconds almost every
    packet of a JACK-driven sender comes after net's repair deadline: net
    conceals its place, then decodes the packet over that concealment
    (rescued). Two rtp2jack, at args.rescue_latency's two targets, on one
    real-time JACK-driven sender of pink noise; CPU over the same window."""
    jack = Jack(procs, 128)
    tone = procs.start("tone", ["gst-launch-1.0", "-q", *("audiotestsrc wave=pink-noise volume=0.3 "
                                "! audio/x-raw,rate=48000,channels=2 "
                                "! jackaudiosink client-name=tone connect=none").split()], env=jack.env)
    ports = [free_port() for _ in args.rescue_latency]
    send = procs.start("sender-jack", benchlib.jack_opus_sender("snd", [f"127.0.0.1:{p}" for p in ports]),
                       env=jack.env)
    for c in (1, 2):
        poll("the tone's and the sender's JACK ports",
             lambda: {f"tone:out_jackaudiosink0_{c}", f"snd:in_jackaudiosrc0_{c}"} <= set(jack.ports()), 15)
        jack.connect(f"tone:out_jackaudiosink0_{c}", f"snd:in_jackaudiosrc0_{c}")
    rxs = [procs.start(f"rescue-{lat:g}", rtp2jack_argv(args, p, lat), env=jack.env)
           for lat, p in zip(args.rescue_latency, ports)]
    time.sleep(args.warmup)
    t0 = time.monotonic()
    c0 = [sum(cpu_s(p.pid)) for p in rxs]
    time.sleep(seconds)
    c1 = [sum(cpu_s(p.pid)) for p in rxs]
    elapsed = time.monotonic() - t0
    for p in (*rxs, send, tone):
        procs.stop(p)
    procs.stop(jack.proc)
    return [{"latency": lat, "core_pct": 100 * (b - a) / elapsed, "stats": final_stats(p.log_path) or {}}
            for lat, a, b, p in zip(args.rescue_latency, c0, c1, rxs)]


def pcm_round(args, procs, seconds):
    """1000 packets a second: L24 stereo in 1 ms packets (AES67's packet
    time) from GStreamer to rtp2jack and to the GStreamer reference
    (rtpjitterbuffer ! rtpL24depay ! jackaudiosink), every packet to both;
    CPU of each and of rtp2jack's net thread per packet, over one window."""
    jack = Jack(procs, 128)
    p_rx, p_ref = free_port(), free_port()
    rx = procs.start("pcm-rtp2jack", [*rtp2jack_argv(args, p_rx, 20), "--format", "L24/48000/2"], env=jack.env)
    ref_cmd = (f"udpsrc address=127.0.0.1 port={p_ref} "
               "caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=L24,channels=2,payload=96 "
               "! rtpjitterbuffer latency=20 do-lost=true drop-on-latency=true ! rtpL24depay ! audioconvert "
               "! jackaudiosink client-name=gstref connect=none sync=false")
    ref = procs.start("pcm-reference", ["gst-launch-1.0", "-q", *ref_cmd.split()], env=jack.env)
    send_cmd = ("audiotestsrc is-live=true wave=pink-noise volume=0.3 samplesperbuffer=48 "
                "! audio/x-raw,rate=48000,channels=2,format=S24BE "
                "! rtpL24pay pt=96 min-ptime=1000000 max-ptime=1000000 "
                f"! multiudpsink clients=127.0.0.1:{p_rx},127.0.0.1:{p_ref}")
    send = procs.start("pcm-sender", ["gst-launch-1.0", "-q", *send_cmd.split()], env=jack.env)
    poll("rtp2jack playing", lambda: (last_stats(rx.log_path) or {}).get("playing"), 15)
    time.sleep(args.warmup)
    net0 = sum(v for (_, n), v in thread_run_s(rx.pid).items() if n == "rtp2jack-net")
    c0 = {"rtp2jack": run_s(rx.pid), "reference": run_s(ref.pid)}
    k0 = (last_stats(rx.log_path) or {}).get("packets_received", 0)
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    net1 = sum(v for (_, n), v in thread_run_s(rx.pid).items() if n == "rtp2jack-net")
    c1 = {"rtp2jack": run_s(rx.pid), "reference": run_s(ref.pid)}
    for p in (send, rx, ref):
        procs.stop(p)
    procs.stop(jack.proc)
    stats = final_stats(rx.log_path) or {}
    packets = stats.get("packets_received", 0) - k0
    return {"seconds": elapsed, "packets": packets,
            "per_min": {k: (c1[k] - c0[k]) * 60 / elapsed for k in c0},
            "net_us_per_packet": (net1 - net0) / packets * 1e6 if packets else 0, "stats": stats}


def callback_round(args, procs, period, seconds):
    jack = Jack(procs, period)
    port = free_port()
    env = dict(jack.env, CALLBACK_COST_SKIP_S=str(args.warmup))
    rx = procs.start(f"callback_cost-{period}", rtp2jack_argv(args, port, 20, args.callback_cost), env=env)
    send = sender(procs, jack, 2.5, [port])
    time.sleep(args.warmup + seconds)
    procs.stop(send)
    procs.stop(rx)
    procs.stop(jack.proc)
    with open(rx.log_path) as f:
        lines = [l for l in f if l.startswith("callback_cost:")]
    res = json.loads(lines[-1].split(":", 1)[1]) if lines else {}
    res["stats"] = final_stats(rx.log_path) or {}
    return res


def scale_round(args, procs, jack, n, seconds):
    ports = [free_port() for _ in range(n)]
    rxs = [procs.start(f"scale{n}-{i}", rtp2jack_argv(args, p, 40), env=jack.env) for i, p in enumerate(ports)]
    send = sender(procs, jack, 20, ports)
    time.sleep(args.warmup)
    c0 = [cpu_s(p.pid) for p in rxs]
    xr0 = jack.xruns()
    t0 = time.monotonic()
    idle0 = cpu_idle()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    idle1 = cpu_idle()
    c1 = [cpu_s(p.pid) for p in rxs]
    xr1 = jack.xruns()
    procs.stop(send)
    for p in rxs:
        procs.stop(p)
    stats = [final_stats(p.log_path) or {} for p in rxs]
    bad = sum(1 for s in stats if s.get("underruns", 1) or s.get("packets_late", 1) or not s.get("packets_received"))
    cpu = sum((b[0] - a[0]) + (b[1] - a[1]) for a, b in zip(c0, c1)) * 60 / elapsed
    return {"n": n, "bad": bad, "underruns": sum(s.get("underruns", 0) for s in stats),
            "late": sum(s.get("packets_late", 0) for s in stats), "cpu_per_min": cpu,
            "idle": (idle1 - idle0) / elapsed / os.cpu_count(), "xruns": xr1 - xr0}


def cpu_idle():
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[4]) + int(fields[5])) / TICK


def main():
    benchlib.exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5, help="CPU runs at each frame size, each on a fresh server")
    ap.add_argument("--seconds", type=float, default=40, help="each CPU run's window")
    ap.add_argument("--hour-packets", type=int, default=180000,
                    help="the last 2.5 ms run's window in packets (an hour of 20 ms frames)")
    ap.add_argument("--callback-seconds", type=float, default=60)
    ap.add_argument("--scale-seconds", type=float, default=20)
    ap.add_argument("--scale-max", type=int, default=64)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--rescue-seconds", type=float, default=20)
    ap.add_argument("--rescue-latency", type=float, nargs=2, default=[7.0, 30], metavar=("LOW", "HIGH"),
                    help="the two --latency values of the rescue round")
    ap.add_argument("--pcm-seconds", type=float, default=60)
    ap.add_argument("--only", choices=["cpu", "callback", "scale", "rescue", "pcm"])
    ap.add_argument("--out", default=os.path.join(benchlib.HERE, "results", "cpu-latest.md"))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    args.rtp2jack = os.path.join(build, "rtp2jack")
    args.opus_floor = os.path.join(build, "bench", "opus_floor")
    args.callback_cost = os.path.join(build, "bench", "callback_cost")
    tmp = tempfile.mkdtemp(prefix="rtp2jack-cpubench.")
    procs = Procs(tmp)
    out = {"cpu": [], "callback": [], "scale": [], "rescue": [], "pcm": None}
    try:
        if args.only in (None, "cpu"):
            for frame_ms in (20, 2.5):
                halves = [(run, first, args.seconds / 2) for run in range(1, args.runs + 1)
                          for first in ("rtp2jack", "reference")]
                if frame_ms == 2.5:
                    halves.append(("memory", "rtp2jack", args.hour_packets * 0.0025))
                for run, first, seconds in halves:
                    jack = Jack(procs, 128)
                    r = cpu_round(args, procs, jack, frame_ms, seconds, first)
                    r["run"] = run
                    out["cpu"].append(r)
                    print(f"cpu {frame_ms:g} ms run {run}, {first} first:", r["per_min"], flush=True)
                    procs.stop(jack.proc)
        if args.only in (None, "callback"):
            for period in (64, 128):
                out["callback"].append(callback_round(args, procs, period, args.callback_seconds))
                print(f"callback {period}:", out["callback"][-1], flush=True)
        if args.only in (None, "scale"):
            jack = Jack(procs, 128)
            n = 1
            while n <= args.scale_max:
                r = scale_round(args, procs, jack, n, args.scale_seconds)
                out["scale"].append(r)
                print("scale:", r, flush=True)
                if r["bad"]:
                    break
                n *= 2
            procs.stop(jack.proc)
        if args.only in (None, "rescue"):
            out["rescue"], _ = benchlib.again_on_jam(procs, lambda: rescue_round(args, procs, args.rescue_seconds), 3,
                                                     "rescue")
            print("rescue:", [(r["latency"], r["core_pct"]) for r in out["rescue"]], flush=True)
        if args.only in (None, "pcm"):
            out["pcm"], _ = benchlib.again_on_jam(procs, lambda: pcm_round(args, procs, args.pcm_seconds), 3, "pcm")
            print("pcm:", out["pcm"]["per_min"], out["pcm"]["net_us_per_packet"], flush=True)
    finally:
        procs.stop_all()
    report(args, out, tmp)


def merged_runs(halves):
    """Each run's two halves as one: CPU per minute over both windows."""
    runs = []
    for frame_ms in sorted({h["frame_ms"] for h in halves}, reverse=True):
        for run in sorted({h["run"] for h in halves if h["frame_ms"] == frame_ms and h["run"] != "memory"}):
            hs = [h for h in halves if h["frame_ms"] == frame_ms and h["run"] == run]
            seconds = sum(h["seconds"] for h in hs)
            per_min = {k: sum(h["per_min"][k] * h["seconds"] for h in hs) / seconds for k in hs[0]["per_min"]}
            runs.append({"frame_ms": frame_ms, "run": run, "seconds": seconds, "per_min": per_min, "halves": hs})
    return runs


def report(args, out, tmp):
    L = benchlib.header("CPU, callback cost, scale and memory",
                        " ".join(["bench/cpu_bench.py", *sys.argv[1:]]))
    L += [
        f"- JACK: private `jackd {os.environ.get('JACKD_OPTS', benchlib.JACKD_OPTS)} -d dummy -r 48000` servers; sender: GStreamer pink noise, Opus 128 kbit/s "
        "stereo, `multiudpsink` to every receiver at once.",
        "",
    ]
    if out["cpu"]:
        runs = merged_runs(out["cpu"])
        L += ["## CPU per stream: the median of the runs", "",
              "Seconds the scheduler ran each process, per minute of audio, every receiver on the same packets in "
              "the same window. A run is two halves, each on a fresh server with fresh processes, one with "
              "rtp2jack's JACK client started first and one with the reference's: the client started first "
              "often pays more per JACK cycle. Medians of each column and of each run's ratios, a run's figures being "
              "its two halves together.", "",
              "| frames | runs | rtp2jack | GStreamer reference | **rtp2jack / reference** | floor (opus_floor + jack_thru) "
              "| rtp2jack / floor | reference / floor |",
              "|---|--:|--:|--:|--:|--:|--:|--:|"]
        for frame_ms in sorted({r["frame_ms"] for r in runs}, reverse=True):
            rs = [r for r in runs if r["frame_ms"] == frame_ms]
            med = lambda f: statistics.median(f(r) for r in rs)  # noqa: E731
            floor = lambda r: r["per_min"]["opus_floor"] + r["per_min"]["jack_thru"]  # noqa: E731
            L.append(f"| {frame_ms:g} ms | {len(rs)} | {med(lambda r: r['per_min']['rtp2jack']):.3f} | "
                     f"{med(lambda r: r['per_min']['reference']):.3f} | "
                     f"**{med(lambda r: r['per_min']['rtp2jack'] / r['per_min']['reference']):.2f}x** | "
                     f"{med(floor):.3f} | {med(lambda r: r['per_min']['rtp2jack'] / floor(r)):.2f}x | "
                     f"{med(lambda r: r['per_min']['reference'] / floor(r)):.2f}x |")
        L += ["", "## CPU per stream: every run, and each half", "",
              "| frames | run | started first | window | rtp2jack | GStreamer reference | rtp2jack / reference | "
              "floor | rtp2jack / floor | opus_floor | jack_thru |",
              "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        memory = [h for h in out["cpu"] if h["run"] == "memory"]
        for r in [x for run in runs for x in [run, *run["halves"]]] + memory:
            m = r["per_min"]
            floor = m["opus_floor"] + m["jack_thru"]
            run = f"**{r['run']}**" if "first" not in r else r["run"]
            L.append(f"| {r['frame_ms']:g} ms | {run} | {r.get('first', 'both')} | {r['seconds']:.0f} s | "
                     f"{m['rtp2jack']:.3f} | "
                     f"{m['reference']:.3f} | {m['rtp2jack'] / m['reference']:.2f}x | {floor:.3f} | "
                     f"{m['rtp2jack'] / floor:.2f}x | {m['opus_floor']:.3f} | {m['jack_thru']:.3f} |")
        L += ["", "By thread: s per minute (voluntary / involuntary context switches a second). JACK's process "
              "thread sleeps once a period; its involuntary switches are mostly the server's thread preempting "
              "it as it hands the cycle back, which happens to whichever client ends the cycle on the server's "
              "CPU.", ""]
        for r in out["cpu"]:
            for k, ts in r["threads"].items():
                L.append(f"- {r['frame_ms']:g} ms run {r['run']} ({r['first']} first), {k}: " + ", ".join(
                    f"{name} {v:.3f} ({vol:.0f} / {invol:.0f})" for v, name, vol, invol in ts if v >= 0.005))
        L += ["", "The same from utime+stime (sampled at the scheduler tick, 250 Hz here: a thread that "
              "runs tens of microseconds per JACK period is charged a whole tick or nothing), and the user / "
              "system split, s per minute:", ""]
        for r in out["cpu"]:
            L.append(f"- {r['frame_ms']:g} ms run {r['run']} ({r['first']} first): " + "; ".join(
                f"{k} {v:.3f} ({r['split'][k][0]:.3f} / {r['split'][k][1]:.3f})"
                for k, v in r["ticks_per_min"].items()))
        L += ["", "## Memory (resident size, KiB, at the start of the window and at its end)", "",
              "| frames | run | packets in window | rtp2jack start | rtp2jack end | growth | reference start | "
              "reference end |",
              "|---|--:|--:|--:|--:|--:|--:|--:|"]
        for r in out["cpu"]:
            if not (r["run"] == "memory" or (r["run"] == 1 and r["first"] == "rtp2jack")):
                continue
            L.append(f"| {r['frame_ms']:g} ms | {r['run']} | {r['packets']} | {r['rss0']['rtp2jack']} | "
                     f"{r['rss1']['rtp2jack']} | {r['rss1']['rtp2jack'] - r['rss0']['rtp2jack']:+d} | "
                     f"{r['rss0']['reference']} | {r['rss1']['reference']} |")
        L += ["", "rtp2jack's counters over each window:", ""]
        for r in out["cpu"]:
            s = r["stats"]
            per_packet = r["net_cpu_s"] / r["packets"] * 1e6 if r["packets"] else 0
            L.append(f"- {r['frame_ms']:g} ms run {r['run']} ({r['first']} first): packets {s.get('packets_received')}, underruns "
                     f"{s.get('underruns')}, late {s.get('packets_late')}, concealed {s.get('packets_concealed')}, "
                     f"JACK xruns in window {r['xruns']}; net thread {r['net_cpu_s']:.2f} s CPU = "
                     f"{per_packet:.1f} us per packet")
        L.append("")
    if out["callback"]:
        L += ["## Process-callback cost (2.5 ms frames, wall-clock time inside the callback)", "",
              "| period | calls | median us | p99 us | p99.9 us | worst us | median / period | worst / period | underruns |",
              "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for r in out["callback"]:
            if not r.get("calls"):
                L.append(f"| ? | no figures | | | | | | | |")
                continue
            L.append(f"| {r['nframes']} ({r['period_us']:.0f} us) | {r['calls']} | {r['median_us']:.1f} | "
                     f"{r['p99_us']:.1f} | {r['p999_us']:.1f} | {r['worst_us']:.1f} | {r['median_frac']:.4f} | "
                     f"{r['worst_frac']:.4f} | {r['stats'].get('underruns')} |")
        L.append("")
    if out["scale"]:
        L += ["## Scale: N rtp2jack processes, one 20 ms stream each, one JACK server (128)", "",
              "| streams | processes with underruns or late packets | underruns | late | rtp2jack CPU s/min (all) | CPU idle | JACK xruns |",
              "|--:|--:|--:|--:|--:|--:|--:|"]
        for r in out["scale"]:
            L.append(f"| {r['n']} | {r['bad']} | {r['underruns']} | {r['late']} | {r['cpu_per_min']:.2f} | "
                     f"{r['idle'] * 100:.0f}% | {r['xruns']} |")
        L.append("")
    if out["rescue"]:
        L += ["## Rescue: rtp2jack at a small --latency against a large one", "",
              "Same real-time JACK-driven sender (5 ms frames, pink noise), same window.", "",
              "| --latency | % of a core | packets | rescued | late | concealed | underruns |",
              "|--:|--:|--:|--:|--:|--:|--:|"]
        for r in out["rescue"]:
            s = r["stats"]
            L.append(f"| {r['latency']:g} ms | {r['core_pct']:.2f} | {s.get('packets_received')} | "
                     f"{s.get('packets_rescued')} | {s.get('packets_late')} | {s.get('packets_concealed')} | "
                     f"{s.get('underruns')} |")
        L.append("")
    if out["pcm"]:
        r = out["pcm"]
        s = r["stats"]
        m = r["per_min"]
        L += ["## 1000 packets a second: L24 stereo in 1 ms packets", "",
              "GStreamer `rtpL24pay` (1 ms), every packet to rtp2jack (`--latency 20`) and to the reference "
              "(`rtpjitterbuffer latency=20 ! rtpL24depay ! jackaudiosink`), same window.", "",
              "| window | packets | rtp2jack s/min | reference s/min | rtp2jack / reference | net thread per packet |",
              "|--:|--:|--:|--:|--:|--:|",
              f"| {r['seconds']:.0f} s | {r['packets']} | {m['rtp2jack']:.3f} | {m['reference']:.3f} | "
              f"**{m['rtp2jack'] / m['reference']:.2f}x** | {r['net_us_per_packet']:.1f} us |", "",
              f"rtp2jack's counters: underruns {s.get('underruns')}, late {s.get('packets_late')}, lost "
              f"{s.get('packets_lost')}, pool_exhausted {s.get('pool_exhausted')}, queue_full {s.get('queue_full')}, "
              f"records_overflow {s.get('records_overflow')}.", ""]
    L.append(f"Logs of this run: `{tmp}` (not kept).")
    benchlib.write_report(L, args.out)


if __name__ == "__main__":
    main()
