#!/usr/bin/env bash
# latency_test.sh floor|auto BUILD_DIR
#
# Issue 5 on the real path: a private dummy JACK server at 48 kHz / 128, a
# real GStreamer sender with 5 ms Opus frames, rtp2jack, jack_rec.
#
# floor: a fixed target of one frame + one period + 2 ms (9.67 ms) plays
#   15 s of tone without an underrun and without a glitch in the recording
#   (tests/tools/tone_judge; JACK's own stalls excused).
# auto:  --latency auto starts at 40 ms and comes down on a clean network;
#   the ports' JACK latency follows the target; when the network's jitter
#   steps up to 15 ms (the relay is restarted with jitter) the target grows
#   to cover it within two seconds, and when the path then stops for 100 ms
#   every 2 s, to cover that at the first stop, without an underrun.
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
  spawn relay "${HARNESS_RT[@]}" "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" --to "127.0.0.1:$port" \
    --seed 5 --ready-file "$TEST_TMP/relay.ready" "$@"
  relay_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/relay.ready" 5
}

send() {  # send SECONDS DESTINATION_PORT: a 440 Hz tone in 5 ms Opus frames
  ${send_prefix:-} gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers=$(($1 * 200)) samplesperbuffer=240 \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=128000 frame-size=5 ! rtpopuspay pt=96 \
    ! udpsink host=127.0.0.1 port="$2" >"$TEST_TMP/sender.log" 2>&1
}

case $mode in
  floor)
    # 5 ms + 128/48 ms + 2 ms, to the microsecond below.
    latency=9.666
    # That target leaves 1.7 ms for the network and the host: the sender
    # runs real-time (below JACK's threads), so that its own wake-ups on this
    # two-CPU VM are not taken for the network's jitter.
    spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency "$latency" \
      --connect none --stats json --stats-interval 0.5
    rx=$SPAWNED_PID
    wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
    tap out 17 rtp2jack:out_1 rtp2jack:out_2
    send_prefix="${HARNESS_RT[*]}" send 15 "$port"
    wait "$TAP_PID"
    stop_pid "$rx"
    # The tone whole from its onset (JACK's own stalls excused, from the
    # recording's cycle log): no underrun, nothing concealed that played.
    judge_steady_tone out 14.9
    python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
      "packets_received >= 2990" "packets_lost == 0" "underruns == 0" "packet_ms == 5.0" \
      "abs(target_ms - $latency) < 0.02"
    echo "PASS: a $latency ms target plays 5 ms frames at 128 frames without a glitch"
    ;;
  auto)
    start_relay
    spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency auto \
      --connect none --stats json --stats-interval 0.25 --verbose
    rx_pid=$SPAWNED_PID
    wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
    stats_wait 5 "latency_auto and target_ms == 40"  # where auto starts
    send_prefix="${HARNESS_RT[*]}"
    spawn sender send 36 "$relay_port"
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
    # Then the path stops for 100 ms every 2 s as well (a Wi-Fi link that
    # scans): the packets it holds come up to 100 ms late, and the target
    # grows to cover them at the first stop, 2 s after the relay starts.
    stop_pid "$relay_pid"
    start_relay --jitter-ms 15 --spike-ms 100,2
    stepped=$(_now_ms)
    stats_wait 5 "target_ms >= 100"
    echo "ok   target grew to cover a stop within $(($(_now_ms) - stepped)) ms of the relay's start"
    wait "$sender_pid" || true
    stop_pid "$rx_pid"
    stop_pid "$relay_pid"
    grep 'target latency' "$TEST_TMP/rtp2jack.log" || true
    # Below the --max-latency default (250 ms), which a target that fed on
    # its own growth would run into: the stop and the jitter need 1.25 x
    # 115 + 6 = 150 ms, and this host's own delays have added up to 20 ms.
    python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
      "latency_auto" "underruns == 0" "target_ms >= 100" "target_ms < 250" "target_changes >= 3" \
      "buffer_ms <= target_ms + 40" \
      "packet_ms == 5.0"
    echo "PASS: --latency auto came down on a clean network and grew with jitter and a path that stops"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
