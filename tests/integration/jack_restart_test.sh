#!/usr/bin/env bash
# jack_restart_test.sh BUILD_DIR
#
# The JACK server is killed (SIGKILL) while rtp2jack plays a real stream and
# is started again under the same name: rtp2jack says so, keeps its network
# state, reconnects by itself, registers its ports again and plays; audio is
# recorded and checked before the kill and after the return.
set -euo pipefail
build=$(cd "${1:?usage: jack_restart_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

name=$(unique_name jackrestart)
jack_start "$name"
port=$(free_udp_port)
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 --connect none \
  --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=700 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$port"
wait_for_line "$TEST_TMP/rtp2jack.log" '"playing":true' 10
jack_rec -f "$TEST_TMP/before.wav" -d 2 -b 16 rtp2jack:out_1 rtp2jack:out_2 >/dev/null

kill -KILL "$JACKD_PID"
wait "$JACKD_PID" 2>/dev/null || true
wait_for_line "$TEST_TMP/rtp2jack.log" "JACK server went away" 10
jack_start "$name"
wait_for_line "$TEST_TMP/rtp2jack.log" "JACK is back" 10
wait_for_port rtp2jack:out_1 5
jack_rec -f "$TEST_TMP/after.wav" -d 5 -b 16 rtp2jack:out_1 rtp2jack:out_2 >/dev/null
stop_pid "$rx_pid"

"$build/tests/wav_analyze" "$TEST_TMP/before.wav" --channels 2 --freq 440 --min-sound-s 1.9 --max-gaps 0
# (Right after a server starts, its dummy clock and our drift controller
# settle for a few seconds; the pitch is judged to within 1 %.)
"$build/tests/wav_analyze" "$TEST_TMP/after.wav" --channels 2 --freq 440 --freq-tol 4.4 \
  --min-sound-s 4.9 --max-gaps 0
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "stream_resets == 0" "packets_lost == 0" "playing"
grep -c '"final":true' "$TEST_TMP/rtp2jack.log" >/dev/null
echo "PASS: rtp2jack played again after the JACK server came back"
