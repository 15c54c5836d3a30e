#!/usr/bin/env bash
# bufsize_test.sh BUILD_DIR
#
# JACK's buffer size changes while rtp2jack plays (jack_bufsize 128 -> 512 ->
# 64 -> 128 on a real dummy server): the tone must go on at 440 Hz with no
# gap, no underrun, no stuck stream.
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
spawn jack_rec jack_rec -f "$TEST_TMP/out.wav" -d 10 -b 16 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$SPAWNED_PID
spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
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
# Pitch in JACK's timeline: the dummy server loses time against the
# sender when the host delays it (0.1 to 0.4 % seen on a busy VM), and
# rtp2jack follows that as clock drift, as it must; 2 Hz is 0.45 %. Time the
# server itself lost (its XRun lines) is played away on top: freq_tol_hz.
"$build/tests/wav_analyze" "$TEST_TMP/out.wav" --channels 2 --freq 440 --freq-tol "$(freq_tol_hz 8)" \
  --min-sound-s "$(min_sound_s 7.9 "$TEST_TMP/rtp2jack.log")" --analyse-s 7.95 --max-gaps 0 --max-clicks "$(skip_clicks "$TEST_TMP/rtp2jack.log")"
# An underrun while the host held the server itself past the 3 ms repair
# margin is the host's (jack_longest_stall, as in the formats and
# impairment tests); the recording's gaps are judged above either way.
stall=$(jack_longest_stall)
echo "the server's longest stall: $stall us"
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "underruns == 0 or $stall > 3000" "packets_lost == 0" "frames_concealed == 0" "stream_resets == 0"
echo "PASS: buffer size changes played through"
