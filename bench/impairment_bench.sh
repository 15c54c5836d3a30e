#!/usr/bin/env bash
# impairment_bench.sh BUILD_DIR [--seconds S (20)] [--latency MS (40)] [--cases "clean loss ..."]
#                     [--freq HZ (440)] [--out REPORT (bench/results/impairment-latest.md)]
#
# rtp2jack next to the GStreamer reference receiver under each network
# fault and host stall, from the very same packets at the same moments, in
# one JACK server per case:
#
#   GStreamer sender -> udp_relay (seeded) -> udp_tee.py (logs arrivals) -+-> rtp2jack
#                                                                          +-> ref: opusdec plc
#                                                                          +-> ref: opusdec plc + in-band FEC
#
# Cases: clean; loss (5 % random); burst (5 % in bursts of 3 on average);
# jitter (+-8 ms, 16 ms uniform); spike (the path stops for 150 ms every
# 2.9 s, a Wi-Fi link's scan or retries, and what it held leaves together);
# fast and slow (the sender's clock 1000 ppm
# off: the relay's delay shrinks or grows 1 ms a second); stall (the JACK
# server stopped for 40 ms every 3 s, SIGSTOP/SIGCONT). jack_tap records all
# six ports with its cycle log; tests/tools/tone_judge judges each channel
# with nothing excused (every receiver plays through the same server's
# stalls). Per receiver (the worse of its two channels):
# - glitched 10 ms blocks per minute of tone (level, residual, phase,
#   silence, click; tests/README.md);
# - the worst 1 s window's pitch error against the sender's, from 5 s after
#   the tone's onset;
# - its latency at the tone's onset and how much it changed by the tone's
#   end: the output time of the onset (offset), on CLOCK_MONOTONIC through
#   the cycle log, less when the tone's first (last) sample arrived on time
#   (the lower envelope of the packets' transit, from the tee's log, at the
#   tone's start and end).
# Prints a Markdown table and writes it, with the command, date and
# revision, to bench/results/impairment-latest.md (or REPORT). The tone's
# frequency sets how near a splice that keeps its phase can land: within
# half its period (1.14 ms at 440 Hz, 0.5 ms at 1 kHz). A benchmark prints
# figures; it fails only when it could not measure.
set -euo pipefail
usage="usage: impairment_bench.sh BUILD_DIR [--seconds S] [--latency MS] [--cases \"CASE ...\"] [--freq HZ] [--out REPORT]"
build=$(cd "${1:?$usage}" && pwd)
shift
all_cases="clean loss burst jitter spike fast slow stall"
seconds=20 latency=40 cases=$all_cases freq=440 out=
while (($#)); do
  case $1 in
    --seconds) seconds=${2:?$usage}; shift 2 ;;
    --latency) latency=${2:?$usage}; shift 2 ;;
    --cases) cases=${2:?$usage}; shift 2 ;;
    --freq) freq=${2:?$usage}; shift 2 ;;
    --out) out=${2:?$usage}; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $latency =~ ^[0-9]+$ && $freq =~ ^[0-9]+$ ]] || { echo "$usage (whole numbers)" >&2; exit 2; }
((freq >= 100 && freq <= 4000)) || { echo "impairment_bench: --freq must be 100 to 4000 Hz" >&2; exit 2; }
command_line="bench/impairment_bench.sh BUILD --seconds $seconds --latency $latency"
[[ $cases == "$all_cases" ]] || command_line+=" --cases \"$cases\""
((freq == 440)) || command_line+=" --freq $freq"
[[ -z $out ]] || command_line+=" --out $out"
revision=$(python3 "$(dirname "$0")/../bench/benchlib.py" revision)
here=$(cd "$(dirname "$0")" && pwd)
report=${out:-$here/results/impairment-latest.md}
source "$here/../tests/lib/jack.sh"
timeline="$here/../tests/lib/timeline.py"
lead_in=50  # 1 s of silence before the tone: the recording holds its onset
lead_out=25  # and 0.5 s after it
rt=(chrt -f 3)  # sender and relay: their scheduling is not the network's

