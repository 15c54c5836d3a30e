#!/usr/bin/env bash
# impairment_bench.sh BUILD_DIR [--seconds S (20)] [--latency MS (40)]
#
# Issue 3's benchmark: glitches per impairment profile for rtp2jack next to
# the GStreamer reference receiver (rtpjitterbuffer + opusdec, PEERS.md), at
# the same latency, measured in the same run from the same packets:
#
#   GStreamer sender -> udp_relay (seeded impairment) -> udp_tee.py -+-> rtp2jack
#                                                                    +-> ref, opusdec plc
#                                                                    +-> ref, opusdec plc + in-band FEC
#
# jack_rec records all six output ports into one file over one time window;
# wav_analyze measures each channel. Prints a Markdown table and writes it,
# with the date, machine and settings, to bench/results/impairment-latest.md.
# A benchmark prints figures; it fails only when it could not measure.
set -euo pipefail
usage="usage: impairment_bench.sh BUILD_DIR [--seconds S] [--latency MS]"
build=$(cd "${1:?$usage}" && pwd)
shift
seconds=20 latency=40
while (($#)); do
  case $1 in
    --seconds) seconds=${2:?$usage}; shift 2 ;;
    --latency) latency=${2:?$usage}; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $latency =~ ^[0-9]+$ ]] || { echo "$usage (whole numbers)" >&2; exit 2; }
command_line="bench/impairment_bench.sh $build --seconds $seconds --latency $latency"
revision=$(git -C "$(dirname "$0")/.." describe --always --dirty 2>/dev/null || echo unknown)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/lib/jack.sh"
seed=42
lead_in=50  # 1 s of silence before the tone, so the recording (started once
            # the reference's ports exist) holds the tone's onset

# name|relay impairment flags: seeded, so every run sees the same pattern.
profiles=(
  "clean|"
  "jitter 10 ms|--jitter-ms 10"
  "jitter 30 ms|--jitter-ms 30"
  "loss 2% random|--loss 2"
  "loss 5% bursty|--burst-loss 1.75,33.3"
  "dup 10% + reorder 10% by 30 ms|--dup 10 --reorder 10 --reorder-ms 30"
  "combined|--burst-loss 1,50 --jitter-ms 20 --dup 5 --reorder 5 --reorder-ms 30"
)

jack_start "$(unique_name bench)"

# ref NAME PORT OPUSDEC_PROPERTIES: the reference receiver of PEERS.md.
# sync=false: with its default sync=true, jackaudiosink on the dummy
# backend drops every other 20 ms frame whatever the jitter-buffer latency.
ref() {
  # shellcheck disable=SC2086  # $3 holds several opusdec properties
  spawn "$1" gst-launch-1.0 udpsrc address=127.0.0.1 port="$2" \
    caps='application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96' \
    ! rtpjitterbuffer latency="$latency" do-lost=true drop-on-latency=true \
    ! rtpopusdepay ! opusdec $3 ! audioconvert ! audioresample \
    ! jackaudiosink name=snk client-name="$1" connect=none server="$JACKD_NAME" sync=false
}

for i in "${!profiles[@]}"; do
  IFS='|' read -r title impair <<<"${profiles[i]}"
  p=p$i
  r2j_port=$(free_udp_port) plc_port=$(free_udp_port) fec_port=$(free_udp_port)
  tee_port=$(free_udp_port) relay_port=$(free_udp_port)
  spawn "$p.tee" python3 "$here/udp_tee.py" --listen "127.0.0.1:$tee_port" --to "127.0.0.1:$r2j_port" \
    --to "127.0.0.1:$plc_port" --to "127.0.0.1:$fec_port" --ready-file "$TEST_TMP/$p.tee.ready"
  tee_pid=$SPAWNED_PID
  # shellcheck disable=SC2086  # impair holds several flags
  spawn "$p.relay" "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" \
    --to "127.0.0.1:$tee_port" $impair --seed "$seed" \
    --stats-file "$TEST_TMP/$p.relay.json" --ready-file "$TEST_TMP/$p.relay.ready"
  relay_pid=$SPAWNED_PID
  spawn "$p.r2j" "$build/rtp2jack" --bind 127.0.0.1 --port "$r2j_port" --latency "$latency" \
    --name "r2j_$i" --connect none --stats json --stats-interval 1
  r2j_pid=$SPAWNED_PID
  ref "ref_plc_$i" "$plc_port" "plc=true"
  plc_pid=$SPAWNED_PID
  ref "ref_fec_$i" "$fec_port" "plc=true use-inband-fec=true"
  fec_pid=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$p.tee.ready" 5
  wait_for_file "$TEST_TMP/$p.relay.ready" 5
  wait_for_line "$TEST_TMP/$p.r2j.log" "receiving on" 10

  # The sender: the lead-in's silence, then the tone, Opus 20 ms frames with
  # in-band FEC. Not live: udpsink (sync=true) paces the packets in real time.
  spawn "$p.sender" gst-launch-1.0 -q concat name=c \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=64000 frame-size=20 inband-fec=true packet-loss-percentage=10 \
    ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$relay_port" \
    audiotestsrc wave=silence num-buffers=$lead_in samplesperbuffer=960 ! c. \
    audiotestsrc wave=sine freq=440 volume=0.5 num-buffers=$((seconds * 50)) samplesperbuffer=960 ! c.
  sender_pid=$SPAWNED_PID
  # The references' ports appear once data flows through them.
  wait_for_port "ref_plc_$i:out_snk_2" 10
  wait_for_port "ref_fec_$i:out_snk_2" 10
  # One recording, one window, for all three; 2 s beyond the tone covers the
  # rest of the lead-in and the receivers' latency.
  spawn "$p.rec" jack_rec -f "$TEST_TMP/$p.wav" -d $((seconds + 2)) -b 16 "r2j_$i:out_1" "r2j_$i:out_2" \
    "ref_plc_$i:out_snk_1" "ref_plc_$i:out_snk_2" "ref_fec_$i:out_snk_1" "ref_fec_$i:out_snk_2"
  wait "$SPAWNED_PID" || true
  wait "$sender_pid" || echo "sender of '$title' failed: $(cat "$TEST_TMP/$p.sender.log")" >&2
  for pid in "$r2j_pid" "$plc_pid" "$fec_pid" "$relay_pid" "$tee_pid"; do stop_pid "$pid"; done
  "$build/tests/wav_analyze" "$TEST_TMP/$p.wav" >"$TEST_TMP/$p.wav.json" 2>/dev/null || true
  echo "measured: $title" >&2
