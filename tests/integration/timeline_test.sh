#!/usr/bin/env bash
# timeline_test.sh BUILD_DIR
#
# The timing tools against real parts. (1) A private dummy JACK server, a
# tone from jack_simple_client recorded by jack_tap, three 40 ms SIGSTOPs of
# the server by stall_jackd.py: timeline.py must find each injected stall at
# the recording position of the first cycle that ran after it (read raw from
# the cycle log) with 30-70 ms lost, map each STOP time to the period before
# that position, cover both in its excuse windows, and measure JACK's rate
# between stalls within 20 ppm of real time; the recording must be whole,
# and a recording stopped by SIGTERM a valid WAV of what the log lists.
# (2) A GStreamer RTP stream through udp_relay with seeded loss: the drop
# log must list exactly the packets that did not arrive (seq and timestamp
# as sent, due time after the receive time by delay plus jitter), the same
# ones again for the same seed, and parse RTP headers at their limits and
# report anything else as -1.
set -euo pipefail
build=$(cd "${1:?usage: timeline_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
timeline="$here/../lib/timeline.py"

# --- (1) JACK stalls ---------------------------------------------------------

jack_start "$(unique_name timeline)" 48000 128
# jack_simple_client: a 240 Hz sine on output1, 720 Hz on output2; it also
# connects itself to the playback ports, which does no harm.
spawn tone jack_simple_client
tone_pid=$SPAWNED_PID
wait_for_port jack_simple_client:output1 10
wait_for_port jack_simple_client:output2 10

# 20 s: JACK's rate between stalls needs 15 s or so of stretches to come
# within 10 ppm on a busy VM (the host delays callbacks in spells).
record_s=20
spawn tap "$build/tests/jack_tap" --out "$TEST_TMP/tap.wav" --cycles "$TEST_TMP/tap.cycles" \
  --seconds "$record_s" --ready-file "$TEST_TMP/tap.ready" \
  jack_simple_client:output1 jack_simple_client:output2
tap_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/tap.ready" 10

# Three stalls, 6 s apart from 3 s into the recording: all well inside it.
python3 "$here/../tools/stall_jackd.py" --pid "$JACKD_PID" --first-s 3 --every-s 6 \
  --stall-ms 40 --count 3 --log "$TEST_TMP/stops.log"
if ! wait "$tap_pid"; then
  cat "$TEST_TMP/tap.log" >&2
  exit 1
fi
cat "$TEST_TMP/tap.log"
kill -0 "$JACKD_PID" || { echo "FAIL: jackd did not survive the stalls" >&2; exit 1; }

python3 "$timeline" stalls "$TEST_TMP/tap.cycles" --json >"$TEST_TMP/stalls.json"
# JACK's timeline is continuous through the stalls: a whole recording, no
# gap, and a click only where the server ran a cycle without jack_tap (it
# gives up waiting for its clients when the host stalls for long; the cycle
# log shows the skipped frames).
skips=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["skips"]))' \
  "$TEST_TMP/stalls.json")
echo "cycles JACK ran without jack_tap: $skips"
"$build/tests/wav_analyze" "$TEST_TMP/tap.wav" --channels 2 --max-gaps 0 --max-clicks "$skips" \
  --min-sound-s $((record_s - 1))

python3 "$timeline" stalls "$TEST_TMP/tap.cycles" >"$TEST_TMP/stalls.txt"
mapfile -t stops < <(cut -d' ' -f1 "$TEST_TMP/stops.log")
python3 "$timeline" at "$TEST_TMP/tap.cycles" "${stops[@]}" >"$TEST_TMP/stop_pos.txt"
awk '{print $1, $2, "injected-stop"}' "$TEST_TMP/stops.log" >"$TEST_TMP/stop_windows.txt"
python3 "$timeline" excuse "$TEST_TMP/tap.cycles" --stalls --pad-ms 20 \
  --mono-windows "$TEST_TMP/stop_windows.txt" >"$TEST_TMP/excuse.txt"
