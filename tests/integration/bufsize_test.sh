#!/usr/bin/env bash
# bufsize_test.sh BUILD_DIR
#
# JACK's buffer size changes while rtp2jack plays (jack_bufsize 128 -> 512 ->
# 64 -> 128 on a real dummy server): the tone must go on without a glitch
# (tests/tools/tone_judge; JACK's own stalls excused, from jack_tap's cycle
# log), its pitch within 100 ppm from 5 s, with no underrun.
set -euo pipefail
build=$(cd "${1:?usage: bufsize_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name bufsize)"
port=$(free_udp_port)
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 --connect none \
  --stats json --stats-interval 0.2
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
tap out 10 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$TAP_PID
spawn sender "${HARNESS_RT[@]}" gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=400 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$port"
sender_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" '"playing":true' 10
# The changes are the scenario, spaced in time while the 8 s tone plays.
for size in 512 64 128; do
  sleep 1.5
  jack_bufsize "$size" >/dev/null
  echo "buffer size now $size"
done
wait "$sender_pid"
wait "$rec_pid"
stop_pid "$rx_pid"
judge_steady_tone out 7.9
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "underruns == 0" "packets_lost == 0" "packets_concealed == 0" "stream_resets == 0"
echo "PASS: buffer size changes played through"