# ref NAME PORT OPUSDEC_PROPERTIES: the reference receiver. sync=false:
# with its default sync=true, jackaudiosink on the dummy backend drops every
# other 20 ms frame whatever the jitter buffer's latency.
ref() {
  # shellcheck disable=SC2086  # $3 holds several opusdec properties
  spawn "$1" gst-launch-1.0 udpsrc address=127.0.0.1 port="$2" \
    caps='application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96' \
    ! rtpjitterbuffer latency="$latency" do-lost=true drop-on-latency=true \
    ! rtpopusdepay ! opusdec $3 ! audioconvert ! audioresample \
    ! jackaudiosink name=snk client-name="$1" connect=none server="$JACKD_NAME" sync=false
}

for c in $cases; do
  # The relay's decisions follow its seed and the packets' order. The loss
  # cases' seeds lose no packet of the lead-in, of the tone's first and
  # last ten or of the two after it (the latency is measured at the tone's
  # edges); the table says so if one was lost anyway.
  relay_args=() truth=0 seed=11
  case $c in
    clean) ;;
    loss) relay_args=(--loss 5) seed=5 ;;
    burst) relay_args=(--burst-loss 1.75,33.3) seed=4 ;;
    jitter) relay_args=(--delay-ms 2 --jitter-ms 16) ;;
    # Every 2.9 s, not 3: no spike holds the tone's last packets at 21 s.
    spike) relay_args=(--spike-ms 150,2.9) ;;
    fast) relay_args=(--delay-ms 40 --drift-ppm 1000) truth=1000 ;;
    slow) relay_args=(--delay-ms 2 --drift-ppm -1000) truth=-1000 ;;
    stall) ;;
    *) echo "impairment_bench: unknown case $c" >&2; exit 2 ;;
  esac
  jack_start "$(unique_name "bench_$c")"
  r2j_port=$(free_udp_port) plc_port=$(free_udp_port) fec_port=$(free_udp_port)
  tee_port=$(free_udp_port) relay_port=$(free_udp_port)
  spawn "$c.tee" python3 "$here/udp_tee.py" --listen "127.0.0.1:$tee_port" --to "127.0.0.1:$r2j_port" \
    --to "127.0.0.1:$plc_port" --to "127.0.0.1:$fec_port" --ready-file "$TEST_TMP/$c.tee.ready" \
    --log "$TEST_TMP/$c.arrivals"
  tee_pid=$SPAWNED_PID
  spawn "$c.relay" "${rt[@]}" "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" \
    --to "127.0.0.1:$tee_port" "${relay_args[@]}" --seed "$seed" --drop-log "$TEST_TMP/$c.drops" \
    --stats-file "$TEST_TMP/$c.relay.json" --ready-file "$TEST_TMP/$c.relay.ready"
  relay_pid=$SPAWNED_PID
  spawn "$c.r2j" "$build/rtp2jack" --bind 127.0.0.1 --port "$r2j_port" --latency "$latency" \
    --name r2j --connect none --stats json --stats-interval 1
  r2j_pid=$SPAWNED_PID
  ref ref_plc "$plc_port" "plc=true"
  plc_pid=$SPAWNED_PID
  ref ref_fec "$fec_port" "plc=true use-inband-fec=true"
  fec_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$c.tee.ready" 5
  wait_for_file "$TEST_TMP/$c.relay.ready" 5
  wait_for_line "$TEST_TMP/$c.r2j.log" "receiving on" 10

  # The sender: the lead-in's silence, the tone, and half a second of
  # silence after it (the tone's end is in the stream, not the stream's
  # end, which a receiver conceals), Opus 20 ms frames at 128 kbit/s with
  # in-band FEC. Not live: udpsink (sync=true) paces the packets in real
  # time.
  spawn "$c.sender" "${rt[@]}" gst-launch-1.0 -q concat name=cat \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=128000 frame-size=20 inband-fec=true packet-loss-percentage=10 \
    ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$relay_port" \
    audiotestsrc wave=silence num-buffers=$lead_in samplesperbuffer=960 ! cat. \
    audiotestsrc wave=sine freq="$freq" volume=0.5 num-buffers=$((seconds * 50)) samplesperbuffer=960 ! cat. \
    audiotestsrc wave=silence num-buffers=$lead_out samplesperbuffer=960 ! cat.
  sender_pid=$SPAWNED_PID
  # The references' ports appear once data flows through them (during the
  # lead-in).
  wait_for_port ref_plc:out_snk_2 10
  wait_for_port ref_fec:out_snk_2 10
  spawn "$c.tap" "$build/tests/jack_tap" --out "$TEST_TMP/$c.wav" --cycles "$TEST_TMP/$c.cycles" \
    --seconds $((seconds + 3)) --ready-file "$TEST_TMP/$c.tap.ready" \
    r2j:out_1 r2j:out_2 ref_plc:out_snk_1 ref_plc:out_snk_2 ref_fec:out_snk_1 ref_fec:out_snk_2
  tap_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$c.tap.ready" 10
  if [[ $c == stall ]]; then
    spawn "$c.stalls" python3 "$here/../tests/tools/stall_jackd.py" --pid "$JACKD_PID" --first-s 3 \
      --every-s 3 --stall-ms 40 --count $((seconds / 3)) --log "$TEST_TMP/$c.stops"
  fi
  wait "$tap_pid" || { cat "$TEST_TMP/$c.tap.log" >&2; exit 1; }
  wait "$sender_pid" || echo "sender of $c failed: $(cat "$TEST_TMP/$c.sender.log")" >&2
  for pid in "$r2j_pid" "$plc_pid" "$fec_pid" "$relay_pid" "$tee_pid"; do stop_pid "$pid"; done
  jack_stop

  judge() {
    "$build/tests/tone_judge" "$TEST_TMP/$c.wav" --channels 6 --freq "$freq" --freq-ppm "$truth" \
      --to-s "onset+$((seconds - 1)).5" "$@" 2>/dev/null || true
  }
  judge --from-s onset+0.1 --max-pitch-ppm off >"$TEST_TMP/$c.judge"
  judge --from-s onset+5 --max-pitch-ppm off >"$TEST_TMP/$c.pitch"
  judge --from-s onset+10 --max-pitch-ppm off >"$TEST_TMP/$c.pitch10"
  # JACK's stalls in the recording (position s, time ns, lost ms): one
  # just before an edge moves that edge.
  python3 "$timeline" stalls "$TEST_TMP/$c.cycles" --min-ms 0.3 >"$TEST_TMP/$c.jstalls" || : >"$TEST_TMP/$c.jstalls"
  # Where each channel's onset and offset fall on CLOCK_MONOTONIC.
  python3 - "$TEST_TMP/$c.judge" >"$TEST_TMP/$c.edges" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        d = json.loads(line)
        print(d["onset_s"] if d["onset_s"] is not None else "nan",
              d["offset_s"] if d["offset_s"] is not None else "nan")
