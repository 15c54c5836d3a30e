#!/usr/bin/env bash
# rtcp_test.sh BUILD_DIR
#
# RTCP (RFC 3550 section 6) against a real sender, checked by an independent
# dissector. ffmpeg -f rtp streams 10 s of Opus and sends sender reports to
# port+1; rtp2jack plays into a private dummy JACK server; tshark captures the
# RTCP both ways on the loopback and decodes it. Two runs:
#
#  clean: every compound rtp2jack sends starts with RR and carries SDES
#         CNAME; its report block is on the sender's SSRC, with no loss, the
#         extended highest sequence number (across a 16-bit wrap) matching
#         what arrived, LSR echoing an SR that tshark saw and DLSR the time
#         since that SR as tshark measured it; a BYE at shutdown. The stats
#         show the SRs and a plausible end-to-end latency.
#  loss:  RTP through udp_relay --loss 10 (RTCP through a clean relay): the
#         fraction lost and the cumulative loss are there and plausible.
#  mux:   a scripted sender multiplexes its SR on the RTP port (RFC 5761):
#         the reports come back to that port from rtp2jack's RTP port and
#         echo that SR; an SR to port+1 from a source --allow-from refuses
#         is filtered, a malformed compound there is counted and dropped.
set -euo pipefail
build=$(cd "${1:?usage: rtcp_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

command -v tshark >/dev/null || { echo "tshark missing: run scripts/install-deps.sh" >&2; exit 1; }

latency=40
ssrc=305419896  # 0x12345678
seq0=65300      # the stream's sequence numbers wrap after 236 packets
jack_start "$(unique_name rtcp)"

send() {  # send PORT: 10 s of a stereo tone, 20 ms frames, SRs to PORT+1
  ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi \
    -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t):s=48000:d=10" \
    -c:a libopus -b:a 128k -frame_duration 20 -payload_type 96 -ssrc "$ssrc" -seq "$seq0" \
    -f rtp "rtp://127.0.0.1:$1" >>"$TEST_TMP/sender.log" 2>&1
}

# run NAME RTP_PORT_FOR_SENDER: rtp2jack on a fresh port, tshark capturing
# its RTCP port in both directions and the RTP that reaches it, the sender,
# then a clean shutdown.
run() {
  local name=$1
  port=$2
  local rtcp=$((port + 1))
  spawn "tshark-$name" tshark -i lo -f "udp and (port $rtcp or dst port $port)" -w "$TEST_TMP/$name.pcap"
  local ts_pid=$SPAWNED_PID
  wait_for_line "$TEST_TMP/tshark-$name.log" "Capturing on" 15
  spawn "rx-$name" "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency "$latency" \
    --connect none --stats json --stats-interval 0.25
  local rx_pid=$SPAWNED_PID
  wait_for_line "$TEST_TMP/rx-$name.log" "receiving on" 10
  # JACK's cycles, for where the server stalled (tests/lib/timeline.py).
  tap "$name" 30 rtp2jack:out_1 rtp2jack:out_2
  send "${sender_port:-$port}"
  stop_pid "$TAP_PID"
  stop_pid "$rx_pid"  # SIGTERM: rtp2jack sends its BYE and prints final stats
  # The BYE is the last thing rtp2jack sends: wait for tshark to have it.
  _bye_seen() {
    tshark -r "$TEST_TMP/$name.pcap" -d "udp.port==$rtcp,rtcp" -Y "rtcp.pt == 203 && udp.srcport == $rtcp" \
      -T fields -e frame.number 2>/dev/null | grep -q .
  }
  _poll 5 "the BYE in the $name capture" _bye_seen || true
  stop_pid "$ts_pid"
  tshark -r "$TEST_TMP/$name.pcap" -d "udp.port==$rtcp,rtcp" -T fields -E separator=/t \
    -e frame.time_epoch -e udp.srcport -e udp.dstport -e rtcp.pt -e rtcp.senderssrc \
    -e rtcp.ssrc.identifier -e rtcp.ssrc.fraction -e rtcp.ssrc.cum_nr -e rtcp.ssrc.ext_high \
    -e rtcp.ssrc.jitter -e rtcp.ssrc.lsr -e rtcp.ssrc.dlsr -e rtcp.sdes.text \
    -e rtcp.timestamp.ntp.msw -e rtcp.timestamp.ntp.lsw -e _ws.malformed -e _ws.expert.severity \
    -e rtcp.timestamp.rtp -Y "rtcp" >"$TEST_TMP/$name.txt" 2>"$TEST_TMP/$name.tshark-read.log"
  tshark -r "$TEST_TMP/$name.pcap" -d "udp.port==$port,rtp" -Y "rtp && udp.dstport == $port" -T fields \
    -E separator=/t -e frame.time_epoch -e rtp.timestamp >"$TEST_TMP/$name.rtp.txt" \
    2>>"$TEST_TMP/$name.tshark-read.log"
}

