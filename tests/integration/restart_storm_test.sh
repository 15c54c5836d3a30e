#!/usr/bin/env bash
# restart_storm_test.sh BUILD_DIR
#
# No control message can be lost: the JACK server is stopped (SIGSTOP) for
# 5 s while the sender restarts 20 times (a new SSRC each time), so nothing
# drains the net -> audio side meanwhile; then the server resumes and a
# new sender plays 5 s of tone. rtp2jack must take every restart (stream
# epochs through a mailbox, not a queue that fills up), play the new
# stream from where it is due, and play it clean: the recording of the new
# sender's tone is judged by tests/tools/tone_judge with nothing excused but
# the server's own stalls.
#
# The restarting senders replay Opus packets a real GStreamer encoder made
# (captured first), each time under a new SSRC, sequence and timestamp: 20
# real GStreamer starts take longer than the 5 s stop.
set -euo pipefail
build=$(cd "${1:?usage: restart_storm_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
timeline="$here/../lib/timeline.py"

jack_start "$(unique_name storm)"
port=$(free_udp_port)
capture_port=$(free_udp_port)

# 1. Real Opus packets to replay: 40 of a GStreamer sender, captured.
spawn capture python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2] + ".ready", "w").close()
with open(sys.argv[2], "wb") as out:
    for _ in range(40):
        p = s.recv(2048)
        out.write(len(p).to_bytes(2, "big") + p)
' "$capture_port" "$TEST_TMP/packets.bin"
capture_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/packets.bin.ready" 5
gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 num-buffers=40 \
  samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 \
  ! udpsink host=127.0.0.1 port="$capture_port" >"$TEST_TMP/capture_sender.log" 2>&1
wait "$capture_pid"

spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 --connect none \
  --stats json --stats-interval 0.25
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
spawn tap "$build/tests/jack_tap" --out "$TEST_TMP/out.wav" --cycles "$TEST_TMP/out.cycles" \
  --seconds 12 --ready-file "$TEST_TMP/tap.ready" rtp2jack:out_1 rtp2jack:out_2
tap_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/tap.ready" 10

send() {  # send SSRC BUFFERS: a real GStreamer sender
  gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 num-buffers="$2" \
    samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 ssrc="$1" \
    ! udpsink host=127.0.0.1 port="$port" >>"$TEST_TMP/sender.log" 2>&1
}

# 2. A first stream plays; then the server stops and the storm comes.
send 1000 50
wait_for_line "$TEST_TMP/rtp2jack.log" '"playing":true' 5  # it played (and has ended by now)
kill -STOP "$JACKD_PID"
cleanup_push "kill -CONT $JACKD_PID 2>/dev/null"
stopped=$(python3 -c 'import time; print(time.monotonic_ns())')
python3 - "$port" "$TEST_TMP/packets.bin" <<'PY'
# 20 restarts: each a new SSRC, sequence and timestamp; 5 packets 20 ms
# apart (probation takes two), then 110 ms of silence, so that the next
# sender is a restart and not a second sender talking over a live one.
import random, socket, struct, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
data = open(path, "rb").read()
packets, i = [], 0
while i < len(data):
    n = int.from_bytes(data[i:i + 2], "big")
    packets.append(data[i + 2:i + 2 + n])
    i += 2 + n
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(7)
for r in range(20):
    ssrc, seq, ts = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
    for k in range(5):
        p = bytearray(packets[(r * 5 + k) % len(packets)])
        struct.pack_into("!HII", p, 2, (seq + k) & 0xFFFF, (ts + 960 * k) & 0xFFFFFFFF, ssrc)
        s.sendto(bytes(p), ("127.0.0.1", port))
        time.sleep(0.02)
    time.sleep(0.11)
PY
python3 - "$stopped" <<'PY'
import sys, time
left = 5.0 - (time.monotonic_ns() - int(sys.argv[1])) / 1e9
if left > 0: time.sleep(left)  # the stop lasts 5 s, however long the storm took
PY
kill -CONT "$JACKD_PID"
echo "server stopped for $(python3 -c "import sys, time; print(round((time.monotonic_ns() - int(sys.argv[1])) / 1e9, 2))" "$stopped") s"

# 3. A new sender after the storm; its tone must play clean.
resumed=$(python3 -c 'import time; print(time.monotonic_ns())')
send 3000 250
wait "$tap_pid" || { cat "$TEST_TMP/tap.log" >&2; exit 1; }
stop_pid "$rx_pid"

python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "stream_resets == 21" "ssrc == 3000" "packets_invalid == 0"
# The new stream's tone, from half a second after it began to play until
# its end: judged in full, JACK's own stalls excused, but for its pitch,
# which settles over the first seconds of a stream as its clock is measured
# (up to 200 ppm; playout_test.sh holds it from 5 s on).
start=$(python3 "$timeline" at "$TEST_TMP/out.cycles" "$resumed")
python3 "$timeline" excuse "$TEST_TMP/out.cycles" --stalls >"$TEST_TMP/excuse.txt"
"$build/tests/tone_judge" "$TEST_TMP/out.wav" --channels 2 --freq 440 \
  --from-s "$(python3 -c "print(float('$start') + 0.5)")" --to-s "$(python3 -c "print(float('$start') + 4.5)")" \
  --excuse "$TEST_TMP/excuse.txt" --max-pitch-ppm off
echo "PASS: 20 restarts while JACK was stopped, all taken; the stream after them plays clean"
