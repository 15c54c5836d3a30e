#!/usr/bin/env bash
# The main job, end to end, on a fresh machine: installs what is missing,
# builds rtp2jack, starts a private dummy JACK server, streams a 5 s stereo
# 440 Hz tone with GStreamer (rtpopuspay, 20 ms Opus frames) to rtp2jack,
# records rtp2jack's JACK ports, and prints the statistics and a verdict on
# what arrived (tests/tools/tone_judge: every 10 ms of it fitted to the
# tone; level, clicks, phase jumps, pitch).
#
#   scripts/demo.sh [--latency MS]     (default 20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
latency=20
[[ ${1:-} == --latency ]] && latency=${2:?--latency needs a value}

"$root/scripts/install-deps.sh"
echo "== building"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target rtp2jack jack_tap tone_judge >/dev/null
build=$root/build

source "$root/tests/lib/jack.sh"
echo "== starting a private JACK server (dummy driver, 48 kHz, 128 frames)"
jack_start "$(unique_name demo)"
port=$(free_udp_port)

echo "== starting rtp2jack on 127.0.0.1:$port, latency $latency ms"
spawn rtp2jack "$root/build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency "$latency" \
  --connect auto --stats text --stats-interval 1
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
tap demo 7 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$TAP_PID

echo "== GStreamer sends 5 s of a 440 Hz tone as RTP/Opus"
gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=250 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 \
  ! udpsink host=127.0.0.1 port="$port"
wait "$rec_pid"
stop_pid "$rx_pid"

echo "== what rtp2jack said"
cat "$TEST_TMP/rtp2jack.log"
echo "== what arrived at rtp2jack:out_1 and out_2"
if judge_tone demo --channels 2 --freq 440 --amplitude 0.5 --from-s onset+0.1 --to-s onset+4.9 \
    --max-pitch-ppm off >/dev/null 2>"$TEST_TMP/verdict"; then
  echo "DEMO PASSED: $(sed -E "s/^PASS: [^:]*: //" "$TEST_TMP/verdict")"
else
  echo "DEMO FAILED: $(sed -E "s/^FAIL: //" "$TEST_TMP/verdict")"
  exit 1
fi
