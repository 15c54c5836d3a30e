#!/usr/bin/env bash
# latency_test.sh floor|auto BUILD_DIR
#
# Issue 5 on the real path: a private dummy JACK server at 48 kHz / 128, a
# real GStreamer sender with 5 ms Opus frames, rtp2jack, jack_rec.
#
# floor: a fixed target of one frame + one period + 2 ms (9.67 ms) plays
#   15 s of tone without an underrun (issue 5's criterion) and without a
#   gap in the recording; of its 3000 packets at most 3 may come too late
#   and be concealed (on a quiet machine none do; a busy VM's scheduling
#   now and then delays the sender or the server by more than the 1.7 ms
#   that target leaves for the network).
# auto:  --latency auto starts at 40 ms and comes down on a clean network;
#   the ports' JACK latency follows the target; when the network's jitter
#   steps up to 15 ms (the relay is restarted with jitter) the target grows
#   to cover it within two seconds, without an underrun.
set -euo pipefail
mode=${1:?usage: latency_test.sh floor|auto BUILD_DIR}
build=$(cd "${2:?usage: latency_test.sh floor|auto BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
stats_wait() { python3 "$here/../lib/stats_wait.py" "$TEST_TMP/rtp2jack.log" "$@"; }

jack_start "$(unique_name latency)" 48000 128
port=$(free_udp_port)
relay_port=$(free_udp_port)

start_relay() {  # start_relay [IMPAIRMENTS...]: the relay on relay_port
  rm -f "$TEST_TMP/relay.ready"
  spawn relay "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" --to "127.0.0.1:$port" \
    --seed 5 --ready-file "$TEST_TMP/relay.ready" "$@"
  relay_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/relay.ready" 5
}

send() {  # send SECONDS DESTINATION_PORT: a 440 Hz tone in 5 ms Opus frames
  gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers=$(($1 * 200)) samplesperbuffer=240 \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=128000 frame-size=5 ! rtpopuspay pt=96 \
    ! udpsink host=127.0.0.1 port="$2" >"$TEST_TMP/sender.log" 2>&1
}

case $mode in
  floor)
    # 5 ms + 128/48 ms + 2 ms, to the microsecond below.
    latency=9.666
    # That target leaves 1.7 ms for the network and the host. A run in which
    # the host stalled the JACK server itself by more than that (its dummy
    # driver logs "XRun = N usec") says nothing about rtp2jack: it is run
    # again, up to three times; if none is clean the test is reported as
    # skipped (77), never as passed.
    floor_run() {  # floor_run N: 0 pass, 1 fail, 3 inconclusive (the host stalled JACK)
      local n=$1 rx rec before
      before=$(jack_log_mark)
      spawn "rtp2jack$n" "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency "$latency" \
        --connect none --stats json --stats-interval 0.5
      rx=$SPAWNED_PID
      wait_for_line "$TEST_TMP/rtp2jack$n.log" "receiving on" 10
      spawn "jack_rec$n" jack_rec -f "$TEST_TMP/out$n.wav" -d 17 -b 16 rtp2jack:out_1 rtp2jack:out_2
      rec=$SPAWNED_PID
      send 15 "$port"
      wait "$rec"
      stop_pid "$rx"
      local stall
      stall=$(jack_longest_stall "$before")
      echo "run $n: the server's longest stall $stall usec"
      # Pitch in JACK's timeline: the dummy server loses time against the
      # sender when the host delays it (0.1 to 0.4 % seen on a busy VM), and
      # rtp2jack follows that as clock drift, as it must; 2 Hz is 0.45 %. Time
      # the server itself lost (its XRun lines) is played away on top: freq_tol_hz.
      if "$build/tests/wav_analyze" "$TEST_TMP/out$n.wav" --channels 2 --freq 440 \
           --freq-tol "$(freq_tol_hz 15 "$before")" \
           --rms 0.354 --rms-tol-db 1.0 --min-sound-s "$(min_sound_s 14.9 "$TEST_TMP/rtp2jack$n.log")" --analyse-s 14.9 --max-gaps 0 \
           --max-clicks "$(skip_clicks "$TEST_TMP/rtp2jack$n.log")" &&
         python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack$n.log" \
           "packets_received >= 2990" "packets_lost == 0" "underruns == 0" \
           "packets_late <= 3" "frames_concealed <= 3" "packet_ms == 5.0" \
           "abs(target_ms - $latency) < 0.02"; then
        return 0
      fi
      ((stall > 1700)) && return 3
      return 1
    }
    for n in 1 2 3; do
      rc=0
      floor_run "$n" || rc=$?
      if ((rc == 0)); then
        echo "PASS: a $latency ms target plays 5 ms frames at 128 frames without a glitch"
        exit 0
      fi
      if ((rc == 1)); then
        echo "FAIL: glitches at $latency ms while the JACK server ran on time"
        exit 1
      fi
      echo "run $n inconclusive: the host stalled the JACK server longer than the target's slack"
    done
    echo "SKIP: the host stalled the JACK server in every run; nothing shown"
    exit 77
    ;;
  auto)
    start_relay
    spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency auto \
      --connect none --stats json --stats-interval 0.25 --verbose
    rx_pid=$SPAWNED_PID
    wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
    stats_wait 5 "latency_auto and target_ms == 40"  # where auto starts
    spawn sender send 30 "$relay_port"
    sender_pid=$SPAWNED_PID
    # Clean network: down from 40 ms after the first calm spell (5 s) and a
    # glide at 2 ms per second, to under 20 ms. A host that delays the
    # sender (seen in CI: 71 xruns of the dummy server in 26 s, packets up
    # to 17.6 ms late by their kernel arrival times) makes the network
    # rough, and the target rightly stops where the lateness it measured
    # needs it (recommended_ms); it must still have come down from 40 ms.
    stats_wait 25 "playing and underruns == 0 and (target_ms < 20 or
                   (target_ms < 35 and lateness_ms > 8 and recommended_ms is not None
                    and target_ms <= recommended_ms + 0.5))"
    # The ports report the target (JACK frames at 48 kHz), within the
    # control thread's 100 ms look. The target may still be moving (the
    # tuner lowers it in steps): compared with the latest one each time.
    latest_target_frames() {
      python3 - "$TEST_TMP/rtp2jack.log" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{") and l.endswith("}\n")]
print(round(json.loads(lines[-1])["target_ms"] * 48))
PY
    }
    port_latency() {
      jack_lsp -l rtp2jack:out_1 | sed -nE 's/.*capture latency = \[ ([0-9]+) ([0-9]+) \].*/\1/p'
    }
    _port_says() {
      target_frames=$(latest_target_frames)
      [[ $(port_latency) == "$target_frames" ]]
    }
    target_frames=$(latest_target_frames)
    if ! _poll 2 "the port latency to match the target" _port_says; then
      echo "FAIL: port capture latency $(port_latency), target $target_frames frames"; exit 1
    fi
    echo "ok   port latency follows the target: $target_frames frames"
    # The jitter steps up: the relay starts again, now delaying each packet
    # by up to 15 ms.
    stop_pid "$relay_pid"
    start_relay --jitter-ms 15
    stepped=$(_now_ms)
    stats_wait 4 "target_ms >= 15"
    echo "ok   target grew within $(($(_now_ms) - stepped)) ms of the step"
    wait "$sender_pid" || true
    stop_pid "$rx_pid"
    stop_pid "$relay_pid"
    grep 'target latency' "$TEST_TMP/rtp2jack.log" || true
    python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
      "latency_auto" "underruns == 0" "target_ms >= 15" "target_ms <= 45" "target_changes >= 2" \
      "buffer_ms <= target_ms + 40" \
      "packet_ms == 5.0"
    echo "PASS: --latency auto came down on a clean network and grew with jitter"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