PY
  : >"$TEST_TMP/$c.edges.mono"
  while read -r on off; do
    if [[ $on == nan || $off == nan ]]; then echo "nan nan"; continue; fi
    echo "$(python3 "$timeline" mono "$TEST_TMP/$c.cycles" "$on") $(python3 "$timeline" mono "$TEST_TMP/$c.cycles" "$off")"
  done <"$TEST_TMP/$c.edges" >"$TEST_TMP/$c.edges.mono"
  echo "measured: $c" >&2
done

mkdir -p "$(dirname "$report")"
python3 - "$TEST_TMP" "$seconds" "$latency" "$lead_in" "$command_line" "$revision" "$freq" $cases \
  >"$report" <<'PY'
import datetime, json, math, os, platform, sys
tmp, seconds, latency, lead_in, command, revision, freq = sys.argv[1:8]
cases = sys.argv[8:]
seconds, lead_in = float(seconds), int(lead_in)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
names = ["rtp2jack", "GStreamer plc", "GStreamer plc+FEC"]


def channels(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")] if os.path.exists(path) else []


def arrivals(c):
    """(tone start's on-time arrival ns, tone end's, whether a packet at the
    tone's edges was lost), from the tee's log and the relay's drop log."""
    rows = [tuple(map(int, l.split())) for l in open(os.path.join(tmp, c + ".arrivals"))]
    rows = [r for r in rows if r[1] >= 0]
    seqs = [r[1] for r in rows]
    drops = os.path.join(tmp, c + ".drops")
    if os.path.exists(drops):
        seqs += [int(l.split()[2]) for l in open(drops) if l.strip()]
    # Sequence numbers from the first packet sent on, unwrapped.
    first_seq = rows[0][1]
    def ext(s):
        d = (s - first_seq) & 0xFFFF
        return d - 0x10000 if d >= 0x8000 else d
    seq0 = first_seq + min(ext(s) for s in seqs)
    last = lead_in + int(seconds * 50)
    edge_lost = any(k < lead_in + 10 or last - 10 <= k < last + 2
                    for k in (ext(int(l.split()[2])) - ext(seq0) for l in open(drops) if l.strip())) \
        if os.path.exists(drops) else False
    # The tone starts at packet lead_in; timestamps step by 960 from the
    # second packet on (rtpopuspay's first step may differ).
    by = {ext(r[1]) - ext(seq0): r for r in rows}
    k1 = min(k for k in by if k >= 1)
    ts_ref = by[k1][2] - (k1 - 1) * 960
    def media_s(ts):  # seconds of stream from the tone's start
        return ((ts - ts_ref) & 0xFFFFFFFF) / 48000 - (lead_in - 1) * 960 / 48000
    # The lower envelope of transit against media time (the edge of the
    # lower convex hull spanning the mean, Moon et al.): a sender whose
    # clock drifts has a sloped one. Evaluated at the tone's start and end.
    pts = sorted((media_s(r[2]), r[0] - media_s(r[2]) * 1e9) for k, r in by.items() if k >= 1)
    hull = []
    for p in pts:
        while len(hull) >= 2 and (hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1]) - \
                (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0]) <= 0:
            hull.pop()
        hull.append(p)
    mean = sum(p[0] for p in pts) / len(pts)
    a, b = next((a, b) for a, b in zip(hull, hull[1:]) if b[0] >= mean)
    slope = (b[1] - a[1]) / (b[0] - a[0])
    at = lambda m: a[1] + slope * (m - a[0])
    return at(0), at(seconds) + seconds * 1e9, edge_lost


