#!/usr/bin/env bash
# pipewire_test.sh BUILD_DIR
#
# PipeWire's own RTP sender: Debian 12's pipewire (0.3.65) run headless in a
# private network namespace (lo with multicast) with a private
# XDG_RUNTIME_DIR and a configuration of its own: no session manager, a
# dummy driver clocking the graph, and module-rtp-sink, which sends L16
# stereo to 224.0.0.56 and announces it by SAP on 224.0.0.56:9875 (its
# defaults). pw-cat plays a stereo 440 Hz WAV at 0.5 into the sink (linked
# by pw-link: no session manager links it).
#
#  - rtp2jack --list prints the session as announced: its name, origin,
#    address and port, L16/48000/2.
#  - rtp2jack --session plays it into a private dummy JACK server; the
#    recording, from 2 s after it starts playing, is judged by
#    tests/tools/tone_judge: no glitch outside JACK's own stalls and the
#    silence PipeWire itself sent (found in a capture of its packets), a
#    signal-to-noise ratio above 80 dB (lossless L16 at this level: -92 dB
#    of quantisation), pitch within 100 ppm (0.044 Hz) from 5 s.
#  - PipeWire stopped sends a SAP deletion: rtp2jack stops receiving.
set -euo pipefail
build=$(cd "${1:?usage: pipewire_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "pipewire_test: needs root for a network namespace; not run" >&2
  exit 77
fi
for tool in pipewire pw-cat pw-link; do
  command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/install-deps.sh" >&2; exit 1; }
done

jack_start "$(unique_name pw)"
multicast_netns rtp2jack_pw
ns=$NETNS
in_ns() { ip netns exec "$ns" "$@"; }

session="rtp2jack test tone"
run="$TEST_TMP/run"
mkdir -m 700 "$run"
# The graph runs at 960 frames (20 ms): at PipeWire's default 320 the
# unprivileged graph overruns on two shared cores and the sender drops audio.
cat >"$TEST_TMP/pipewire.conf" <<CONF
context.properties = {
  core.daemon = true
  core.name = pipewire-0
  default.clock.rate = 48000
  default.clock.allowed-rates = [ 48000 ]
  default.clock.quantum = 1024
  default.clock.min-quantum = 32
  default.clock.max-quantum = 2048
  mem.allow-mlock = false
  log.level = 2
}
context.spa-libs = {
  audio.convert.* = audioconvert/libspa-audioconvert
  support.* = support/libspa-support
}
context.modules = [
  { name = libpipewire-module-protocol-native }
  { name = libpipewire-module-metadata }
  { name = libpipewire-module-spa-node-factory }
  { name = libpipewire-module-client-node }
  { name = libpipewire-module-access args = { } }
  { name = libpipewire-module-adapter }
  { name = libpipewire-module-link-factory }
  { name = libpipewire-module-rtp-sink
    args = {
      source.ip = "127.0.0.1"
      net.ttl = 1
      sess.name = "$session"
      audio.format = "S16BE"
      audio.rate = 48000
      audio.channels = 2
      audio.position = [ FL FR ]
      stream.props = {
        node.name = "rtp-sink"
        node.latency = "960/48000"
        media.class = "Audio/Sink"
        adapter.auto-port-config = { mode = dsp monitor = false control = false position = preserve }
      }
    }
  }
]
context.objects = [
  { factory = metadata args = { metadata.name = default } }
  { factory = spa-node-factory args = { factory.name = support.node.driver node.name = Dummy-Driver
      node.group = pipewire.dummy priority.driver = 20000 } }
]
CONF
ffmpeg -nostdin -hide_banner -loglevel error -f lavfi \
  -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t):s=48000:d=12" -c:a pcm_s16le "$TEST_TMP/tone.wav"

