#!/usr/bin/env bash
# formats_test.sh BUILD_DIR
#
# Opus as senders make it: every frame size from 2.5 to 60 ms, a mono stream
# on stereo outputs, SILK (narrowband voice) and hybrid (super-wideband)
# modes. Each case: a real GStreamer sender, a 7 s 440 Hz tone, rtp2jack on a
# private dummy JACK server, the recording of out_1/out_2 judged by
# tests/tools/tone_judge (JACK's own stalls excused, from jack_tap's cycle
# log), from 0.3 s after the tone's onset: the encoder's first 0.2 s at
# 2.5 ms frames step in level by 0.7 dB and in residual to -29 dB decoded
# straight from the encoder, with no network or JACK in between. Limits the
# 20 ms CELT calibration does not cover come from clean runs of the
# GStreamer reference receiver on the same encoder settings
# (tests/tools/record_reference.sh with OPUSENC, 3 runs each; tests/README.md
# gives the figures), about 1.5 times the worst block of any of them:
#   CELT 2.5 ms   phase steps up to 0.028 rad (the codec alone: 0.022)
#   mono 64k      phase 0.0119 rad between any two blocks of its 0.1 s
#                 pattern (a splice puts two side by side)
#   SILK NB       phase 0.036 rad, residual -38.4 dB, clicks -60.5 dB
#   hybrid SWB    phase 0.136 rad, level steps 0.65 dB, residual -24.9 dB,
#                 clicks -56.8 dB
# The pitch of every 1 s window from 5 s after the onset is held within
# 100 ppm of the sender's (the clean-playout goal; the sender and JACK's dummy
# driver both keep CLOCK_MONOTONIC's time).
set -euo pipefail
build=$(cd "${1:?usage: formats_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name formats)"
port=$(free_udp_port)
failures=0

# run_case NAME CHANNELS "OPUSENC PROPERTIES" "TONE_JUDGE OPTIONS"
# The sender's tone is 7 s (350 buffers of 20 ms); the judged window ends
# half a second before, so that the stream's end (its last packet, then
# concealment fading out) is never judged as the tone.
run_case() {
  local name=$1 channels=$2 enc=$3 check=$4 rx rc=0
  local log="$TEST_TMP/$name"
  "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 30 --connect none \
    --stats json --stats-interval 10 >"$log.stats" 2>"$log.err" &
  rx=$!
  cleanup_push "stop_pid $rx"
  wait_for_line "$log.err" "receiving on" 10
  tap "$name" 9 rtp2jack:out_1 rtp2jack:out_2
  # shellcheck disable=SC2086  # enc holds several element properties
  "${HARNESS_RT[@]}" gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers=350 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels="$channels" \
    ! audioconvert ! opusenc $enc ! rtpopuspay pt=96 \
    ! udpsink host=127.0.0.1 port="$port" >"$log.send" 2>&1 || rc=$?
  wait "$TAP_PID" || rc=$?
  kill -TERM "$rx"
  wait "$rx" || rc=$?
  # shellcheck disable=SC2086
  if ((rc == 0)) &&
     judge_tone "$name" --channels 2 --freq 440 --from-s onset+0.3 --to-s onset+6.5 --max-pitch-ppm off \
       $check >/dev/null 2>"$log.verdict" &&
     judge_tone "$name" --channels 2 --freq 440 --from-s onset+5 --to-s onset+6.5 --max-pitch-ppm 100 \
       $check >/dev/null 2>"$log.pitch" &&
     python3 "$here/../lib/stats_check.py" "$log.stats" "packets_lost == 0" \
       "packets_invalid == 0" "underruns == 0" "packets_concealed == 0" 2>"$log.check"; then
    echo "ok   $name: $(sed -E 's/^PASS: [^:]*: //' "$log.verdict")"
  else
    echo "FAIL $name (exit $rc)"; cat "$log.err" "$log.verdict" "$log.pitch" "$log.check" 2>/dev/null || true
    failures=$((failures + 1))
  fi
}

run_case celt_2.5ms 2 "frame-size=2.5 bitrate=128000" "--amplitude 0.5 --phase-tol-rad 0.045"
run_case celt_5ms 2 "frame-size=5 bitrate=128000" "--amplitude 0.5 --phase-tol-rad 0.019"
run_case celt_10ms 2 "frame-size=10 bitrate=128000" "--amplitude 0.5 --phase-tol-rad 0.027"
for fs in 40 60; do
  run_case "celt_${fs}ms" 2 "frame-size=$fs bitrate=128000" "--amplitude 0.5"
done
run_case mono_on_stereo 1 "frame-size=20 bitrate=64000" "--amplitude 0.5 --phase-tol-rad 0.018"
run_case silk_narrowband 1 "audio-type=voice bandwidth=narrowband bitrate=12000 frame-size=20" \
  "--phase-tol-rad 0.055 --residual-max-db -32 --click-max-db -55"
run_case hybrid_superwideband 2 "audio-type=voice bandwidth=superwideband bitrate=24000 frame-size=20" \
  "--phase-tol-rad 0.2 --level-tol-db 1 --residual-max-db -20 --click-max-db -50"

echo "$failures failure(s)"
((failures == 0))
