#!/usr/bin/env bash
# rescue_cpu.sh BUILD_DIR [SECONDS=20] [LOW_MS=3.5] [HIGH_MS=30]: what a
# small --latency costs in CPU. At a few milliseconds almost every packet
# of a JACK-driven sender comes after net's repair deadline: net conceals
# its place, then decodes the packet over that concealment (`rescued`).
#
# One private dummy server (48 kHz / 128); GStreamer pink noise into JACK;
# a real-time JACK-driven GStreamer sender (5 ms stereo Opus, 128 kbit/s,
# as in latency_bench.py) sends every packet to two rtp2jack, one at
# LOW_MS and one at HIGH_MS; user + system CPU of each over the same
# window, after 5 s of settling. Prints one line per receiver.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: rescue_cpu.sh BUILD_DIR [SECONDS] [LOW_MS] [HIGH_MS]}" && pwd)
seconds=${2:-20}
low=${3:-3.5}
high=${4:-30}
# shellcheck source=../tests/lib/jack.sh
source "$here/../tests/lib/jack.sh"

jack_start "$(unique_name rescuecpu)"
spawn tone gst-launch-1.0 -q audiotestsrc wave=pink-noise ! audio/x-raw,rate=48000,channels=2 \
  ! jackaudiosink client-name=tone connect=none
p_low=$(free_udp_port)
p_high=$(free_udp_port)
spawn sender chrt -f 3 gst-launch-1.0 -q jackaudiosrc client-name=snd connect=none \
  buffer-time=20000 latency-time=5000 ! audio/x-raw,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=5 audio-type=restricted-lowdelay ! rtpopuspay \
  ! multiudpsink sync=false "clients=127.0.0.1:$p_low,127.0.0.1:$p_high"
for c in 1 2; do
  wait_for_port "tone:out_jackaudiosink0_$c" 10
  wait_for_port "snd:in_jackaudiosrc0_$c" 10
  jack_connect "tone:out_jackaudiosink0_$c" "snd:in_jackaudiosrc0_$c"
done
spawn low "$build/rtp2jack" --bind 127.0.0.1 --port "$p_low" --latency "$low" --name rx_low \
  --connect none --stats json --stats-interval 1
pid_low=$SPAWNED_PID
spawn high "$build/rtp2jack" --bind 127.0.0.1 --port "$p_high" --latency "$high" --name rx_high \
  --connect none --stats json --stats-interval 1
pid_high=$SPAWNED_PID
sleep 5  # settling: not a synchronisation, the window simply starts later

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
l0=$(cpu_ticks "$pid_low")
h0=$(cpu_ticks "$pid_high")
sleep "$seconds"
l1=$(cpu_ticks "$pid_low")
h1=$(cpu_ticks "$pid_high")
hz=$(getconf CLK_TCK)
stop_pid "$pid_low"
stop_pid "$pid_high"
for k in low high; do
  case $k in low) ms=$low d=$((l1 - l0)) ;; high) ms=$high d=$((h1 - h0)) ;; esac
  final=$(grep '"final":true' "$TEST_TMP/$k.log" | tail -1)
  python3 - "$ms" "$d" "$hz" "$seconds" "$final" <<'PY'
import json, sys
ms, ticks, hz, secs, final = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = json.loads(final) if final else {}
print(f"--latency {ms}: {100 * ticks / hz / secs:.2f} % of a core; packets {s.get('packets_received')}, "
      f"rescued {s.get('packets_rescued')}, late {s.get('packets_late')}, "
      f"concealed {s.get('frames_concealed')}, underruns {s.get('underruns')}")
PY
done
