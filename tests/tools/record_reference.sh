#!/usr/bin/env bash
# record_reference.sh OUT_DIR RUNS BITRATE [SECONDS=15] [RATE=48000] [SENDER=gst]
#
# Records RUNS clean runs of the GStreamer reference receiver playing a
# 440 Hz stereo tone (amplitude 0.5, Opus at BITRATE bit/s, 20 ms frames)
# into a private synchronous dummy JACK server at RATE (period 128, 256
# above 48 kHz), one fresh server per run. SENDER is
#   gst     GStreamer's audiotestsrc, the tone from the first packet on and
#           through the whole recording;
#   edges   GStreamer, 1 s of silence, 10 s of tone, then silence, so that
#           the recording holds the tone's onset and offset.
# Each run leaves OUT_DIR/ref_SENDER_RATE_BITRATE_N.wav (jack_rec, 16-bit,
# SECONDS long, started once the reference's ports exist), and beside it
# the server's log (.jackd.log; its "Process XRun" lines are the host's
# stalls) and jack_rec's own output (.rec.log, where it reports overruns).
# JACK_REC_OPTS adds options to jack_rec (-B FRAMES, its buffer). OPUSENC
# replaces the encoder's frame-size=20 with other opusenc properties
# (frame-size=2.5, audio-type=voice bandwidth=narrowband, ...) for the gst
# sender, CHANNELS (default 2) sets what it encodes, and TAG is added to the
# file names.
#
# These recordings calibrate tone_judge's limits (tests/README.md, "How
# audio is judged"). Nothing here is judged; the judge reads the files.
set -euo pipefail
out=${1:?usage: record_reference.sh OUT_DIR RUNS BITRATE [SECONDS]}
runs=${2:?usage: record_reference.sh OUT_DIR RUNS BITRATE [SECONDS]}
bitrate=${3:?usage: record_reference.sh OUT_DIR RUNS BITRATE [SECONDS]}
seconds=${4:-15}
rate=${5:-48000}
sender=${6:-gst}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
mkdir -p "$out"

for ((n = 1; n <= runs; n++)); do
  jack_start "$(unique_name judgecal)" "$rate" $((rate > 48000 ? 256 : 128))
  port=$(free_udp_port)

  # The reference pipeline, with sync=false: on the dummy
  # backend the default sync=true drops every other frame.
  spawn ref gst-launch-1.0 -q udpsrc address=127.0.0.1 port="$port" \
    caps='application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96' \
    ! rtpjitterbuffer latency=40 do-lost=true \
    ! rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample \
    ! audio/x-raw,channels=2 ! jackaudiosink name=snk client-name=ref connect=none sync=false server="$JACKD_NAME"
  ref_pid=$SPAWNED_PID

  # Longer than the recording, so the sender runs through all of it.
  case $sender in
    gst)
      spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
        ! audio/x-raw,rate=48000,channels="${CHANNELS:-2}" ! audioconvert \
        ! opusenc bitrate="$bitrate" ${OPUSENC:-frame-size=20} ! rtpopuspay pt=96 \
        ! udpsink host=127.0.0.1 port="$port"
      ;;
    edges)
      # Not live: udpsink (sync=true) paces the packets in real time.
      spawn sender gst-launch-1.0 -q concat name=c \
        ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
        ! opusenc bitrate="$bitrate" frame-size=20 ! rtpopuspay pt=96 \
        ! udpsink host=127.0.0.1 port="$port" \
        audiotestsrc wave=silence num-buffers=50 samplesperbuffer=960 ! c. \
        audiotestsrc wave=sine freq=440 volume=0.5 num-buffers=500 samplesperbuffer=960 ! c. \
        audiotestsrc wave=silence num-buffers=$((seconds * 50)) samplesperbuffer=960 ! c.
      ;;
    *) echo "unknown sender $sender" >&2; exit 2 ;;
  esac
  sender_pid=$SPAWNED_PID

  wait_for_port ref:out_snk_1 10
  wait_for_port ref:out_snk_2 5
  name="$out/ref_${sender}${TAG:+_$TAG}_${rate}_${bitrate}_$n"
  wav="$name.wav"
  jack_rec -f "$wav" -d "$seconds" -b 16 ${JACK_REC_OPTS:-} ref:out_snk_1 ref:out_snk_2 \
    >"$name.rec.log" 2>&1

  stop_pid "$sender_pid"
  stop_pid "$ref_pid"
  cp "$TEST_TMP/jackd-$JACKD_NAME.log" "$name.jackd.log"
  jack_stop
  xruns=$(grep -c "Process XRun" "$name.jackd.log" || true)
  echo "$wav: $xruns server stalls logged"
done
