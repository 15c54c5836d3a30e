#!/usr/bin/env bash
# tone_test.sh gst|ffmpeg|ffmpeg-sdp BUILD_DIR [JACK_RATE=48000]
#
# End to end with real parts: a private dummy JACK server, a real sender
# (GStreamer rtpopuspay or ffmpeg -f rtp) streaming a 10 s stereo 440 Hz tone
# through a counting UDP relay to rtp2jack, jack_tap recording rtp2jack's
# ports. Passes when tests/tools/tone_judge finds the tone at the sent level
# with no glitch from its onset to its end (JACK's own stalls excused, from
# the recording's cycle log), its pitch within 100 ppm of 440 Hz in every
# 1 s window from 5 s, and rtp2jack's final --stats json counters agree
# with what the relay forwarded. ffmpeg-sdp: rtp2jack is told nothing but
# ffmpeg's own -sdp_file for its port (--sdp), written unchanged by ffmpeg
# for that destination.
set -euo pipefail
sender=${1:?usage: tone_test.sh gst|ffmpeg BUILD_DIR}
build=$(cd "${2:?usage: tone_test.sh gst|ffmpeg BUILD_DIR}" && pwd)
rate=${3:-48000}  # JACK's rate: rtp2jack converts the 48 kHz stream to it
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

# The dummy driver keeps time by sleeping; at 96 kHz a 128-frame period
# (1.3 ms) overruns now and then on two shared cores, so use 256 there. The
# server runs synchronously (tests/lib/jack.sh), so a client descheduled by
# the host delays a cycle instead of punching a hole in the recording.
jack_start "$(unique_name tone)" "$rate" $((rate > 48000 ? 256 : 128))
port=$(free_udp_port)
relay_start "$port"

# ffmpeg paced by arealtime, as docs/receiving.md advises: -re looks every
# 10 ms whether input is due, and its packets' delay slides by thousands of
# ppm for seconds, which the pitch judged here would follow.
ffmpeg_tone=("${HARNESS_RT[@]}" ffmpeg -nostdin -hide_banner -loglevel error -f lavfi
  -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t):s=48000:d=10,arealtime"
  -c:a libopus -b:a 128k -frame_duration 20 -payload_type 96)
if [[ $sender == ffmpeg-sdp ]]; then
  # ffmpeg writes the description of what it sends to rtp2jack's port; a
  # tenth of a second of it, before rtp2jack listens, goes nowhere.
  "${ffmpeg_tone[@]}" -t 0.1 -sdp_file "$TEST_TMP/ffmpeg.sdp" -f rtp "rtp://127.0.0.1:$port" \
    >"$TEST_TMP/sdp.log" 2>&1
  cat "$TEST_TMP/ffmpeg.sdp"
  where=(--sdp "$TEST_TMP/ffmpeg.sdp")
else
  where=(--bind 127.0.0.1 --port "$port")
fi
# The sender clock's inputs, for build/tests/clock_replay when a run fails.
RTP2JACK_CLOCK_TRACE=$TEST_TMP/clock.trace \
  spawn rtp2jack "$build/rtp2jack" "${where[@]}" --latency 40 \
  --connect none --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10

# 13 s of recording covers the sender's start-up and the 10 s tone.
tap out 13 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$TAP_PID

case $sender in
  gst)
    # 500 buffers of 20 ms = 10 s; is-live paces them in real time.
    "${HARNESS_RT[@]}" gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
      num-buffers=500 samplesperbuffer=960 \
      ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
      ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 \
      ! udpsink host=127.0.0.1 port="$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1
    ;;
  ffmpeg|ffmpeg-sdp)
    "${ffmpeg_tone[@]}" -f rtp "rtp://127.0.0.1:$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1
    ;;
  *) echo "unknown sender $sender" >&2; exit 2 ;;
esac

wait "$rec_pid"
stop_receiver "$rx_pid" "$RELAY_PID"

sent=$(relay_forwarded)
echo "relay forwarded $sent packets"

# The tone at the sent level (0.5), from its onset to its end: no glitch
# outside JACK's own stalls; from 5 s on, when the clocks are measured, its
# pitch (in JACK's time, the dummy server's clock being the sender's
# between stalls) within 100 ppm in every 1 s window.
judge_steady_tone out 9.9

# The jitter estimate (RFC 3550 section 6.4.1) in its unit: loopback adds
# none, but ffmpeg sends in 21 ms chunks and a host that stalls bunches
# any sender's packets (6 ms read in a run whose JACK server stalled 40
# times in 13 s); a wrong unit or clock would read a thousand times off.
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "packets_received == $sent" "packets_lost == 0" "packets_invalid == 0" \
  "packets_duplicate == 0" "packets_late == 0" "packets_foreign == 0" \
  "packets_concealed == 0" "underruns == 0" "stream_resets == 0" \
  "payload_type == 96" "packet_ms == 20.0" "abs(target_ms - 40) < 0.01" "jitter_ms < 15"
echo "PASS: $sender tone arrived whole"
