#!/usr/bin/env bash
# flood_test.sh BUILD_DIR
#
# Hostile input mixed with the real stream: while GStreamer sends a 6 s tone,
# a flooder sends about 5000 datagrams a second of every kind of junk (random
# bytes, truncated headers, bad version, CSRC count and extension length
# past the end, padding longer than the payload, RTCP, a wrong payload type,
# other SSRCs with valid-looking headers and junk payloads). The tone must
# play untouched (tests/tools/tone_judge: no glitch, JACK's own stalls
# excused; no underrun, no loss), every junk datagram must be
# counted as what it is, and rtp2jack's CPU must stay bounded.
set -euo pipefail
build=$(cd "${1:?usage: flood_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name flood)"
port=$(free_udp_port)
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 --connect none \
  --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
tap out 8 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$TAP_PID
cpu_before=$(awk '{print $14 + $15}' "/proc/$rx_pid/stat")

# The real stream first, so that it holds the lock; then the flood beside it.
spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=300 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 ssrc=4242 \
  ! udpsink host=127.0.0.1 port="$port"
sender_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" '"playing":true' 10
python3 - "$port" "$TEST_TMP/flood.json" <<'PY'
import json, random, socket, struct, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def rtp(b0=0x80, pt=96, ssrc=None, body=b""):
    return struct.pack("!BBHII", b0, pt, rng.randrange(65536), rng.randrange(1 << 32),
                       ssrc if ssrc is not None else rng.randrange(1 << 32)) + body
kinds = {
    "random":       lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
    "truncated":    lambda: rtp()[:rng.randrange(1, 12)],
    "version":      lambda: rtp(b0=0x40, body=b"\xfc" * 20),
    "csrc":         lambda: rtp(b0=0x8f, body=b"\x00" * 8),
    "extension":    lambda: rtp(b0=0x90, body=b"\xbe\xde\x7f\xff" + b"\x00" * 8),
    "padding":      lambda: rtp(b0=0xa0, body=b"\xfc\x01\x02\xff"),
    "rtcp":         lambda: struct.pack("!BBHI", 0x80, 200, 6, 1234) + b"\x00" * 20,
    "payload_type": lambda: rtp(pt=0, ssrc=4242, body=b"\xfc" + b"\x00" * 40),
    "other_ssrc":   lambda: rtp(ssrc=rng.randrange(1 << 32), body=b"\xfc" + bytes(rng.randrange(256) for _ in range(60))),
}
names = list(kinds)
sent = {k: 0 for k in names}
end = time.monotonic() + 4.0
while time.monotonic() < end:
    for _ in range(50):  # bursts of 50 every 10 ms: about 5000 a second
        k = rng.choice(names)
        s.sendto(kinds[k](), ("127.0.0.1", port))
        sent[k] += 1
    time.sleep(0.01)
json.dump(sent, open(out, "w"))
print("flood sent", sum(sent.values()), sent)
PY
wait "$sender_pid"
wait "$rec_pid"
cpu_after=$(awk '{print $14 + $15}' "/proc/$rx_pid/stat")
stop_pid "$rx_pid"
ticks=$(getconf CLK_TCK)
cpu_ms=$(( (cpu_after - cpu_before) * 1000 / ticks ))
echo "rtp2jack CPU over the 8 s recording: $cpu_ms ms"

judge_tone out --channels 2 --freq 440 --amplitude 0.5 --from-s onset+0.1 --to-s onset+5.9 \
  --max-pitch-ppm off
f="$TEST_TMP/flood.json"
total=$(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1])).values()))' "$f")
rtcp=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rtcp"])' "$f")
# Junk is either invalid (malformed), RTCP, or foreign (another SSRC or
# payload type); which of the two a random datagram is depends on its bytes.
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "underruns == 0" "packets_lost == 0" "packets_concealed == 0" "stream_resets == 0" \
  "ssrc == 4242" "rtcp_received >= $rtcp" \
  "packets_invalid + packets_foreign + rtcp_received == $total" \
  "datagrams_received == packets_received + $total"
# Bounded CPU: under a quarter of one core while flooded (ticks of 10 ms).
(( cpu_ms < 2000 )) || { echo "FAIL: rtp2jack used $cpu_ms ms of CPU over the 8 s recording (limit 2000)"; exit 1; }
echo "PASS: the stream played untouched through the flood"
