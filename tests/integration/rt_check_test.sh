#!/usr/bin/env bash
# rt_alloc_test.sh BUILD_DIR
#
# Proves the process callback neither allocates, frees nor locks a mutex:
# runs the real program under tests/rt_alloc_check (an interposed allocator
# and pthread_mutex_lock that count calls made on the callback) against a
# real dummy JACK server, with a real GStreamer stream made rough by the
# relay (loss, duplicates, reordering, jitter), junk datagrams, and a sender
# restart, so that the callback's rare paths run too. Fails on any count.
set -euo pipefail
build=$(cd "${1:?usage: rt_alloc_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name rtalloc)"
port=$(free_udp_port)
relay_port=$(free_udp_port)

spawn relay "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" --to "127.0.0.1:$port" \
  --loss 5 --dup 5 --reorder 5 --reorder-ms 30 --jitter-ms 8 --seed 7 \
  --stats-file "$TEST_TMP/relay.json" --ready-file "$TEST_TMP/relay.ready"
relay_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/relay.ready" 5

spawn checker "$build/tests/rt_alloc_check" --bind 127.0.0.1 --port "$port" --latency 30 \
  --connect none --stats json --stats-interval 1
checker_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/checker.log" "receiving on" 10

send() {  # send SEQNUM_OFFSET BUFFERS: 20 ms packets from SSRC 0x1234 via the relay
  gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers="$2" samplesperbuffer=960 \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=96000 frame-size=20 ! rtpopuspay pt=96 ssrc=4660 seqnum-offset="$1" \
    ! udpsink host=127.0.0.1 port="$relay_port" >>"$TEST_TMP/sender.log" 2>&1
}

send 100 400     # 8 s of rough network
# Junk straight to the receiver: not RTP, RTP version 1, a truncated header.
python3 - "$port" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in (b"hello", b"\x40" * 40, b"\x80\x60\x00"):
    for _ in range(50):
        s.sendto(junk, ("127.0.0.1", int(sys.argv[1])))
PY
send 40000 200   # the same SSRC restarts far away in sequence space: a reset

stop_pid "$checker_pid" 10
stop_pid "$relay_pid"
cat "$TEST_TMP/checker.log" | grep -v '^{' || true
grep -Eq "rt_alloc_check: [0-9]+ callbacks; in them 0 allocations, 0 frees, 0 mutex locks" \
  "$TEST_TMP/checker.log"
callbacks=$(sed -nE 's/.*rt_alloc_check: ([0-9]+) callbacks.*/\1/p' "$TEST_TMP/checker.log")
# 12 s at 128 frames / 48 kHz is 4500 calls; the callback must really have run.
((callbacks > 3000)) || { echo "only $callbacks callbacks"; exit 1; }
# The rough paths ran: concealment, duplicates, late packets, junk, a restart.
python3 "$here/../lib/stats_check.py" "$TEST_TMP/checker.log" \
  "frames_concealed > 0" "packets_duplicate > 0" "packets_invalid >= 150" \
  "stream_resets >= 1" "packets_received > 550"
echo "PASS: $callbacks process callbacks, no allocation, free or lock in any"