done

mkdir -p "$here/results"
python3 - "$TEST_TMP" "$seconds" "$latency" "$seed" "$command_line" "$revision" "${profiles[@]}" \
  >"$here/results/impairment-latest.md" <<'PY'
import datetime, json, os, platform, subprocess, sys
tmp, seconds, latency, seed, command, revision = sys.argv[1:7]
profiles = [p.split("|", 1) for p in sys.argv[7:]]
seconds = float(seconds)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")

def final_stats(path):
    finals = [json.loads(l) for l in open(path) if l.startswith("{") and '"final":true' in l]
    return finals[-1] if finals else {}

print(f"# Impairment benchmark: rtp2jack vs the GStreamer reference\n")
print(f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
print(f"- machine: {os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}")
print(f"- command: `{command}` (rtp2jack at {revision}; build/ must match it)")
print(f"- settings: {seconds:g} s of 440 Hz tone per profile after 1 s of silence; latency {latency} ms "
      f"for every receiver; relay seed {seed}; JACK dummy driver, 48 kHz, 128 frames")
print("- sender: `audiotestsrc volume=0.5 ! opusenc bitrate=64000 frame-size=20 inband-fec=true "
      "packet-loss-percentage=10 ! rtpopuspay pt=96 ! udpsink` (paced in real time)")
print(f"- rtp2jack: `--latency {latency}`")
print(f"- ref: `rtpjitterbuffer latency={latency} do-lost=true drop-on-latency=true ! rtpopusdepay ! "
      "opusdec plc=true ! audioconvert ! audioresample ! jackaudiosink sync=false`; "
      "ref+FEC: the same with `opusdec plc=true use-inband-fec=true`")
print("- profiles (udp_relay flags): " + "; ".join(f"{t}: `{f or 'none'}`" for t, f in profiles))
print("\ngaps: holes in the tone (count, longest); clicks: discontinuities; sound: seconds of tone "
      f"recorded of {seconds:g} sent; onset: when the tone starts relative to rtp2jack's (its extra "
      "latency); the last four columns are rtp2jack's own counters. Worse channel of each pair.\n")
print("| profile | network (relay) | receiver | gaps | longest gap ms | clicks | sound s | onset ms "
      "| underruns | concealed | fec | late |")
print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
totals = {}  # receiver -> [gaps, clicks, longest gaps summed over profiles]
for i, (title, _) in enumerate(profiles):
    p = os.path.join(tmp, f"p{i}")
    relay = json.load(open(p + ".relay.json")) if os.path.exists(p + ".relay.json") else {}
    net = (f"{relay.get('dropped', '?')} lost, {relay.get('duplicated', '?')} dup, "
           f"{relay.get('reordered', '?')} reord of {relay.get('received', '?')}")
    try:
        chans = [json.loads(l) for l in open(p + ".wav.json")]
    except OSError:
        chans = []
    stats = final_stats(p + ".r2j.log")
    onset0 = chans[0]["onset_s"] if chans and chans[0]["onset_s"] is not None else None
    for r, name in enumerate(["rtp2jack", "ref", "ref+FEC"]):
        pair = chans[2 * r:2 * r + 2]
        first = f"{title} | {net}" if r == 0 else " | "
        if len(pair) < 2 or any(c["duration_s"] is None for c in pair):
            print(f"| {first} | {name} | no sound | | | | | | | | |")
            continue
        onset = pair[0]["onset_s"]
        shift = f"{1000 * (onset - onset0):+.0f}" if onset0 is not None else "?"
        if onset < 0.02:
            shift += " (tone began before the recording)"
        row = [max(c["gaps"] for c in pair), f"{max(c['longest_gap_ms'] for c in pair):.1f}",
               max(c["clicks"] for c in pair), f"{min(c['duration_s'] for c in pair):.2f}", shift]
        t = totals.setdefault(name, [0, 0, 0.0])
        t[0] += row[0]; t[1] += row[2]; t[2] += float(row[1])
        if r == 0:
            row += [stats.get(k, "?") for k in ("underruns", "frames_concealed", "frames_fec", "packets_late")]
        else:
            row += ["", "", "", ""]
        print(f"| {first} | {name} | " + " | ".join(str(x) for x in row) + " |")
print("\nOver all profiles (gaps, clicks, sum of each profile's longest gap): " + "; ".join(
    f"{n} {g} gaps, {c} clicks, {l:.0f} ms" for n, (g, c, l) in totals.items()))
refs = [n for n in ("ref", "ref+FEC") if n in totals]
if refs:
    best = min(refs, key=lambda n: (totals[n][0] + totals[n][1], totals[n][2]))
    print(f"The better reference here (fewest gaps + clicks, then shortest gaps): {best}.")
PY
cat "$here/results/impairment-latest.md"
