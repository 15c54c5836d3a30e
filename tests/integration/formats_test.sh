#!/usr/bin/env bash
# formats_test.sh BUILD_DIR
#
# Opus as senders make it: every frame size from 2.5 to 60 ms, a mono stream
# on stereo outputs, SILK (narrowband voice) and hybrid (super-wideband)
# modes. Each case: a real GStreamer sender, a 3 s 440 Hz tone, rtp2jack on a
# private dummy JACK server, the recording of out_1/out_2 analysed.
set -euo pipefail
build=$(cd "${1:?usage: formats_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name formats)"
port=$(free_udp_port)
failures=0

# run_case NAME CHANNELS "OPUSENC PROPERTIES" "WAV_ANALYZE OPTIONS"
run_case() {
  local name=$1 channels=$2 enc=$3 check=$4 rx rec rc=0 mark stall
  mark=$(jack_log_mark)
  local log="$TEST_TMP/$name"
  "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 30 --connect none \
    --stats json --stats-interval 10 >"$log.stats" 2>"$log.err" &
  rx=$!
  cleanup_push "stop_pid $rx"
  wait_for_line "$log.err" "receiving on" 10
  jack_rec -f "$log.wav" -d 5 -b 16 rtp2jack:out_1 rtp2jack:out_2 >"$log.rec" 2>&1 &
  rec=$!
  cleanup_push "stop_pid $rec"
  # shellcheck disable=SC2086  # enc holds several element properties
  gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers=150 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels="$channels" \
    ! audioconvert ! opusenc $enc ! rtpopuspay pt=96 \
    ! udpsink host=127.0.0.1 port="$port" >"$log.send" 2>&1 || rc=$?
  wait "$rec" || rc=$?
  kill -TERM "$rx"
  wait "$rx" || rc=$?
  # An underrun while the host stalled the server itself past the 3 ms
  # repair margin is the host's (jack_longest_stall); the gaps in the
  # recording are still judged.
  stall=$(jack_longest_stall "$mark")
  check=${check/--max-clicks 0/--max-clicks $(skip_clicks "$log.stats")}
  # shellcheck disable=SC2086
  if ((rc == 0)) &&
     "$build/tests/wav_analyze" "$log.wav" --channels 2 --freq 440 --freq-tol "$(freq_tol_hz 3 "$mark")" \
       --min-sound-s "$(min_sound_s 2.9 "$log.stats")" --analyse-s 2.95 \
       --max-gaps 0 $check >/dev/null 2>"$log.verdict" &&
     python3 "$here/../lib/stats_check.py" "$log.stats" "packets_lost == 0" \
       "packets_invalid == 0" "underruns == 0 or $stall > 3000" "frames_concealed == 0" \
       2>"$log.check"; then
    echo "ok   $name: $(sed -E 's/^PASS: [^:]*: //' "$log.verdict"); server's longest stall $stall us"
  else
    echo "FAIL $name (exit $rc)"; cat "$log.err" "$log.verdict" "$log.check" 2>/dev/null || true
    failures=$((failures + 1))
  fi
}

for fs in ${FORMATS_FS:-2.5 5 10 40 60}; do
  run_case "celt_${fs}ms" 2 "frame-size=$fs bitrate=128000" "--rms 0.354 --max-clicks 0"
done
run_case mono_on_stereo 1 "frame-size=20 bitrate=64000" "--rms 0.354 --max-clicks 0"
# SILK and hybrid reshape a pure tone's level more than CELT: pitch and continuity only.
run_case silk_narrowband 1 "audio-type=voice bandwidth=narrowband bitrate=12000 frame-size=20" "--max-clicks 0"
run_case hybrid_superwideband 2 "audio-type=voice bandwidth=superwideband bitrate=24000 frame-size=20" "--max-clicks 0"

echo "$failures failure(s)"
((failures == 0))
