#!/usr/bin/env bash
# plot_test.sh BUILD_DIR [SAVE_PNG]
#
# scripts/plot-stats.py on a real run: a GStreamer sender (Opus 20 ms with
# in-band FEC) through a seeded relay (3 % loss, 5 ms delay + 0..12 ms
# jitter) to rtp2jack --latency auto --stats json on a private dummy JACK
# server, 20 s. The picture is a PNG of the expected size whose pixels are
# not all one colour, drawn from every stats line; a log with no stats in
# it is refused with one line and a non-zero exit. SAVE_PNG keeps the
# picture (the README's is made this way).
set -euo pipefail
build=$(cd "${1:?usage: plot_test.sh BUILD_DIR [SAVE_PNG]}" && pwd)
save=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name plot)"
port=$(free_udp_port)
relay_start "$port" --loss 3 --delay-ms 5 --jitter-ms 12 --seed 7
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency auto --connect none \
  --stats json --stats-interval 0.25
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 num-buffers=1000 \
  ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=64000 frame-size=20 inband-fec=true packet-loss-percentage=10 \
  ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$RELAY_PORT" >"$TEST_TMP/sender.log" 2>&1
stop_pid "$rx_pid"
wait "$rx_pid" 2>/dev/null || true
stop_pid "$RELAY_PID"

"$root/scripts/plot-stats.py" "$TEST_TMP/rtp2jack.log" -o "$TEST_TMP/plot.png" \
  --title "rtp2jack --latency auto: 3 % loss, 5 ms + 0..12 ms jitter (20 s, Opus 20 ms + FEC)"
python3 - "$TEST_TMP/plot.png" "$TEST_TMP/rtp2jack.log" <<'PY'
import json, struct, sys, zlib
png, log = sys.argv[1], sys.argv[2]
data = open(png, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (990, 720), f"size {w}x{h}, expected 990x720 (11 x 8 in at 90 dpi)"
# The image data is not one flat colour: something was drawn.
idat, i = b"", 8
while i < len(data):
    n, kind = struct.unpack(">I4s", data[i:i + 8])
    if kind == b"IDAT":
        idat += data[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
assert len(set(raw)) > 16, "the picture is nearly blank"
lines = [json.loads(l) for l in open(log) if l.startswith("{")]
assert lines[-1]["packets_lost"] > 0, "the run lost nothing: the markers were not exercised"
print(f"ok   plot: {w}x{h} PNG from {len(lines)} stats lines ({lines[-1]['packets_lost']} lost)")
PY
echo "not stats" >"$TEST_TMP/empty.log"
if "$root/scripts/plot-stats.py" "$TEST_TMP/empty.log" -o "$TEST_TMP/x.png" 2>"$TEST_TMP/err"; then
  echo "FAIL plot: a log without stats was accepted"; exit 1
fi
[[ $(wc -l <"$TEST_TMP/err") -eq 1 ]] || { echo "FAIL plot: refusal is not one line"; cat "$TEST_TMP/err"; exit 1; }
echo "ok   plot: refuses a log without stats: $(cat "$TEST_TMP/err")"
[[ -z $save ]] || cp "$TEST_TMP/plot.png" "$save"
echo "PASS: plot"
