#!/usr/bin/env bash
# pcm_test.sh gst-l24|gst-l16|ffmpeg-l24|gst-l24-8ch|gst-l24-96k|gst-l16-44k1 BUILD_DIR
#
# Uncompressed payloads from real senders, end to end: a private dummy JACK
# server at 48 kHz, a 10 s stereo 440 Hz tone at 0.5 sent as
#   gst-l24     GStreamer rtpL24pay in 1 ms packets (AES67's packet time),
#               rtp2jack told --format L24/48000/2;
#   gst-l16     GStreamer rtpL16pay in packets as large as the MTU allows,
#               --format L16/48000/2;
#   ffmpeg-l24  ffmpeg -c:a pcm_s24be -f rtp, rtp2jack told nothing but
#               ffmpeg's own -sdp_file (--sdp);
#   gst-l24-8ch eight channels in 1 ms packets, each its own tone (400 Hz
#               for the first, 400 Hz more for each next: a channel in the
#               wrong place is the wrong pitch), --format L24/48000/8
#               --channels 8, each of out_1..out_8 judged on its own. The
#               tones share a period of 2.5 ms, the width of the splicer's
#               search window (+-1.25 ms), so that the splice after a JACK
#               stall can land in phase on all eight at once, as it does on
#               one tone (tones without a common period that short cannot
#               all be spliced in phase). The judge's phase limit
#               (0.015 rad, calibrated at 440 Hz: 5.4 us) is held as that
#               time at each tone's frequency: a rate that glides while the
#               clocks settle moves each tone's phase in proportion to its
#               frequency (0.005 rad per 10 ms at 400 Hz, 0.04 at 3200 Hz);
#   gst-l24-96k L24 at 96 kHz in 1 ms packets, --format L24/96000/2:
#               resampled to the server's 48 kHz;
#   gst-l16-44k1  L16 at 44.1 kHz in packets of 44 frames (a buffer of
#               the sender's each), --format L16/44100/2: resampled up to
#               48 kHz;
# through a counting relay, rtp2jack's ports recorded by jack_tap. Judged
# by tests/tools/tone_judge: no glitch from onset to end outside JACK's own
# stalls (its usual limits), the signal-to-noise ratio of lossless audio
# (the median 10 ms block's residual after the sine fit below -80 dB; L16's
# own quantisation is -92 dB at this level; a splice after a JACK stall
# reads about -60 dB in its two blocks), its pitch within 100 ppm (0.044 Hz)
# in every 1 s window from 5 s, and counters that agree with the relay.
set -euo pipefail
case_name=${1:?usage: pcm_test.sh gst-l24|gst-l16|ffmpeg-l24|gst-l24-8ch|gst-l24-96k|gst-l16-44k1 BUILD_DIR}
build=$(cd "${2:?usage: pcm_test.sh CASE BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name pcm)" 48000 128
port=$(free_udp_port)
relay_start "$port"

ffmpeg_tone=("${HARNESS_RT[@]}" ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi
  -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t):s=48000:d=10" -c:a pcm_s24be)
# A 10 s tone in buffers of 1 ms at RATE, CHANNELS of it.
gst_tone() {  # gst_tone RATE CHANNELS
  echo "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 num-buffers=10000 samplesperbuffer=$(($1 / 1000))
    ! audio/x-raw,rate=$1,channels=$2 ! audioconvert"
}
# Eight mono tones interleaved, channel k (from 0) at 400 (k + 1) Hz; the
# layout is unpositioned (channel-mask 0), so rtpL24pay reorders nothing.
freq_8ch() { echo $((400 * ($1 + 1))); }
gst_8ch() {
  local k src=""
  for k in 0 1 2 3 4 5 6 7; do
    src+=" audiotestsrc is-live=true wave=sine freq=$(freq_8ch $k) volume=0.5 num-buffers=10000
      samplesperbuffer=48 ! audio/x-raw,rate=48000,channels=1,format=S24BE ! i.sink_$k"
  done
  echo "interleave name=i ! audioconvert ! audio/x-raw,format=S24BE,channels=8
    ! rtpL24pay pt=96 min-ptime=1000000 max-ptime=1000000 ! udpsink host=127.0.0.1 port=$RELAY_PORT $src"
}
# ffmpeg -re sends 1024-frame chunks (21.3 ms) in bursts of packets: the
# target must cover a chunk; GStreamer paces each packet.
latency=20
channels=2
case $case_name in
  gst-l24) where=(--bind 127.0.0.1 --port "$port" --format L24/48000/2); packet_ms=1.0 ;;
  gst-l16) where=(--bind 127.0.0.1 --port "$port" --format L16/48000/2); packet_ms= ;;
  gst-l24-8ch)
    channels=8
    where=(--bind 127.0.0.1 --port "$port" --format L24/48000/8 --channels 8); packet_ms=1.0 ;;
  gst-l24-96k) where=(--bind 127.0.0.1 --port "$port" --format L24/96000/2); packet_ms=1.0 ;;
  gst-l16-44k1) where=(--bind 127.0.0.1 --port "$port" --format L16/44100/2); packet_ms= ;;
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
ports=()
for ((k = 1; k <= channels; k++)); do ports+=("rtp2jack:out_$k"); done
tap out 13 "${ports[@]}"
rec_pid=$TAP_PID