check() {  # check NAME MODE: the capture and the stats of one run
  python3 - "$1" "$2" "$TEST_TMP" "$port" "$ssrc" "$seq0" "$latency" "${relay_dropped:-0}" "$here/../lib" <<'EOF'
import json, statistics, sys, time
name, mode, tmp, port, ssrc, seq0, latency, relay_dropped, lib = sys.argv[1:]
sys.path.insert(0, lib)
import timeline
port, ssrc, seq0, latency, relay_dropped = int(port), int(ssrc), int(seq0), float(latency), int(relay_dropped)
rtcp = port + 1
fails = []
def need(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok: fails.append(what)

rows = [l.rstrip("\n").split("\t") for l in open(f"{tmp}/{name}.txt") if l.strip()]
cols = ["t", "src", "dst", "pt", "sender", "ssrc", "fraction", "cum", "ext", "jitter", "lsr",
        "dlsr", "sdes", "msw", "lsw", "malformed", "expert", "srts"]
frames = [dict(zip(cols, r + [""] * (len(cols) - len(r)))) for r in rows]
srs = [f for f in frames if f["dst"] == str(rtcp) and f["pt"].split(",")[0] == "200"]
ours = [f for f in frames if f["src"] == str(rtcp)]
print(f"{name}: {len(srs)} SRs to rtp2jack, {len(ours)} compounds from it")
for f in ours:
    print("  t=%.3f pt=%s ssrc=%s fraction=%s cum=%s ext=%s jitter=%s lsr=%s dlsr=%s cname=%s" %
          (float(f["t"]), f["pt"], f["ssrc"], f["fraction"], f["cum"], f["ext"], f["jitter"],
           f["lsr"], f["dlsr"], f["sdes"]))
need(len(srs) >= 2, "the sender's SRs were captured")
need(len(ours) >= 2, "rtp2jack sent at least a report and a BYE")
first = lambda s: s.split(",")[0]
reports = [f for f in ours if "203" not in f["pt"].split(",")]
byes = [f for f in ours if "203" in f["pt"].split(",")]
need(len(reports) >= 1, "at least one receiver report before the BYE")
sr_ports = {f["src"] for f in srs}
need(len(sr_ports) == 1 and all(f["dst"] in sr_ports for f in ours),
     f"every compound goes back to where the SRs came from (port {', '.join(sr_ports)})")
need(all(first(f["pt"]) == "201" for f in ours), "every compound starts with RR (RFC 3550 6.1)")
need(all("202" in f["pt"].split(",") and f["sdes"].startswith("rtp2jack@") for f in ours),
     "every compound carries SDES CNAME rtp2jack@...")
# _ws.expert.severity: 6291456 warning, 8388608 error.
need(not any(f["malformed"] or any(int(x) >= 6291456 for x in f["expert"].split(",") if x) for f in ours),
     "tshark finds nothing malformed, no warnings")
need(len(byes) == 1 and byes[0] is ours[-1] and first(byes[0]["pt"]) == "201"
     and byes[0]["pt"].split(",")[-1] == "203", "one BYE, last, in an RR + SDES + BYE compound")
senders = {f["sender"] for f in ours}
need(len(senders) == 1 and int(next(iter(senders)), 16) not in (0, ssrc), "our SSRC: one, not the sender's")
with_block = [f for f in ours if f["ext"]]
# Section 6.4: a block only on a source heard since the last report; the
# stream ran throughout, so every report has one (the BYE may not).
need(all(f["ext"] for f in reports), "every report before the BYE has a report block")
need(all(int(first(f["ssrc"]), 16) == ssrc for f in with_block), "report blocks are on the sender's SSRC")

stats = [json.loads(l) for l in open(f"{tmp}/rx-{name}.log") if l.startswith("{")]
final = stats[-1]
need(final["final"], "a final stats line")
received = final["packets_received"]
last_ext = int(with_block[-1]["ext"])
need(last_ext == seq0 + received + final["packets_lost"] - 1,
     f"extended highest seq {last_ext} = first {seq0} + received {received} + lost {final['packets_lost']} - 1")
need(last_ext > 65535, "the extended highest seq counts the wrap (cycles field)")
need(490 <= last_ext - seq0 + 1 <= 510, f"{last_ext - seq0 + 1} packets spanned: about 10 s of 20 ms")

# LSR echoes an SR tshark saw, and DLSR is the time since it (RFC 3550 6.4.1).
sr_by_lsr = {((int(f["msw"]) & 0xffff) << 16) | (int(f["lsw"]) >> 16): float(f["t"]) for f in srs}
dlsr_err = []
for f in with_block:
    lsr, dlsr = int(f["lsr"]), int(f["dlsr"])
    need(lsr != 0 and lsr in sr_by_lsr, f"LSR {lsr:#x} is the middle of a captured SR's NTP time")
    if lsr in sr_by_lsr:
        dlsr_err.append(abs(float(f["t"]) - sr_by_lsr[lsr] - dlsr / 65536) * 1000)
        need(dlsr / 65536 < 7.5, f"DLSR {dlsr / 65536:.3f} s is less than an SR interval")
if dlsr_err:
    need(max(dlsr_err) < 20, f"DLSR matches the capture within {max(dlsr_err):.2f} ms (< 20)")
need(all(int(f["jitter"]) < 48 * 30 for f in with_block), "jitter below 30 ms")

need(final["rtcp"] is True and final["rtcp_sr_received"] >= len(srs) - 1 and final["rtcp_sr_received"] >= 2,
     f"rtcp_sr_received {final['rtcp_sr_received']} (captured {len(srs)})")
need(final["rtcp_rr_sent"] == len(ours), f"rtcp_rr_sent {final['rtcp_rr_sent']} = captured {len(ours)}")
need(final["rtcp_invalid"] == 0, "rtcp_invalid == 0")

if mode == "clean":
    need(all(int(f["fraction"]) == 0 and int(f["cum"]) == 0 for f in with_block), "no loss reported")
    need(final["packets_lost"] == 0, "no loss in the stats either")
    # End-to-end latency while playing: the output time less the capture
    # time the sender's SR assigns. buffer_ms is the output's delay behind
    # the on-time arrival, the earliest packets seen so far, so e2e less
    # buffer_ms is how far the earliest packet captured before that stats
    # line arrived after the capture time its SR maps (measured here from
    # the capture: ffmpeg reads its input in 1024-sample frames ahead of the
    # clock, so that can be negative) plus the JACK period the output buffer
    # waits for the driver. The stats' monotonic_s is put on the capture's
    # wall clock by this machine's offset between the two clocks.
    e2e = [s for s in stats if s["playing"] and s["e2e_latency_ms"] is not None and s["buffer_ms"] > 0]
    need(len(e2e) >= 20, f"{len(e2e)} stats lines with e2e_latency_ms while playing")
    sr = next(f for f in srs if f["srts"])
    sr_unix = int(sr["msw"]) - 2208988800 + int(sr["lsw"]) / 2**32
    def capture(ts):  # the SR's mapping, the RTP clock at 48 kHz from there
        d = (int(ts) - int(sr["srts"])) & 0xFFFFFFFF
        return sr_unix + (d - 2**32 if d >= 2**31 else d) / 48000
    rtp = [(float(t), float(t) - capture(ts)) for t, ts in
           (l.split("\t") for l in open(f"{tmp}/{name}.rtp.txt") if l.strip())]
    wall = time.time() - time.monotonic()
    period = 128 / 48
    def expected(at):  # the earliest arrival captured by wall time AT, plus a period
        seen = [late for t, late in rtp if t <= at]
        return min(seen) * 1000 + period if seen else None
    if e2e:
        over = [s["e2e_latency_ms"] - s["buffer_ms"] for s in e2e]
        print(f"e2e_latency_ms: min {min(s['e2e_latency_ms'] for s in e2e):.1f}"
              f" median {statistics.median(s['e2e_latency_ms'] for s in e2e):.1f}"
              f" max {max(s['e2e_latency_ms'] for s in e2e):.1f};"
              f" e2e - buffer_ms: min {min(over):.2f} max {max(over):.2f};"
              f" earliest arrival after its SR capture time {min(l for _, l in rtp) * 1000:.2f} ms"
              f" ({len(rtp)} packets)")
        # While JACK stalls, and until the playout has dealt with the
        # stall (the buffer is back on target within a second of it),
        # buffer_ms holds the backlog the stall left, which e2e's output
        # time sees differently: lines from a stall's start to a second
        # after its end are not judged here. The stalls come from JACK's
        # own cycle times, recorded by jack_tap.
        tl = timeline.Timeline(timeline.CycleLog(f"{tmp}/{name}.cycles"))
        stalls = [(s["mono_ns"] / 1e9, s["mono_end_ns"] / 1e9 + 1.0) for s in tl.stalls()]
        stalls += [(tl.log.wake[k["cycle"]] / 1e9 - 0.1, tl.log.wake[k["cycle"]] / 1e9 + 1.0) for k in tl.skips()]
        print(f"JACK stalled {len(stalls)} times while playing; lines inside a stall or a second after it are"
              " not judged")
        judged = [(s, o) for s, o in zip(e2e, over) if not any(a <= s["monotonic_s"] <= b for a, b in stalls)]
        need(len(judged) >= 10, f"{len(judged)} stats lines outside JACK's stalls")
        # A new earliest packet enters rtp2jack's clock fit when its bucket
        # (2400 frames, 50 ms of stream) closes: a line may show the floor
        # of up to one bucket and a packet earlier, so anything between the
        # floor 0.1 s before the line and the floor at it is on time.
        off = []
        for s, o in judged:
            at = s["monotonic_s"] + wall
            now, before = expected(at), expected(at - 0.1)
            if now is None:
                off.append(float("inf"))
            else:
                off.append(max(now - o, o - (before if before is not None else now), 0))
        need(max(off, default=0) < 1.0, f"every e2e - buffer_ms ({len(off)}) within 1 ms of the earliest arrival"
             f" after capture so far + a period (worst {max(off, default=0):.2f} ms)")
    need(final["e2e_rejected"] == 0, "no e2e evaluation rejected as absurd")
    need(all(s["e2e_latency_ms"] is None for s in stats if s["rtcp_sr_received"] == 0),
         "no e2e before an SR")
else:
    lost = final["packets_lost"]
    need(abs(lost - relay_dropped) <= 2, f"packets_lost {lost} ~ relay dropped {relay_dropped}")
    cum = int(with_block[-1]["cum"])
    need(cum == lost, f"cumulative lost in the last report {cum} = packets_lost {lost}")
    fr = [int(f["fraction"]) / 256 for f in with_block]
    print("fraction lost per report: " + " ".join(f"{x:.3f}" for x in fr))
    # A.3 exactly: each report's fraction is the interval's loss over the
    # interval's expected packets, from the previous report's figures.
    prev_ext, prev_cum = seq0 - 1, 0
    for f in with_block:
        ext, cum = int(f["ext"]), int(f["cum"])
        exp_i, lost_i = ext - prev_ext, cum - prev_cum
        want = (lost_i << 8) // exp_i if exp_i > 0 and lost_i > 0 else 0
        need(int(f["fraction"]) == want, f"fraction {f['fraction']}/256 = ({lost_i} << 8) / {exp_i} (A.3)")
        prev_ext, prev_cum = ext, cum
    need(max(fr) >= 0.03, "the 10% loss shows in the fraction lost")
    need(all(int(f["cum"]) > 0 for f in with_block), "cumulative lost > 0 in every report")
sys.exit(1 if fails else 0)
EOF
}

# Clean: ffmpeg straight to rtp2jack.
run clean "$(free_udp_port)"
check clean clean

# Loss: RTP through a relay dropping 10%, RTCP through a clean one.
rport=$(free_udp_port)
relay_in=$(free_udp_port)
spawn relay "$build/tests/udp_relay" --listen "127.0.0.1:$relay_in" --to "127.0.0.1:$rport" \
  --loss 10 --seed 7 --stats-file "$TEST_TMP/relay.json" --ready-file "$TEST_TMP/relay.ready"
relay_pid=$SPAWNED_PID
spawn relay_rtcp "$build/tests/udp_relay" --listen "127.0.0.1:$((relay_in + 1))" \
  --to "127.0.0.1:$((rport + 1))" --ready-file "$TEST_TMP/relay_rtcp.ready"
wait_for_file "$TEST_TMP/relay.ready" 5
wait_for_file "$TEST_TMP/relay_rtcp.ready" 5
sender_port=$relay_in run loss "$rport"
stop_pid "$relay_pid"
relay_dropped=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dropped"])' "$TEST_TMP/relay.json")
echo "relay dropped $relay_dropped RTP packets"
check loss loss

# Mux: a Python sender (TOC-only Opus packets, 20 ms apart) with its SR on
# the RTP port; it listens on the same socket for what comes back.
mport=$(free_udp_port)
spawn rx-mux "$build/rtp2jack" --bind 127.0.0.1 --port "$mport" --latency "$latency" \
  --connect none --stats json --stats-interval 0.25 --allow-from 127.0.0.1/32
mux_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rx-mux.log" "receiving on" 10
python3 - "$mport" <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.setblocking(False)
ssrc = 0xA1B2C3D4
ntp = (int(time.time()) + 2208988800) << 32 | 0x40000000
def sr(ntp, rtp_ts):  # SR without blocks + SDES CNAME "m@x"
    return (bytes([0x80, 200, 0, 6]) + struct.pack(">IIIIII", ssrc, ntp >> 32, ntp & 0xFFFFFFFF, rtp_ts, 0, 0)
            + bytes([0x81, 202, 0, 3]) + struct.pack(">I", ssrc) + bytes([1, 3]) + b"m@x" + bytes(3))
s.sendto(sr(ntp, 1000), ("127.0.0.1", port))
# The same SR to port+1 from 127.0.0.2 (refused by --allow-from), and a
# malformed compound (a BYE first) from 127.0.0.1.
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
o.bind(("127.0.0.2", 0))
o.sendto(sr(ntp + (5 << 32), 2000), ("127.0.0.1", port + 1))
s.sendto(bytes([0x81, 203, 0, 1]) + struct.pack(">I", ssrc), ("127.0.0.1", port + 1))
got = []
start = time.monotonic()
for i in range(300):  # 6 s of 20 ms packets
    s.sendto(bytes([0x80, 96]) + struct.pack(">HII", i, 1000 + 960 * i, ssrc) + bytes([0xFC]),
             ("127.0.0.1", port))
    while True:
        try:
            data, src = s.recvfrom(2048)
            got.append((data, src))
        except BlockingIOError:
            break
    time.sleep(max(0, start + (i + 1) * 0.02 - time.monotonic()))
fails = 0
def need(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok
need(len(got) >= 1, f"{len(got)} RTCP compound(s) came back to the sender's RTP port")
for data, src in got:
    need(src == ("127.0.0.1", port), f"from rtp2jack's RTP port ({src[1]})")
    need(data[1] == 201 and (data[0] & 0x1F) == 1 and len(data) >= 32, "an RR with one block")
    block_ssrc, lost, ext, jitter, lsr, dlsr = struct.unpack(">IIIIII", data[8:32])
    need(block_ssrc == ssrc, "on our SSRC")
    need(lsr == (ntp >> 16) & 0xFFFFFFFF, f"LSR {lsr:#x} echoes the multiplexed SR (not the refused one)")
    need(0 < dlsr / 65536 < 6.5, f"DLSR {dlsr / 65536:.3f} s")
    need(b"rtp2jack@" in data[32:], "SDES CNAME follows")
sys.exit(1 if fails else 0)
EOF
stop_pid "$mux_pid"
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rx-mux.log" \
  "rtcp_sr_received == 1" "rtcp_filtered == 1" "rtcp_invalid == 1" "rtcp_received == 1" \
  "packets_received == 300" "rtcp_rr_sent >= 1"

# No SR at all: the reports go to the RTP source's port+1.
pport=$(free_udp_port)
spawn rx-plain "$build/rtp2jack" --bind 127.0.0.1 --port "$pport" --latency "$latency" \
  --connect none --stats json --stats-interval 0.25
plain_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rx-plain.log" "receiving on" 10
python3 - "$pport" <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
for _ in range(200):  # an even/odd pair of our own: RTP from the even one
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    mine = rtp.getsockname()[1]
    if mine % 2 == 0:
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind(("127.0.0.1", mine + 1))
            break
        except OSError:
            rtcp.close()
    rtp.close()
else:
    sys.exit("no port pair")
rtcp.setblocking(False)
ssrc = 0x0BADCAFE
got = []
start = time.monotonic()
for i in range(250):  # 5 s: the first report comes 1.25 to 3.75 s after lock
    rtp.sendto(bytes([0x80, 96]) + struct.pack(">HII", i, 960 * i, ssrc) + bytes([0xFC]), ("127.0.0.1", port))
    try:
        got.append(rtcp.recvfrom(2048))
    except BlockingIOError:
        pass
    time.sleep(max(0, start + (i + 1) * 0.02 - time.monotonic()))
ok = len(got) >= 1 and all(src == ("127.0.0.1", port + 1) and d[1] == 201 and
                           struct.unpack(">I", d[8:12])[0] == ssrc and d[24:32] == bytes(8) for d, src in got)
print(("ok   " if ok else "FAIL ") + f"{len(got)} report(s) to the RTP source's port+1 {mine + 1}, "
      "from our port+1, LSR/DLSR 0 without an SR")
sys.exit(0 if ok else 1)
EOF
stop_pid "$plain_pid"
echo "PASS: rtp2jack's RTCP is well-formed and right: clean, with loss, multiplexed, and without SRs"