python3 "$timeline" rate "$TEST_TMP/tap.cycles" >"$TEST_TMP/rate.txt"
echo "JACK stalls found (position s, monotonic ns, lost ms):"
cat "$TEST_TMP/stalls.txt"
echo "rate (ppm, seconds, stretches): $(cat "$TEST_TMP/rate.txt")"

python3 - "$TEST_TMP" "$record_s" <<'PY'
import json, os, struct, sys
tmp, record_s = sys.argv[1], float(sys.argv[2])
failures = []

def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

rate = None
cycles = []
for line in open(os.path.join(tmp, "tap.cycles")):
    f = line.split()
    if f[0] == "#":
        if f[1] == "rate":
            rate = int(f[2])
        continue
    cycles.append(tuple(int(x) for x in f))
period = cycles[0][3]

# The WAV header states the recording's true length.
raw = open(os.path.join(tmp, "tap.wav"), "rb").read()
riff, = struct.unpack_from("<I", raw, 4)
data_at = raw.index(b"data") + 8
data_bytes, = struct.unpack_from("<I", raw, data_at - 4)
check(riff == len(raw) - 8 and data_bytes == len(raw) - data_at
      and data_bytes == round(record_s * rate) * 2 * 4,
      f"WAV header sizes true, {data_bytes // 8} frames of 2 float channels")
check(all(b[0] == a[0] + a[3] for a, b in zip(cycles, cycles[1:])),
      "cycle log: each cycle starts where the one before ended")

stalls = json.load(open(os.path.join(tmp, "stalls.json")))["stalls"]
stops = [tuple(int(x) for x in l.split()) for l in open(os.path.join(tmp, "stops.log"))]
stop_pos = [float(l) for l in open(os.path.join(tmp, "stop_pos.txt"))]
excuses = [l.split(None, 2) for l in open(os.path.join(tmp, "excuse.txt"))]
check(len(stops) == 3, f"stall_jackd logged 3 stalls ({len(stops)})")
for (stop, cont), at in zip(stops, stop_pos):
    # Truth from the raw log: the first cycle whose callback ran after SIGCONT.
    first = next(c for c in cycles if c[2] >= cont)
    truth = first[0] / rate
    # The host's own stalls may follow close behind (a busy VM catching
    # up); the injected one is the biggest near the truth, found once.
    near = sorted((s for s in stalls if abs(s["pos_s"] - truth) <= 0.05),
                  key=lambda s: -s["lost_ms"])
    found = ", ".join("%.2f ms at %.6f s" % (s["lost_ms"], s["pos_s"]) for s in near)
    check(bool(near) and (len(near) == 1 or near[1]["lost_ms"] < 20),
          f"stop at {stop}: found once near {truth:.6f} s ({found})")
    if near:
        s = near[0]
        check(abs(s["rec_frame"] - first[0]) <= period,
              f"  at {s['pos_s']:.6f} s, within a period of {truth:.6f} s")
        # 40 ms stopped, less what JACK's catching up hides, plus whatever
        # the host itself stalls in the same cycle (measured up to 16 ms).
        check(30 <= s["lost_ms"] <= 70, f"  lost {s['lost_ms']:.2f} ms, 30-70 ms")
    check(truth - period / rate - 1e-6 <= at <= truth + 1e-6,
          f"  STOP maps to {at:.6f} s, in the period before {truth:.6f} s")
    # Positions are printed to 1 us.
    covered = [e for e in excuses if float(e[0]) - 1e-6 <= truth <= float(e[1]) + 1e-6]
    reasons = {e[2].strip() for e in covered}
    check(any(r.startswith("jack-stall-") for r in reasons) and "injected-stop" in reasons,
          f"  excuse windows cover it: {sorted(reasons)}")
check(all(float(e[0]) <= float(e[1]) for e in excuses), "excuse windows: START_S <= END_S")
ppm, seconds, stretches = open(os.path.join(tmp, "rate.txt")).read().split()
check(abs(float(ppm)) <= 20 and float(seconds) >= record_s / 2,
      f"JACK's rate between stalls {float(ppm):+.2f} ppm over {float(seconds):.1f} s, "
      "within 20 ppm")
