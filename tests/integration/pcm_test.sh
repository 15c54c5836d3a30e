#!/usr/bin/env bash
# pcm_test.sh gst-l24|gst-l16|ffmpeg-l24 BUILD_DIR
#
# Uncompressed payloads from real senders, end to end: a private dummy JACK
# server, a 10 s stereo 440 Hz tone at 0.5 sent as
#   gst-l24     GStreamer rtpL24pay in 1 ms packets (AES67's packet time),
#               rtp2jack told --format L24/48000/2;
#   gst-l16     GStreamer rtpL16pay in packets as large as the MTU allows,
#               --format L16/48000/2;
#   ffmpeg-l24  ffmpeg -c:a pcm_s24be -f rtp, rtp2jack told nothing but
#               ffmpeg's own -sdp_file (--sdp);
# through a counting relay, rtp2jack's ports recorded by jack_tap. Judged
# by tests/tools/tone_judge: no glitch from onset to end outside JACK's own
# stalls (its usual limits), the signal-to-noise ratio of lossless audio
# (the median 10 ms block's residual after the sine fit below -80 dB; L16's
# own quantisation is -92 dB at this level; a splice after a JACK stall
# reads about -60 dB in its two blocks), its pitch within 100 ppm (0.044 Hz)
# in every 1 s window from 5 s, and counters that agree with the relay.
set -euo pipefail
case_name=${1:?usage: pcm_test.sh gst-l24|gst-l16|ffmpeg-l24 BUILD_DIR}
build=$(cd "${2:?usage: pcm_test.sh CASE BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name pcm)" 48000 128
port=$(free_udp_port)
relay_start "$port"

ffmpeg_tone=(ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi
  -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t):s=48000:d=10" -c:a pcm_s24be)
gst_tone="audiotestsrc is-live=true wave=sine freq=440 volume=0.5 num-buffers=10000 samplesperbuffer=48
  ! audio/x-raw,rate=48000,channels=2 ! audioconvert"
# ffmpeg -re sends 1024-frame chunks (21.3 ms) in bursts of packets: the
# target must cover a chunk; GStreamer paces each packet.
latency=20
case $case_name in
  gst-l24) where=(--bind 127.0.0.1 --port "$port" --format L24/48000/2); packet_ms=1.0 ;;
  gst-l16) where=(--bind 127.0.0.1 --port "$port" --format L16/48000/2); packet_ms= ;;
  ffmpeg-l24)
    # ffmpeg's description of what it sends to rtp2jack's port; a tenth of a
    # second of it, before rtp2jack listens, goes nowhere.
    "${ffmpeg_tone[@]}" -t 0.1 -sdp_file "$TEST_TMP/ffmpeg.sdp" -f rtp "rtp://127.0.0.1:$port" \
      >"$TEST_TMP/sdp.log" 2>&1
    cat "$TEST_TMP/ffmpeg.sdp"
    where=(--sdp "$TEST_TMP/ffmpeg.sdp"); packet_ms= latency=40 ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac

spawn rtp2jack "$build/rtp2jack" "${where[@]}" --latency "$latency" --connect none --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
tap out 13 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$TAP_PID

case $case_name in
  gst-l24)
    # shellcheck disable=SC2086
    gst-launch-1.0 -q $gst_tone ! audio/x-raw,format=S24BE \
      ! rtpL24pay pt=96 min-ptime=1000000 max-ptime=1000000 \
      ! udpsink host=127.0.0.1 port="$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1 ;;
  gst-l16)
    # shellcheck disable=SC2086
    gst-launch-1.0 -q $gst_tone ! audio/x-raw,format=S16BE ! rtpL16pay pt=96 \
      ! udpsink host=127.0.0.1 port="$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1 ;;
  ffmpeg-l24)
    "${ffmpeg_tone[@]}" -f rtp "rtp://127.0.0.1:$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1 ;;
esac

wait "$rec_pid"
stop_pid "$rx_pid"
wait "$rx_pid" 2>/dev/null || true
stop_pid "$RELAY_PID"
grep -q '"final":true' "$TEST_TMP/rtp2jack.log" || { cat "$TEST_TMP/rtp2jack.log"; exit 1; }
sent=$(relay_forwarded)
echo "relay forwarded $sent packets"

judge_tone out --channels 2 --freq 440 --amplitude 0.5 --from-s onset+0.1 --to-s onset+9.9 \
  --max-pitch-ppm off | tee "$TEST_TMP/judge.json"
python3 - "$TEST_TMP/judge.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ch = json.loads(line)
    snr = -ch["median_residual_db"]
    print(f"channel {ch['channel']}: signal-to-noise {snr:.1f} dB")
    if snr <= 80:
        sys.exit(f"FAIL: channel {ch['channel']}: signal-to-noise {snr:.1f} dB, not above 80 dB")
PY
judge_tone out --channels 2 --freq 440 --from-s onset+5 --to-s onset+9.9 --max-pitch-ppm 100 \
  --max-glitches 100000 >/dev/null

checks=("packets_received == $sent" "packets_lost == 0" "packets_invalid == 0" "packets_late == 0"
  "packets_concealed == 0" "underruns == 0" "stream_resets == 0")
[[ -n $packet_ms ]] && checks+=("packet_ms == $packet_ms")
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" "${checks[@]}"
echo "PASS: $case_name arrived lossless"
