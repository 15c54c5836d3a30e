#!/usr/bin/env bash
# impair_test.sh BUILD_DIR
#
# Surviving real networks, in real time with real parts: a private dummy
# JACK server, a real GStreamer sender (440 Hz at 0.5, Opus 20 ms frames at
# 64 kbit/s with in-band FEC), rtp2jack at --latency 40, jack_tap recording
# its ports. Five profiles, each its own short run, each recording judged
# by tests/tools/tone_judge with nothing excused but JACK's own stalls (from
# the recording's cycle log) and, where packets are lost or come later than
# the target absorbs, their playout:
#   jitter      relay: 5 ms delay + 0..25 ms jitter (packets overtake each
#               other), within the target: nothing lost, the tone whole
#   loss        nftables drops 5 % inside a private network namespace (the
#               kernel's loss): every lost packet concealed or recovered
#               exactly once, nothing heard but where a packet was lost
#   dupreorder  relay: 10 % duplicated, 10 % held back 30 ms: duplicates
#               counted exactly, the tone whole
#   restart     a second sender with another SSRC right after the first:
#               one reset, both halves whole, a short switch-over
#   wrap        sequence numbers and RTP timestamps wrap mid-stream: the
#               tone whole
# One `ok NAME: ...` or `FAIL NAME: ...` line each; exit 0 only if all pass.
# The namespace needs root: without it the script says so and exits 77,
# which CI counts as a failure (scripts/test.sh).
set -euo pipefail
build=$(cd "${1:?usage: impair_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "impair_test: needs root for network namespaces (ip netns); not run" >&2
  exit 77
fi

jack_start "$(unique_name impair)"
latency_ms=40  # rtp2jack's target, in every case
failures=0
in_ns=()  # command prefix that runs sender and receiver in a namespace
mono_ns() { python3 -c 'import time; print(time.monotonic_ns())'; }

# send PORT BUFFERS [RTPOPUSPAY PROPERTY...]: the sender, in the foreground;
# 20 ms buffers, paced in real time by is-live.
send() {
  local port=$1 buffers=$2
  shift 2
  "${in_ns[@]}" gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers="$buffers" samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 \
    ! audioconvert ! opusenc bitrate=64000 frame-size=20 inband-fec=true packet-loss-percentage=10 \
    ! rtpopuspay pt=96 "$@" ! udpsink host=127.0.0.1 port="$port" >>"$TEST_TMP/sender.log" 2>&1
}

# relay NAME PORT_OUT IMPAIRMENT...: a seeded udp_relay to PORT_OUT; sets
# relay_port (where to send) and relay_pid.
relay() {
  local name=$1 to=$2
  shift 2
  relay_port=$(free_udp_port)
  spawn "$name.relay" "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" \
    --to "127.0.0.1:$to" "$@" --stats-file "$TEST_TMP/$name.relay.json" \
    --ready-file "$TEST_TMP/$name.relay.ready"
  relay_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$name.relay.ready" 5
}

# receive NAME PORT RECORD_S: rtp2jack as JACK client NAME on PORT, and
# jack_tap recording its ports for RECORD_S seconds; the sender may start
# when it returns.
receive() {
  local name=$1 port=$2 secs=$3
  spawn "$name" "${in_ns[@]}" "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency "$latency_ms" \
    --name "$name" --connect none --stats json --stats-interval 1
  rx_pid=$SPAWNED_PID
  wait_for_line "$TEST_TMP/$name.log" "receiving on" 10
  tap "$name" "$secs" "$name:out_1" "$name:out_2"
  rec_pid=$TAP_PID
}

# finish NAME SECONDS [--late-excused] [--mono-windows FILE]: the recording
# ends, rtp2jack prints its final stats at SIGTERM, and the recording's tone
# (SECONDS of it from its onset) is judged: NAME.judge holds the verdict,
# judge_ok=0 or 1. With --late-excused (a relay with --send-log NAME.sent),
# the playout of each packet the relay sent later than the target absorbs
# is excused as a lost packet's is (tests/lib/sent_log.py): a host that
# holds the sender or the relay back makes the path longer than the case's
# profile; NAME.vars gets late_sent, how many.
finish() {
  local name=$1 secs=$2 late=()
  shift 2
  wait "$rec_pid" || true
  stop_pid "$rx_pid"
  if [[ ${1:-} == --late-excused ]]; then
    shift
    python3 "$here/../lib/sent_log.py" late "$TEST_TMP/$name.sent" "$TEST_TMP/$name.cycles" "$latency_ms" \
      >"$TEST_TMP/$name.late"
    echo "late_sent=$(wc -l <"$TEST_TMP/$name.late")" >>"$TEST_TMP/$name.vars"
    late=(--excuse "$TEST_TMP/$name.late")
  fi
  judge_ok=1
  # This sender's Opus (64 kbit/s with in-band FEC: the SILK layer is on)
  # leaves sample-level noise up to -56.5 dB re amplitude in the reference
  # receiver's clean recordings (tests/README.md, calibration), above the
  # judge's default click limit: -50 dB here. A slipped sample is still a
  # phase glitch wherever it falls.
  judge_tone "$name" "$@" "${late[@]}" --channels 2 --freq 440 --from-s onset+0.1 --to-s "onset+$secs" \
    --click-max-db -50 --max-pitch-ppm off >/dev/null 2>"$TEST_TMP/$name.judge" || judge_ok=0
}

# judge NAME FIGURES EXPR...: prints `ok NAME: FIGURES` or `FAIL NAME: FIGURES;
# failed: ...`. Names: rtp2jack's final stats; judge_ok (the recording) and
# judge (its verdict line); relay_* the relay's counters; loss_pct; and k=v
# lines of NAME.vars.
judge() {
  if python3 - "$TEST_TMP" "$judge_ok" "$@" <<'PY'; then return 0; fi
import json, os, sys
tmp, judge_ok, name, figures, exprs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
ns, problems = {"judge_ok": judge_ok}, []
def path(ext): return os.path.join(tmp, name + ext)
try:
    finals = [json.loads(l) for l in open(path(".log")) if l.startswith("{")]
    ns.update([o for o in finals if o.get("final")][-1])
    # When the buffer first ran dry, in seconds of playout (to a second):
    # at the stream's start, in its middle or at its end.
    playing = [o["uptime_s"] for o in finals if o.get("playing")]
    dry = [o["uptime_s"] for o in finals if o.get("underruns")]
    ns["dry_at"] = f"first dry by {dry[0] - playing[0] + 1:.0f} s of playout" if playing and dry else "never dry"
except (OSError, IndexError):
    problems.append("no final stats from rtp2jack")
ns["judge"] = open(path(".judge")).read().strip().replace(os.path.join(tmp, ""), "") if os.path.exists(path(".judge")) else "?"
if os.path.exists(path(".relay.json")):
    ns.update({"relay_" + k: v for k, v in json.load(open(path(".relay.json"))).items()})
if os.path.exists(path(".vars")):
    ns.update(l.strip().split("=", 1) for l in open(path(".vars")) if "=" in l)
    ns.update({k: float(v) for k, v in ns.items() if isinstance(v, str) and v.replace(".", "", 1).isdigit()})
if "packets_lost" in ns:
    ns["loss_pct"] = 100 * ns["packets_lost"] / max(1, ns["packets_lost"] + ns["packets_received"])
class Unknown:
    def __format__(self, spec): return "?"
class Show(dict):
    def __missing__(self, key): return Unknown()
text = figures.format_map(Show({k: Unknown() if v is None else v for k, v in ns.items()}))
for e in ["judge_ok"] + exprs:
    try:
        ok = eval(e, {"__builtins__": {"abs": abs, "max": max, "min": min}}, dict(ns))  # expressions written below
    except Exception:
        ok = False
    if not ok: problems.append(e)
print(("FAIL " if problems else "ok   ") + f"{name}: {text}" + ("; failed: " + ", ".join(problems) if problems else ""))
sys.exit(1 if problems else 0)
PY
  failures=$((failures + 1))
}

# 1. Jitter within the latency: the reorder stage and the 40 ms target must
# absorb it; nothing may be lost or concealed, the tone must be whole.
rx_port=$(free_udp_port)
# Delay uniform in 5..30 ms: more than a packet interval apart, so packets
# overtake each other, yet within the target. Only a host that holds the
# sender or the relay back for longer than the rest of the target (measured
# from the relay's send log) may make a packet late, and the buffer run dry
# once for it.
relay jitter "$rx_port" --delay-ms 5 --jitter-ms 25 --seed 3 --send-log "$TEST_TMP/jitter.sent"
receive jitter "$rx_port" 12
send "$relay_port" 500
finish jitter 9.9 --late-excused
stop_pid "$relay_pid"
judge jitter "underruns={underruns} lost={packets_lost} late={packets_late} concealed={packets_concealed} \
reordered={packets_reordered} (relay {relay_reordered}) jitter={jitter_ms}ms; {dry_at}; sent late by the host {late_sent:.0f}; {judge}" \
  "underruns <= late_sent" "packets_lost == 0" "relay_reordered > 0" "packets_reordered > 0" \
  "packets_late <= 1 + late_sent"  # the stream's very first packet may be overtaken: its place precedes the lock

# 2. Random loss in the kernel (nftables in a private namespace, so that no
# other traffic is touched). Concealment or FEC must fill every hole.
ns=$(unique_name rtp2jack_imp)
ip netns add "$ns"
cleanup_push "ip netns del $ns"  # pushed first: runs after its processes stop
in_ns=(ip netns exec "$ns")
"${in_ns[@]}" ip link set lo up
"${in_ns[@]}" nft add table inet imp
"${in_ns[@]}" nft add chain inet imp out '{ type filter hook output priority 0; }'
"${in_ns[@]}" nft add rule inet imp out udp dport 5004 numgen random mod 100 '<' 5 counter drop
# What the loss was: the sequence number and arrival (CLOCK_MONOTONIC) of
# every packet that passed, seen on lo after the drop rule. A packet that
# did not pass was due where its neighbours put it; its playout (the target
# and the output's 3 ms later: a JACK period and the converter) is excused
# in the recording, from a block before the lost frame to four frames after
# it: the Opus decodes its way back over after a loss near another (measured:
# residual -37, -42, -51 dB in the 10 ms blocks 60-90 ms after the second
# of two losses 40 ms apart).
spawn loss.sniff "${in_ns[@]}" python3 -c '
import signal, socket, struct, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind(("lo", 0x0800))
open(out + ".ready", "w").close()
seen = []
def done(*_):
    runs, windows = {}, []
    for (a, ta), (b, tb) in zip(seen, seen[1:]):
        gap = (b - a) % 65536 - 1  # packets missing between two that passed
        if 0 < gap < 1000:
            runs[gap] = runs.get(gap, 0) + 1
            for k in range(1, gap + 1):
                due = ta + (tb - ta) * k // (gap + 1)
                play = due + 40_000_000 + 3_000_000
                windows.append(f"{play - 10_000_000} {play + 100_000_000} lost-seq-{(a + k) % 65536}")
    with open(out, "w") as f:
        f.write("loss_runs=" + (" ".join(f"{k}:{n}" for k, n in sorted(runs.items())) or "none") + "\n")
        f.write(f"longest_loss_run={max(runs, default=0)}\n")
        f.write(f"seen_lost={sum(k * n for k, n in runs.items())}\n")
    with open(out + ".windows", "w") as f:
        f.write("\n".join(windows) + "\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    ip, addr = s.recvfrom(2048)
    if addr[2] != socket.PACKET_HOST or ip[9] != 17: continue  # lo delivers each once as HOST; UDP only
    udp = ip[(ip[0] & 15) * 4:]
    if struct.unpack("!H", udp[2:4])[0] == port:
        seen.append((struct.unpack("!H", udp[10:12])[0], time.monotonic_ns()))
' 5004 "$TEST_TMP/loss.vars"
sniff_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/loss.vars.ready" 5
receive loss 5004 12
send 5004 500
stop_pid "$sniff_pid"
finish loss 9.9 --mono-windows "$TEST_TMP/loss.vars.windows"
# The truth packets_lost is held to: the packets missing between two that
# passed the drop rule (seen_lost), less at most two dropped while the
# source was on probation. The kernel's count bounds it too; it also holds
# drops before the first packet that passed and after the last, which no
# receiver can see.
echo "nft_dropped=$("${in_ns[@]}" nft list chain inet imp out | sed -nE 's/.*counter packets ([0-9]+).*/\1/p')" \
  >>"$TEST_TMP/loss.vars"
in_ns=()
judge loss "lost={packets_lost} ({loss_pct:.1f}%, nft dropped {nft_dropped:.0f}; runs length:count \
{loss_runs}, {seen_lost:.0f} between packets that passed) concealed={packets_concealed} fec={packets_recovered} late={packets_late} underruns={underruns}; {judge}" \
  "packets_lost > 0" "2 <= loss_pct <= 10" "seen_lost - 2 <= packets_lost <= seen_lost <= nft_dropped" \
  "abs(packets_concealed + packets_recovered - packets_lost) <= 2" "underruns == 0"

# 3. Duplicates and reordering within the latency: every duplicate the relay
# made is recognised as one (each copy arrives well before its deadline).
# A 30 ms hold is longer than the 20 ms packet interval: the next packet
# overtakes the held one.
rx_port=$(free_udp_port)
relay dupreorder "$rx_port" --dup 10 --reorder 10 --reorder-ms 30 --seed 5 --send-log "$TEST_TMP/dupreorder.sent"
receive dupreorder "$rx_port" 12
send "$relay_port" 500
finish dupreorder 9.9 --late-excused
stop_pid "$relay_pid"
judge dupreorder "duplicate={packets_duplicate} (relay {relay_duplicated}) reordered={packets_reordered} \
(relay {relay_reordered}) late={packets_late} lost={packets_lost} concealed={packets_concealed} underruns={underruns} \
{dry_at}; sent late by the host {late_sent:.0f}; {judge}" \
  "packets_duplicate > 0" "packets_duplicate == relay_duplicated" "underruns <= late_sent"

# 4. Sender restart: a new SSRC follows at once (only gst-launch's start-up
# in between). rtp2jack must switch once and play both halves whole. The
# switch-over, from the first sender's last packet to the second's first
# (a relay that changes nothing logs when each passed), plus the target
# and a block either side, is excused: no receiver has anything to play
# there. So is the new sender's start, 200 ms beyond: its first audio plays
# up to 40 ms after the target (probation, RFC 3550 A.1, and the codec's
# delay), and a fresh encoder of this Opus (64 kbit/s, SILK on) dips 6 dB
# and wobbles in phase for 90 ms before it holds its level.
rx_port=$(free_udp_port)
receive restart "$rx_port" 9
relay restart "$rx_port" --send-log "$TEST_TMP/restart.sent"
send "$relay_port" 150 ssrc=1111
send "$relay_port" 150 ssrc=2222
stop_pid "$relay_pid"
python3 - "$TEST_TMP/restart.sent" >"$TEST_TMP/restart.windows" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
last_first = max(t for t, _, _, ssrc in rows if ssrc == 1111)
first_second = min(t for t, _, _, ssrc in rows if ssrc == 2222)
target = 40_000_000
print(last_first + target - 10_000_000, first_second + target + 200_000_000, "switch-over")
PY
read -r first_end second_start _ <"$TEST_TMP/restart.windows"
echo "switch_over_ms=$(((second_start - first_end) / 1000000))" >"$TEST_TMP/restart.vars"
finish restart 5.9 --mono-windows "$TEST_TMP/restart.windows"
judge restart "resets={stream_resets} foreign={packets_foreign} underruns={underruns} lost={packets_lost}; \
switch-over excused {switch_over_ms:.0f} ms; {judge}" \
  "stream_resets == 1"

# 5. Wraparound: the sequence number wraps after 136 packets (2.7 s), the
# RTP timestamp after 167296 samples (3.5 s; 4294000000 would wrap only
# after 20 s, past the end of a 5 s run).
rx_port=$(free_udp_port)
receive wrap "$rx_port" 7
send "$rx_port" 250 seqnum-offset=65400 timestamp-offset=4294800000
finish wrap 4.9
judge wrap "lost={packets_lost} late={packets_late} underruns={underruns} resets={stream_resets} \
received={packets_received}; {judge}" \
  "packets_lost == 0" "underruns == 0" "stream_resets == 0"

echo "$failures failure(s)"
((failures == 0))
