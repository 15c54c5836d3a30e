#!/usr/bin/env bash
# dtx_test.sh BUILD_DIR
#
# Opus DTX from a real sender (RFC 7587 section 3.1.3): GStreamer sends a
# 440 Hz tone in three bursts with `opusenc dtx=true ! rtpopuspay dtx=true`,
# and through the 1 s silences before and between them almost nothing: a
# packet every 400 ms, the timestamps jumping over the rest. A 4 s burst,
# then two of 2 s.
#
# Judged from the recording and the relay's send log; of rtp2jack's
# counters only the stream's own (nothing lost, concealed or run dry):
# - three bursts, each as long as sent within 30 ms, less the time JACK
#   lost during it or in the 0.1 s before (playout skips that backlog);
#   what it lost in a burst's last 0.1 s, or in a storm of stalls that
#   runs into them, may be skipped in the silence after instead (playout
#   waits for a quiet JACK clock before it skips);
# - each burst's delay (its onset on CLOCK_MONOTONIC, from jack_tap's cycle
#   log on JACK's schedule: the cycle that runs at once as the server
#   resumes from a stall, up to a few ms after its place on the new
#   schedule, at that place, where rtp2jack's clock put it; less when the
#   relay sent its first packet) within kCorrectMs
#   (1.5 ms) and 0.1 ms of measure of the first's, plus what JACK lost in
#   the 0.1 s before either onset: the sender's pauses play for as long as
#   it paused, and cost no latency;
# - no click, level step, phase jump or silence in the tone (tone_judge),
#   except in JACK's stalls and in the silences between the bursts (from
#   20 ms before a burst's end to 40 ms after the next one's onset).
set -euo pipefail
build=$(cd "${1:?usage: dtx_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
timeline="$here/../lib/timeline.py"

jack_start "$(unique_name dtx)"
port=$(free_udp_port)
relay_start "$port" --send-log "$TEST_TMP/sent.log"
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 \
  --connect none --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
tap out 16 rtp2jack:out_1 rtp2jack:out_2
rec_pid=$TAP_PID

# Not live: udpsink (sync=true) paces the packets in real time; 50
# buffers of 20 ms are 1 s.
silence() { echo "audiotestsrc wave=silence num-buffers=$1 samplesperbuffer=960 ! cat."; }
tone() { echo "audiotestsrc wave=sine freq=440 volume=0.5 num-buffers=$1 samplesperbuffer=960 ! cat."; }
# shellcheck disable=SC2046  # each segment is several words
gst-launch-1.0 -q concat name=cat ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 dtx=true ! rtpopuspay pt=96 dtx=true \
  ! udpsink host=127.0.0.1 port="$RELAY_PORT" \
  $(silence 50) $(tone 200) $(silence 50) $(tone 100) $(silence 50) $(tone 100) $(silence 25) \
  >"$TEST_TMP/sender.log" 2>&1

wait "$rec_pid"
stop_receiver "$rx_pid" "$RELAY_PID"
sent=$(relay_forwarded)

# The bursts in the recording (positions in s), and in the send log.
python3 - "$TEST_TMP/out.wav" "$TEST_TMP/sent.log" "$here/../lib" >"$TEST_TMP/bursts" <<'PY'
import array, struct, sys
sys.path.insert(0, sys.argv[3])
import sent_log

# The recording: 32-bit float WAV, stereo; channel 1.
data = open(sys.argv[1], "rb").read()
pos, rate, channels = 12, 0, 0
while pos + 8 <= len(data):
    cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
    if cid == b"fmt ":
        _, channels, rate = struct.unpack("<HHI", data[pos + 8:pos + 16])
    if cid == b"data":
        samples = array.array("f", data[pos + 8:pos + 8 + size])
        break
    pos += 8 + size + (size & 1)
x = samples[0::channels]
# A burst: samples above half the tone's level, until 0.1 s without one.
bursts, on, last = [], None, None
for i, v in enumerate(x):
    if abs(v) > 0.25:
        if on is None or i - last > rate // 10:
            if on is not None:
                bursts.append((on, last))
            on = i
        last = i
if on is not None:
    bursts.append((on, last))
# In the send log: a burst starts at the packet after a jump of 5 frames or
# more that two steps of one frame follow (a DTX packet stands alone).
sent = sent_log.read(sys.argv[2])
steps = [sent[i][2] - sent[i - 1][2] for i in range(1, len(sent))]
starts = [sent[i][0] for i in range(1, len(sent) - 2)
          if steps[i - 1] > 5 * 960 and steps[i] == 960 and steps[i + 1] == 960]
print("bursts", " ".join(f"{a / rate:.6f}:{b / rate:.6f}" for a, b in bursts))
print("starts", " ".join(map(str, starts)))
PY
cat "$TEST_TMP/bursts"
read -r _ bursts <<<"$(grep '^bursts' "$TEST_TMP/bursts")"
read -r _ starts <<<"$(grep '^starts' "$TEST_TMP/bursts")"
onsets=() offsets=()
for b in $bursts; do onsets+=("${b%%:*}"); offsets+=("${b##*:}"); done
onset_mono=$(python3 "$timeline" mono "$TEST_TMP/out.cycles" --scheduled "${onsets[@]}")
python3 "$timeline" stalls "$TEST_TMP/out.cycles" --min-ms 0.1 --json >"$TEST_TMP/stalls.json"

python3 - "$TEST_TMP/excuse.dtx" "$TEST_TMP/stalls.json" "${#onsets[@]}" "${onsets[*]}" "${offsets[*]}" "$onset_mono" "$starts" <<'PY'
import json, sys
out, stalls_path, n = sys.argv[1:4]
onsets, offsets = [list(map(float, s.split())) for s in sys.argv[4:6]]
onset_mono, starts = [list(map(int, s.split())) for s in sys.argv[6:8]]
stalls = json.load(open(stalls_path))["stalls"]
fail = []
if int(n) != 3 or len(starts) != 3:
    sys.exit(f"FAIL: {n} bursts in the recording, {len(starts)} in the send log: 3 sent")
lengths = [b - a for a, b in zip(onsets, offsets)]
def lost_in(start_s, end_s):  # what JACK lost between two recording positions
    return sum(s["lost_ms"] for s in stalls if start_s < s["pos_s"] <= end_s) / 1000
def tail_from(end_s):
    # Playout skips a stall's backlog once JACK's clock has gone kQuietS
    # (60 ms) without a step and has its new level, at once beyond
    # kStormMs (20 ms): what JACK lost in a burst's last 0.1 s, or in a
    # storm that runs into it (stalls less than kQuietS apart), may be
    # skipped after the burst's end, in the silence. Where the tail starts.
    start = end_s - 0.1
    for s in sorted(stalls, key=lambda s: -s["pos_s"]):
        if start - 0.06 <= s["pos_s"] <= end_s:
            start = min(start, s["pos_s"])
    return start
for k, (got, want) in enumerate(zip(lengths, [4.0, 2.0, 2.0])):
    lost = lost_in(onsets[k] - 0.1, offsets[k])
    after = lost_in(max(tail_from(offsets[k]), onsets[k] - 0.1), offsets[k])
    print(f"burst {k + 1}: {got:.4f} s, JACK lost {lost:.4f} s in it ({after:.4f} s of that in its tail)")
    if not want - lost - 0.03 <= got <= want - (lost - after) + 0.03:
        fail.append(f"burst {k + 1} lasts {got:.4f} s with JACK {lost:.4f} s behind "
                    f"({after:.4f} s in its tail), not {want} s")
delays = [(m - s) / 1e6 for m, s in zip(onset_mono, starts)]
print("burst delays ms:", " ".join(f"{d:.3f}" for d in delays))
for k in range(1, len(delays)):
    lost = sum(s["lost_ms"] for s in stalls for m in (onset_mono[0], onset_mono[k]) if m - 100e6 <= s["mono_ns"] <= m)
    if abs(delays[k] - delays[0]) > 1.6 + lost:
        fail.append(f"burst {k + 1}'s delay {delays[k]:.3f} ms against the first's {delays[0]:.3f} "
                    f"(JACK lost {lost:.3f} ms just before either onset)")
# Excused: the silences between the bursts.
with open(out, "w") as f:
    for a, b in zip(offsets, onsets[1:]):
        print(f"{a - 0.02:.6f} {b + 0.04:.6f} silence", file=f)
if fail:
    sys.exit("FAIL: " + "; ".join(fail))
PY
cat "$TEST_TMP/excuse.dtx"
python3 "$timeline" excuse "$TEST_TMP/out.cycles" --stalls >"$TEST_TMP/out.excuse"
cat "$TEST_TMP/excuse.dtx" >>"$TEST_TMP/out.excuse"
"$build/tests/tone_judge" "$TEST_TMP/out.wav" --excuse "$TEST_TMP/out.excuse" --channels 2 --freq 440 \
  --amplitude 0.5 --from-s onset+0.1 --to-s "${offsets[-1]}" --max-pitch-ppm off

python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "packets_received == $sent" "packets_lost == 0" "packets_concealed == 0" "packets_late == 0" \
  "underruns == 0" "stream_resets == 0"
echo "PASS: DTX pauses played as the sender paused"