print("# Impairment benchmark: rtp2jack against the GStreamer reference\n")
print(f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
print(f"- machine: {os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}")
print(f"- command: `{command}` (rtp2jack at {revision}; BUILD must be built from it)")
print(f"- each case: {seconds:g} s of a {freq} Hz tone between 1 s of silence and 0.5 s of it, `opusenc bitrate=128000 "
      "frame-size=20 inband-fec=true packet-loss-percentage=10`, paced in real time; every receiver "
      f"at {latency} ms; relay seeds 5 (loss), 4 (burst), 11; a fresh dummy JACK server per case (48 kHz, 128 frames)")
print(f"- rtp2jack: `--latency {latency}`; GStreamer: `rtpjitterbuffer latency={latency} do-lost=true "
      "drop-on-latency=true ! rtpopusdepay ! opusdec plc=true [use-inband-fec=true] ! audioconvert ! "
      "audioresample ! jackaudiosink sync=false`")
print("- cases: clean; loss `--loss 5`; burst `--burst-loss 1.75,33.3` (5 %, bursts of 3 on average); "
      "jitter `--jitter-ms 16`; spike `--spike-ms 150,2.9` (the path stops for 150 ms every 2.9 s and "
      "what it held leaves together); fast/slow `--drift-ppm +-1000`; stall: the JACK server stopped for "
      "40 ms every 3 s")
print("\nglitches: glitched 10 ms blocks per minute of tone, nothing excused (tests/tools/tone_judge); "
      "pitch: the worst 1 s window's error against the sender's rate from 5 s after the onset, and "
      "from 10 s (the goals: 100 and 50 ppm); "
      "latency: the onset's output time less when the tone's first sample arrived on time (the lower "
      "envelope of the packets' transit), and how much more the offset's was at the end; it includes "
      "the codec's delay and a JACK period, and a JACK stall at an edge moves that edge by up to its "
      "length (noted where JACK lost 0.3 ms or more in the 0.1 s before an edge, from the recording's "
      "cycle log). The worse channel of each receiver.\n")
print("| case | receiver | glitches/min | worst pitch error ppm from 5 s | from 10 s | latency at start ms "
      "| latency change by the end ms |")
print("|---|---|--:|--:|--:|--:|--:|")
summary = {n: [] for n in names}
for c in cases:
    judged = channels(os.path.join(tmp, c + ".judge"))
    pitched = channels(os.path.join(tmp, c + ".pitch"))
    pitched10 = channels(os.path.join(tmp, c + ".pitch10"))
    jstalls = [tuple(map(float, l.split()[:3])) for l in open(os.path.join(tmp, c + ".jstalls"))
               if l.strip() and not l.startswith("#")] if os.path.exists(os.path.join(tmp, c + ".jstalls")) else []
    edges = [l.split() for l in open(os.path.join(tmp, c + ".edges.mono"))] if os.path.exists(
        os.path.join(tmp, c + ".edges.mono")) else []
    try:
        on_time = arrivals(c)
    except (OSError, ValueError):
        on_time = None
    for r, name in enumerate(names):
        pair = judged[2 * r:2 * r + 2]
        if len(pair) < 2 or not all(ch["has_tone"] for ch in pair):
            print(f"| {c} | {name} | no tone | | | | |")
            continue
        tone_s = max(1e-9, min(ch["offset_s"] - ch["onset_s"] for ch in pair if ch["offset_s"] and ch["onset_s"]))
        per_min = max(ch["glitched"] for ch in pair) / tone_s * 60
        def worst_pitch(judged_pitch):
            pp = judged_pitch[2 * r:2 * r + 2]
            return max(abs(ch["worst_pitch_ppm"]) for ch in pp) if len(pp) == 2 and all(
                ch["worst_pitch_ppm"] is not None for ch in pp) else float("nan")
        pitch, pitch10 = worst_pitch(pitched), worst_pitch(pitched10)
        # JACK's loss in the 0.1 s before each edge of either channel.
        lost_before = lambda key: max(sum(ms for pos, _, ms in jstalls if (ch[key] or -1) - 0.1 <= pos <= (ch[key] or -1))
                                      for ch in pair)
        moved = [f"{what}: JACK lost {ms:.1f} ms just before it" for what, ms in
                 (("onset", lost_before("onset_s")), ("offset", lost_before("offset_s"))) if ms >= 0.3]
        lat0 = change = float("nan")
        if on_time and len(edges) >= 2 * r + 2:
            e = [tuple(map(float, edges[2 * r + k])) for k in (0, 1)]
            if not any(math.isnan(v) for pair_ in e for v in pair_):
                lat0 = max(on - on_time[0] for on, _ in e) / 1e6
                change = max((off - on_time[1]) - (on - on_time[0]) for on, off in e) / 1e6
        summary[name].append((c, per_min, pitch, change))
        edge = " (a packet at the tone's edge lost)" if on_time and on_time[2] else ""
        moved_note = f" ({'; '.join(moved)})" if moved else ""
        print(f"| {c} | {name} | {per_min:.1f} | {pitch:.0f} | {pitch10:.0f} | {lat0:.1f}{edge} "
              f"| {change:+.1f}{edge}{moved_note} |")
print()
for name in names:
    rows = summary[name]
    changes = [abs(ch) for _, _, _, ch in rows if not math.isnan(ch)]
    if rows:
        print(f"- {name}: glitches/min " + ", ".join(f"{c} {g:.1f}" for c, g, _, _ in rows)
              + (f"; worst latency change {max(changes):.1f} ms" if changes else ""))
PY
cat "$report"