sys.exit(1 if failures else 0)
PY

# Without --seconds jack_tap records until SIGTERM, and leaves a WAV whose
# header states what the cycle log says was recorded.
spawn tap16 "$build/tests/jack_tap" --out "$TEST_TMP/tap16.wav" --cycles "$TEST_TMP/tap16.cycles" \
  --bits 16 --ready-file "$TEST_TMP/tap16.ready" jack_simple_client:output1
tap16_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/tap16.ready" 10
kill -TERM "$tap16_pid"
if ! wait "$tap16_pid"; then
  echo "FAIL: jack_tap exited non-zero on SIGTERM" >&2
  cat "$TEST_TMP/tap16.log" >&2
  exit 1
fi
python3 - "$TEST_TMP" <<'PY'
import os, struct, sys
tmp = sys.argv[1]
raw = open(os.path.join(tmp, "tap16.wav"), "rb").read()
frames = sum(int(l.split()[3]) for l in open(os.path.join(tmp, "tap16.cycles")) if l[0] != "#")
riff, = struct.unpack_from("<I", raw, 4)
fmt, channels, _, _, _, bits = struct.unpack_from("<HHIIHH", raw, 20)
data, = struct.unpack_from("<I", raw, 40)
ok = (raw[36:40] == b"data" and riff == len(raw) - 8 and data == len(raw) - 44 == frames * 2
      and (fmt, channels, bits) == (1, 1, 16) and frames > 0)
print(("ok   " if ok else "FAIL ") +
      f"SIGTERM: 16-bit mono WAV of {data // 2} frames, cycle log {frames}")
sys.exit(0 if ok else 1)
PY

# The client first, so that it closes (a client the server drops leaves its
# semaphore in /dev/shm).
stop_pid "$tone_pid"
jack_stop

# --- (2) udp_relay's drop log --------------------------------------------------

# _relay_settled NAME: every packet sent straight to the sink has arrived
# through the relay too, or is in its drop log.
_relay_settled() {
  local direct relayed sent arrived dropped
  read -r direct relayed <"$TEST_TMP/$1.ports"
  sent=$(awk -v p="$direct" '$1 == p' "$TEST_TMP/$1.rx" | wc -l)
  arrived=$(awk -v p="$relayed" '$1 == p' "$TEST_TMP/$1.rx" | wc -l)
  dropped=$(wc -l <"$TEST_TMP/$1.drops")
  ((sent >= 90 && arrived + dropped == sent))
}

# relay_run NAME SEED: 100 RTP packets (2 s) from GStreamer, each sent both
# straight to rtp_log.py (the truth of what was sent) and through a lossy,
# jittery relay to it. Returns once every packet has arrived or is in the
# drop log, with the relay stopped (its stats written).
relay_run() {
  local name=$1 seed=$2 direct relayed listen
  direct=$(free_udp_port)
  relayed=$(free_udp_port)
  listen=$(free_udp_port)
  echo "$direct $relayed" >"$TEST_TMP/$name.ports"
  spawn "$name-sink" python3 "$here/../lib/rtp_log.py" --log "$TEST_TMP/$name.rx" \
    --ready-file "$TEST_TMP/$name-sink.ready" "$direct" "$relayed"
  local sink_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$name-sink.ready" 5
  spawn "$name-relay" "$build/tests/udp_relay" --listen "127.0.0.1:$listen" \
    --to "127.0.0.1:$relayed" --seed "$seed" --loss 10 --burst-loss 2,50 --delay-ms 5 \
    --jitter-ms 10 --drop-log "$TEST_TMP/$name.drops" --stats-file "$TEST_TMP/$name.json" \
    --ready-file "$TEST_TMP/$name-relay.ready"
  local relay_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$name-relay.ready" 5
  # seq and timestamp start near their wrap, so both wrap in the stream.
  gst-launch-1.0 -q audiotestsrc is-live=true num-buffers=100 samplesperbuffer=960 \
    ! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20 \
    ! rtpopuspay pt=96 ssrc=4660 seqnum-offset=65500 timestamp-offset=4294900000 \
    ! tee name=t ! queue ! udpsink host=127.0.0.1 port="$direct" \
    t. ! queue ! udpsink host=127.0.0.1 port="$listen" >"$TEST_TMP/$name-gst.log" 2>&1
  _poll 5 "every packet of run $name through the relay or in its drop log" _relay_settled "$name"
  stop_pid "$relay_pid"
  stop_pid "$sink_pid"
}

