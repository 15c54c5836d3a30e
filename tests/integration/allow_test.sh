#!/usr/bin/env bash
# allow_test.sh BUILD_DIR
#
# --allow-from: a real sender from 127.0.0.2 is turned away and counted
# (packets_filtered) while rtp2jack accepts only 127.0.0.1/32; then a sender
# from 127.0.0.1 locks and plays.
set -euo pipefail
build=$(cd "${1:?usage: allow_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name allow)"
port=$(free_udp_port)
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --allow-from 127.0.0.1/32 \
  --connect none --stats json --stats-interval 0.2
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10

send() {  # send SOURCE_ADDRESS SSRC: 2 s of tone
  gst-launch-1.0 -q audiotestsrc is-live=true num-buffers=100 samplesperbuffer=960 \
    ! audio/x-raw,rate=48000,channels=2 ! opusenc ! rtpopuspay pt=96 ssrc="$2" \
    ! udpsink host=127.0.0.1 port="$port" bind-address="$1" >>"$TEST_TMP/sender.log" 2>&1
}
send 127.0.0.2 1111
send 127.0.0.1 2222
stop_pid "$rx_pid"
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "packets_filtered >= 100" "packets_received >= 100" "packets_received <= 101" \
  "ssrc == 2222" "stream_resets == 0" "underruns == 0"
echo "PASS: the source filter turned one sender away and let the other play"