# (spawned by exec, not through this function: their PIDs are their own)
pw() { ip netns exec "$ns" env XDG_RUNTIME_DIR="$run" "$@"; }
spawn pipewire ip netns exec "$ns" env XDG_RUNTIME_DIR="$run" pipewire -c "$TEST_TMP/pipewire.conf"
pw_pid=$SPAWNED_PID
wait_for_file "$run/pipewire-0" 10

# The RTP as it arrives, kept with the test's files when it fails.
spawn tshark ip netns exec "$ns" tshark -i lo -f "udp port 46162" -w "$TEST_TMP/rtp.pcap"
tshark_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/tshark.log" "Capturing on" 15

failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

in_ns "$build/rtp2jack" --list --list-seconds 6 >"$TEST_TMP/list.out" 2>"$TEST_TMP/list.err" || fail "--list exit $?"
echo "--list printed:"; cat "$TEST_TMP/list.out" "$TEST_TMP/list.err"
grep -qxF "$session"$'\t127.0.0.1\t224.0.0.56:46162\tL16/48000/2' "$TEST_TMP/list.out" ||
  fail "the session is not listed as PipeWire announces it"

spawn rx ip netns exec "$ns" "$build/rtp2jack" --session "$session" --latency 40 --connect none \
  --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rx.log" "receiving on 224.0.0.56:46162" 10
spawn pwcat ip netns exec "$ns" env XDG_RUNTIME_DIR="$run" pw-cat --playback --target rtp-sink \
  -P '{ node.name = tone-player adapter.auto-port-config = { mode = dsp monitor = false control = false position = preserve } }' \
  "$TEST_TMP/tone.wav"
_player_ports() { pw pw-link -o 2>/dev/null | grep -q "tone-player:output_FR"; }
_poll 10 "pw-cat's ports" _player_ports
pw pw-link tone-player:output_FL rtp-sink:playback_FL
pw pw-link tone-player:output_FR rtp-sink:playback_FR
# PipeWire sends 320-frame packets (150 a second): 2 s of playing.
python3 "$here/../lib/stats_wait.py" "$TEST_TMP/rx.log" 10 "playing and packets_received >= 300" >/dev/null ||
  fail "the session did not play"
tap out 6 rtp2jack:out_1 rtp2jack:out_2
wait "$TAP_PID"
stop_pid "$pw_pid"
wait_for_line "$TEST_TMP/rx.log" "deleted" 5 || fail "PipeWire's deletion was not seen"
stop_pid "$rx_pid"
stop_pid "$tshark_pid"
grep -v '^{' "$TEST_TMP/rx.log" || true
# PipeWire sends silence where pw-cat missed its graph's cycle (a host
# stall on two shared cores): what it sent is in the capture, and each
# such run excuses the recording from its arrival to 140 ms after (the
# 40 ms target and up to 100 ms of buffer a JACK stall leaves).
python3 "$here/../lib/sender_silence.py" "$TEST_TMP/rtp.pcap" 46162 2 >"$TEST_TMP/sender.windows"
cat "$TEST_TMP/sender.windows"

judge_tone out --mono-windows "$TEST_TMP/sender.windows" --channels 2 --freq 440 --amplitude 0.5 --from-s 0.2 --to-s 5.9 \
  --max-pitch-ppm off | tee "$TEST_TMP/judge.json" || fail "the tone"
# Pitch from 5 s after playing starts (3 s into the recording), as every
# tone test judges it: the clocks are still settling before.
judge_tone out --mono-windows "$TEST_TMP/sender.windows" --channels 2 --freq 440 --from-s 3 --to-s 5.9 --max-pitch-ppm 100 \
  --max-glitches 100000 >/dev/null || fail "the tone's pitch"
lossless_snr "$TEST_TMP/judge.json" || fail "signal-to-noise"
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rx.log" "packets_lost == 0" "packets_invalid == 0" \
  "packet_ms >= 6.6 and packet_ms <= 6.7" || fail "counters"

echo "$failures failure(s)"
((failures == 0))
