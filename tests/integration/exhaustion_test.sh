#!/usr/bin/env bash
# exhaustion_test.sh BUILD_DIR
#
# The consumer stalls and comes back. A real stream plays while
#   1. the JACK server is stopped (SIGSTOP) for 4 s: no process callback runs,
#      so records pile up in the net -> audio queue until the pool is empty;
#      net must drop and count (pool_exhausted / queue_full), never allocate
#      or block. Then SIGCONT.
#   2. JACK freewheels for 3 s (jack_freewheel): the callback runs as fast as
#      the CPU allows instead of in real time, eating the buffer far faster
#      than the network fills it (underruns, not exhaustion), then returns to
#      real time.
#   3. the server is stopped for 4 s again.
# After each, rtp2jack must play the tone again: a recording of it is judged
# whole by tests/tools/tone_judge (JACK's own stalls excused, from jack_tap's
# cycle log). Its resident memory (VmRSS) must stay flat: the first
# stall may touch the pool's pages for the first time (the records are
# allocated at start-up but not written), so it may grow by at most the
# pool's size then, and by nothing much after.
set -euo pipefail
build=$(cd "${1:?usage: exhaustion_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

jack_start "$(unique_name exhaust)"
port=$(free_udp_port)
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 30 --connect none \
  --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
# 60 s of 20 ms packets; stopped at the end.
spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=3000 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 frame-size=20 ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$port"
sender_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" '"playing":true' 10

rss_kb() { sed -nE 's/^VmRSS:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$rx_pid/status"; }
last_stats() { grep '^{' "$TEST_TMP/rtp2jack.log" | tail -n 1; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$(last_stats)" "$1"; }
rec_s=${EXHAUSTION_RECORD_S:-4}
check_audio() {  # check_audio LABEL: records rec_s seconds and judges them
  local name=${1// /_}
  tap "$name" "$rec_s" rtp2jack:out_1 rtp2jack:out_2
  wait "$TAP_PID"
  judge_tone "$name" --channels 2 --freq 440 --amplitude 0.5 --max-pitch-ppm off >/dev/null ||
    { echo "FAIL: audio after $1"; exit 1; }
  echo "audio after $1: the tone whole"
}
stall() {  # stall SECONDS: the JACK server stops, then goes on
  kill -STOP "$JACKD_PID"
  cleanup_push "kill -CONT $JACKD_PID 2>/dev/null"
  sleep "$1"
  stall_rss=$(rss_kb)
  kill -CONT "$JACKD_PID"
}

sleep 2
check_audio start
rss0=$(rss_kb)

stall 4
rss1=$stall_rss
sleep 1
dropped1=$(($(field pool_exhausted) + $(field queue_full)))
echo "first stall: $dropped1 packets dropped; VmRSS ${rss0} kB before, ${rss1} kB stalled"
((dropped1 > 0)) || { echo "FAIL: a 4 s stall dropped nothing"; last_stats; exit 1; }
sleep 2
check_audio stall

underruns0=$(field underruns)
jack_freewheel y >/dev/null
sleep 3
jack_freewheel n >/dev/null
sleep 3
check_audio freewheel
echo "freewheel: $(($(field underruns) - underruns0)) underruns while it ran"

stall 4
rss2=$stall_rss
sleep 3
check_audio "second stall"
rss3=$(rss_kb)
dropped2=$(($(field pool_exhausted) + $(field queue_full)))
echo "second stall: $((dropped2 - dropped1)) more dropped; VmRSS ${rss2} kB stalled, ${rss3} kB after"
((dropped2 > dropped1)) || { echo "FAIL: the second stall dropped nothing"; exit 1; }

stop_pid "$sender_pid"
stop_pid "$rx_pid"
rc=0
wait "$rx_pid" 2>/dev/null || rc=$?
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" "playing" \
  "pool_exhausted + queue_full > 0" "stream_resets == 0"

# Memory: the pool is (latency + 280 ms) / 2.5 ms + 64 records of 120 ms of
# stereo float PCM (46 KB); at 30 ms that is 188 records, 8.5 MB.
pool_kb=$(((30 + 280) * 10 / 25 + 64))
pool_kb=$((pool_kb * 5760 * 2 * 4 / 1024))
growth1=$((rss1 - rss0))
growth2=$((rss2 > rss3 ? rss2 - rss1 : rss3 - rss1))
echo "VmRSS: +${growth1} kB in the first stall (pool ${pool_kb} kB), +${growth2} kB since"
((growth1 <= pool_kb + 2048)) || { echo "FAIL: memory grew more than the pool in a stall"; exit 1; }
((growth2 <= 1024)) || { echo "FAIL: memory grew by ${growth2} kB after the first stall"; exit 1; }
echo "PASS: stalls and freewheeling drop and count, memory stays flat, playback recovers"