case $case_name in
  gst-l24|gst-l24-96k)
    rate=48000
    [[ $case_name == gst-l24-96k ]] && rate=96000
    # shellcheck disable=SC2046
    "${HARNESS_RT[@]}" gst-launch-1.0 -q $(gst_tone $rate 2) ! audio/x-raw,format=S24BE \
      ! rtpL24pay pt=96 min-ptime=1000000 max-ptime=1000000 \
      ! udpsink host=127.0.0.1 port="$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1 ;;
  gst-l16|gst-l16-44k1)
    rate=48000
    [[ $case_name == gst-l16-44k1 ]] && rate=44100
    # shellcheck disable=SC2046
    "${HARNESS_RT[@]}" gst-launch-1.0 -q $(gst_tone $rate 2) ! audio/x-raw,format=S16BE ! rtpL16pay pt=96 \
      ! udpsink host=127.0.0.1 port="$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1 ;;
  gst-l24-8ch)
    # shellcheck disable=SC2046
    "${HARNESS_RT[@]}" gst-launch-1.0 -q $(gst_8ch) >"$TEST_TMP/sender.log" 2>&1 ;;
  ffmpeg-l24)
    "${ffmpeg_tone[@]}" -f rtp "rtp://127.0.0.1:$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1 ;;
esac

wait "$rec_pid"
stop_receiver "$rx_pid" "$RELAY_PID"
sent=$(relay_forwarded)
echo "relay forwarded $sent packets"

# Each port with the tone it should carry: glitches and the signal-to-noise
# ratio from onset to end, the pitch from 5 s.
: >"$TEST_TMP/judge.json"
for ((k = 1; k <= channels; k++)); do
  freq=440
  [[ $case_name == gst-l24-8ch ]] && freq=$(freq_8ch $((k - 1)))
  echo "$freq" >>"$TEST_TMP/freqs"
  phase_tol=$(python3 -c "print(0.015 * max(1, $freq / 440))")
  judge_tone out --channels "$channels" --only-channel "$k" --freq "$freq" --amplitude 0.5 \
    --phase-tol-rad "$phase_tol" --from-s onset+0.1 --to-s onset+9.9 --max-pitch-ppm off \
    | tee -a "$TEST_TMP/judge.json"
  # 100 ppm, as every tone test from 5 s: the playout clock's rate, the
  # same for every channel (0.044 Hz at 440 Hz, 0.32 Hz at 3200 Hz).
  judge_tone out --channels "$channels" --only-channel "$k" --freq "$freq" --from-s onset+5 \
    --to-s onset+9.9 --max-pitch-ppm 100 --max-glitches 100000 | tee -a "$TEST_TMP/pitch.json"
done
lossless_snr "$TEST_TMP/judge.json"
# Lossless audio keeps its frequency: over the windows from 5 s (those
# inside JACK's stalls left out; every one of them when each had a stall,
# as on a host that stalls the server every second), each port's mean
# within 50 ppm of the sender's tone. Every port plays at the same rate, so
# the limit is relative: the drift estimate within 20 ppm plus a trim of
# 30 ppm at most, what audio::PlayoutClock promises once settled (and the
# clean-playout goal from 10 s).
python3 - "$TEST_TMP/pitch.json" "$TEST_TMP/freqs" <<'PY'
import json, sys
bad = 0
for line in open(sys.argv[1]):
    ch = json.loads(line)
    freq = float(open(sys.argv[2]).read().split()[ch['channel'] - 1])
    ppm = ch['worst_pitch_ppm']
    kept = [p for i, p in enumerate(ch['pitch_ppm']) if i not in ch['pitch_excused']]
    if not kept:
        print(f"channel {ch['channel']}: a JACK stall in every window from 5 s: all of them judged")
        kept = [p for p in ch['pitch_ppm'] if p is not None]
    mean_hz = sum(kept) / len(kept) * 1e-6 * freq if kept else float("nan")
    print(f"channel {ch['channel']}: {freq:g} Hz, worst pitch from 5 s {ppm} ppm ({ppm * 1e-6 * freq:+.3f} Hz), "
          f"mean over {len(kept)} windows {mean_hz:+.4f} Hz")
    if not abs(mean_hz) <= 50e-6 * freq:
        print(f"FAIL: channel {ch['channel']}: frequency {mean_hz:+.4f} Hz off over 5 s to the end "
              f"(limit 50 ppm: {50e-6 * freq:.3f} Hz)")
        bad += 1
sys.exit(1 if bad else 0)
PY

checks=("packets_received == $sent" "packets_lost == 0" "packets_invalid == 0" "packets_late == 0"
  "packets_concealed == 0" "underruns == 0" "stream_resets == 0")
[[ -n $packet_ms ]] && checks+=("packet_ms == $packet_ms")
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" "${checks[@]}"
echo "PASS: $case_name arrived lossless"
