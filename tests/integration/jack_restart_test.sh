#!/usr/bin/env bash
# jack_restart_test.sh BUILD_DIR
#
# The JACK server is killed (SIGKILL) while rtp2jack plays a real stream and
# is started again under the same name: rtp2jack says so, keeps its network
# state, reconnects by itself, registers its ports again and plays; audio is
# recorded (jack_tap) and judged (tests/tools/tone_judge, JACK's own stalls
# excused) before the kill and after the return: whole, and after the
# return from where it is due, and on pitch (every 1 s window within 100
# ppm) from 5 s after the return, as after a start (playout_test.sh).
# Then the server stalls once (the client hears it as an xrun) and stops
# answering (SIGSTOP: as a wedged server on a busy host does), and
# rtp2jack is told to stop: it must not wait on the server, but leave
# within its limit (audio::JackClient::kAnswerLimit, 2 s) with its final
# statistics, and free nothing libjack's threads may still call into
# (under TSan, scripts/test.sh).
set -euo pipefail
build=$(cd "${1:?usage: jack_restart_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

name=$(unique_name jackrestart)
jack_start "$name"
port=$(free_udp_port)
spawn rtp2jack "$build/rtp2jack" --bind 127.0.0.1 --port "$port" --latency 40 --connect none \
  --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rtp2jack.log" "receiving on" 10
spawn sender gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
  num-buffers=900 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
  ! opusenc bitrate=128000 ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$port"
wait_for_line "$TEST_TMP/rtp2jack.log" '"playing":true' 10
tap before 2 rtp2jack:out_1 rtp2jack:out_2
wait "$TAP_PID"

kill -KILL "$JACKD_PID"
wait "$JACKD_PID" 2>/dev/null || true
wait_for_line "$TEST_TMP/rtp2jack.log" "JACK server went away" 10
jack_start "$name"
wait_for_line "$TEST_TMP/rtp2jack.log" "JACK is back" 10
wait_for_port rtp2jack:out_1 5
tap after 8 rtp2jack:out_1 rtp2jack:out_2
wait "$TAP_PID"
# A stall the client hears: its xrun callback runs on one of libjack's
# threads, which have then touched the client before the server stops for
# good. Under TSan, freeing what those threads may still call into shows
# in every run, not only in one where the server happened to stall.
xruns=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import stats_wait
print(stats_wait.newest(sys.argv[2])["xruns"])' "$here/../lib" "$TEST_TMP/rtp2jack.log")
python3 "$here/../tools/stall_jackd.py" --pid "$JACKD_PID" --first-s 0 --stall-ms 40 --count 1 \
  --log "$TEST_TMP/stall.log"
python3 "$here/../lib/stats_wait.py" "$TEST_TMP/rtp2jack.log" 5 "xruns > $xruns" >/dev/null
kill -STOP "$JACKD_PID"
asked=$(_now_ms)
stop_pid "$rx_pid" 4
took=$(($(_now_ms) - asked))
kill -CONT "$JACKD_PID"
grep -q '"final":true' "$TEST_TMP/rtp2jack.log" ||
  { echo "FAIL: no final statistics after SIGTERM with the server stopped (${took} ms)"; exit 1; }
grep -q "JACK did not answer" "$TEST_TMP/rtp2jack.log" ||
  { echo "FAIL: rtp2jack did not say that the stopped server did not answer"; exit 1; }
echo "rtp2jack left ${took} ms after SIGTERM, the server stopped"

judge_tone before --channels 2 --freq 440 --amplitude 0.5 --max-pitch-ppm off
judge_tone after --channels 2 --freq 440 --amplitude 0.5 --from-s onset+0.1 --max-pitch-ppm off
judge_tone after --channels 2 --freq 440 --from-s 5 --max-pitch-ppm 100 --max-glitches 100000 >/dev/null
python3 "$here/../lib/stats_check.py" "$TEST_TMP/rtp2jack.log" \
  "stream_resets == 0" "packets_lost == 0" "playing"
echo "PASS: rtp2jack played again after the JACK server came back, and left a stopped one"
