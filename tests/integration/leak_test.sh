#!/usr/bin/env bash
# leak_test.sh BUILD_DIR   (an ASan build: cmake -DCMAKE_BUILD_TYPE=Sanitize)
#
# Shutdown under load leaks nothing: while a real stream plays
# and a flood of junk and foreign senders (every kind the parsers refuse)
# hits the port, with records in every queue and the jitter buffer, rtp2jack
# gets SIGTERM. It must exit 0, print its final stats, and LeakSanitizer
# (at exit) and AddressSanitizer must report nothing. Done three times, with
# the signal at different moments. Exits 77 (skipped) for a build without ASan.
set -euo pipefail
build=$(cd "${1:?usage: leak_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Sanitize$' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: $build is not an ASan build"
  exit 77
fi
source "$here/../lib/jack.sh"
# Our own options, whatever the caller set: reports to this test's stderr log.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=66
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

jack_start "$(unique_name leak)"
port=$(free_udp_port)
spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=1500 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 inband-fec=true ! rtpopuspay pt=96 ssrc=4242 \
  ! udpsink host=127.0.0.1 port="$port"
cat >"$TEST_TMP/flood.py" <<'PY'
import random, socket, struct, sys, time
port = int(sys.argv[1])
rng = random.Random(11)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def rtp(b0=0x80, pt=96, ssrc=None, body=b""):
    return struct.pack("!BBHII", b0, pt, rng.randrange(65536), rng.randrange(1 << 32),
                       ssrc if ssrc is not None else rng.randrange(1 << 32)) + body
kinds = [
    lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
    lambda: rtp()[:rng.randrange(1, 12)],
    lambda: rtp(b0=0x8f, body=b"\x00" * 8),
    lambda: rtp(b0=0xa0, body=b"\xfc\x01\x02\xff"),
    lambda: struct.pack("!BBHI", 0x80, 200, 6, 1234) + b"\x00" * 20,
    lambda: rtp(ssrc=rng.randrange(1 << 32), body=b"\xfc" + bytes(rng.randrange(256) for _ in range(60))),
]
while True:  # about 3000 a second, until stopped
    for _ in range(30):
        s.sendto(rng.choice(kinds)(), ("127.0.0.1", port))
    time.sleep(0.01)
PY
spawn flood python3 "$TEST_TMP/flood.py" "$port"

for round in 1 2 3; do
  log="$TEST_TMP/rtp2jack-$round.log"
  # The flood is running before rtp2jack starts, with valid-looking packets
  # from random SSRCs among it: probation (RFC 3550 A.1) keeps them from
  # taking the lock, so the real stream must lock and play.
  "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 --connect none \
    --stats json --stats-interval 0.5 >"$log" 2>&1 &
  rx_pid=$!
  cleanup_push "stop_pid $rx_pid"
  wait_for_line "$log" '"playing":true' 10
  # Under load for a while; each round a little longer, so that the signal
  # lands at a different point of the callback, the queues and the decoder.
  sleep "$((round + 1)).$((round * 3))"
  kill -TERM "$rx_pid"
  rc=0
  wait "$rx_pid" || rc=$?
  if ((rc != 0)) || grep -q 'Sanitizer' "$log"; then
    grep -v '^{' "$log" | tail -n 60
    echo "FAIL: round $round: rtp2jack exited $rc under load (66: a sanitizer report)"
    exit 1
  fi
  python3 "$here/../lib/stats_check.py" "$log" "playing" "packets_invalid > 0" \
    "packets_foreign > 0" "packets_received > 0" 2>/dev/null ||
    { python3 "$here/../lib/stats_check.py" "$log" "playing" "packets_invalid > 0"; exit 1; }
  echo "round $round: SIGTERM while playing under a flood: exit 0, no leak or error report"
done
echo "PASS: shutdown under load exits 0 with nothing leaked"