relay_run a 11
relay_run b 11  # the same seed: the same packets must be dropped

python3 - "$TEST_TMP" <<'PY'
import json, os, sys
tmp = sys.argv[1]
failures = []

def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

def run(name):
    direct, relayed = open(os.path.join(tmp, name + ".ports")).read().split()
    sent, arrived = {}, set()
    for line in open(os.path.join(tmp, name + ".rx")):
        port, seq, ts, _ = line.split()
        if port == direct:
            sent[int(seq)] = int(ts)
        elif port == relayed:
            arrived.add(int(seq))
    drops = [tuple(int(x) for x in l.split()) for l in open(os.path.join(tmp, name + ".drops"))]
    stats = json.load(open(os.path.join(tmp, name + ".json")))
    return sent, arrived, drops, stats

sent, arrived, drops, stats = run("a")
dropped = [d[2] for d in drops]
check(len(sent) >= 90, f"GStreamer sent {len(sent)} packets")
check(stats["received"] == len(sent) and stats["dropped"] == len(drops) == len(set(dropped))
      and stats["forwarded"] == len(arrived) and stats["overflow"] == stats["send_errors"] == 0,
      f"relay stats agree: {stats}")
check(0 < len(drops) < len(sent) // 2, f"{len(drops)} packets dropped")
check(not set(dropped) & arrived and set(dropped) | arrived == set(sent),
      "the drop log lists exactly the packets that did not arrive")
check(all(sent.get(seq) == ts for _, _, seq, ts in drops),
      "each dropped packet's RTP timestamp is the one it was sent with")
check(all(5e6 <= due - recv <= 15e6 for recv, due, _, _ in drops),
      "each due time is 5-15 ms (delay + jitter) after the receive time")
check(all(a[0] < b[0] for a, b in zip(drops, drops[1:])), "receive times increase")
check(any(seq < 100 for seq in sent) and any(seq > 65000 for seq in sent),
      "the stream's sequence numbers wrapped")
_, _, drops_b, _ = run("b")
check([d[2] for d in drops_b] == dropped, "the same seed dropped the same packets again")
sys.exit(1 if failures else 0)
PY

# Datagrams that are not RTP, and RTP at the limits of its fields, all
# dropped (--loss 100): SEQ and RTP_TS are -1 for anything but RTP.
listen=$(free_udp_port)
spawn odd-relay "$build/tests/udp_relay" --listen "127.0.0.1:$listen" --to "127.0.0.1:9" \
  --loss 100 --drop-log "$TEST_TMP/odd.drops" --ready-file "$TEST_TMP/odd-relay.ready"
odd_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/odd-relay.ready" 5
python3 - "$listen" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in (b"hello",                                           # too short
          bytes(12),                                          # version 0
          struct.pack("!BBHII", 0x80, 200, 6, 1, 2),          # RTCP sender report
          struct.pack("!BBHII", 0x80, 0xE0, 65535, 0xFFFFFFFF, 1)):  # RTP, marker, PT 96
    s.sendto(d, ("127.0.0.1", int(sys.argv[1])))
PY
_odd_logged() { (($(wc -l <"$TEST_TMP/odd.drops") == 4)); }
_poll 5 "4 lines in the drop log" _odd_logged
stop_pid "$odd_pid"
odd=$(cut -d' ' -f3- "$TEST_TMP/odd.drops" | tr '\n' ',')
if [[ $odd != "-1 -1,-1 -1,-1 -1,65535 4294967295," ]]; then
  echo "FAIL: drop log SEQ RTP_TS of odd datagrams: $odd" >&2
  exit 1
fi
echo "ok   drop log SEQ RTP_TS of odd datagrams: $odd"
echo "PASS: timeline tools"
