#!/usr/bin/env bash
# sap_test.sh BUILD_DIR
#
# SAP (RFC 2974) with a real announcer: ffmpeg's sap muxer, which sends
# its session's SDP to a SAP group every 5 s, the RTP to a multicast group,
# and a deletion when it ends. In a private network namespace whose lo
# carries multicast; rtp2jack plays into a private dummy JACK server.
#
#  list:    two sessions, one announced on 239.255.255.255 (Opus), one on
#           224.2.127.254 (L24), beside junk on the SAP port (not SAP,
#           encrypted, oversized): --list prints exactly the two, each with
#           its address and format, and says the junk could not be read.
#  follow:  rtp2jack --session "Tone A" waits for the announcement, plays
#           the 440 Hz tone sent to 239.255.0.7:5006, sees it deleted, and
#           follows the session when it is announced again at
#           239.255.0.9:5010 with a 660 Hz tone in L24: the new format
#           reaches audio by the swap (lossless: signal-to-noise above
#           80 dB). Both recordings are judged
#           by tests/tools/tone_judge from 2 s after it starts to play (no
#           glitch outside JACK's own stalls; pitch within 100 ppm from
#           5 s, as every tone test judges it).
set -euo pipefail
build=$(cd "${1:?usage: sap_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "sap_test: needs root for a network namespace; not run" >&2
  exit 77
fi

jack_start "$(unique_name sap)"
multicast_netns rtp2jack_sap
ns=$NETNS
in_ns() { ip netns exec "$ns" "$@"; }

# announce NAME FREQ CODEC SAP_URL SECONDS: a stereo tone at 0.5, paced by
# arealtime at real-time priority, as tone_test.sh's: -re's packets slide
# by a thousand ppm for seconds on this busy VM (tests/data/README.md),
# which the pitch judged here would follow.
announce() {
  in_ns "${HARNESS_RT[@]}" ffmpeg -nostdin -hide_banner -loglevel error -f lavfi \
    -i "aevalsrc=0.5*sin(2*PI*$2*t)|0.5*sin(2*PI*$2*t):s=48000:d=$5,arealtime" -c:a "$3" \
    -metadata title="$1" -f sap "$4"
}

# Junk on the SAP port: not SAP, encrypted SAP, an oversized announcement.
junk() {
  in_ns python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
sdp = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Junk\r\nc=IN IP4 239.255.0.99\r\nt=0 0\r\nm=audio 5020 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
head = bytes([0x20, 0, 0x12, 0x34, 127, 0, 0, 1]) + b"application/sdp\0"
for payload in (b"hello", bytes([0x22]) + head[1:] + sdp, head + sdp + b"a=x:" + b"y" * 5000 + b"\r\n"):
    s.sendto(payload, ("239.255.255.255", 9875))
PY
}

failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# --- list
announce "Tone A" 440 libopus "sap://239.255.0.7:5006?announce_addr=239.255.255.255" 8 \
  >"$TEST_TMP/list_a.log" 2>&1 &
a_pid=$!
announce "Tone B" 660 pcm_s24be "sap://239.255.0.8:5008" 8 >"$TEST_TMP/list_b.log" 2>&1 &
b_pid=$!
cleanup_push "kill $a_pid $b_pid 2>/dev/null || true"
( sleep 1; junk ) &
in_ns "$build/rtp2jack" --list --list-seconds 6 >"$TEST_TMP/list.out" 2>"$TEST_TMP/list.err" || fail "--list exit $?"
wait "$a_pid" "$b_pid" || true
echo "--list printed:"; cat "$TEST_TMP/list.out" "$TEST_TMP/list.err"
grep -qxF $'Tone A\t127.0.0.1\t239.255.0.7:5006\topus/48000/2' "$TEST_TMP/list.out" || fail "Tone A not listed as announced"
grep -qxF $'Tone B\t127.0.0.1\t239.255.0.8:5008\tL24/48000/2' "$TEST_TMP/list.out" || fail "Tone B not listed as announced"
[[ $(sort -u "$TEST_TMP/list.out" | wc -l) -eq 2 ]] || fail "--list printed other sessions"
grep -q "3 announcement(s) could not be read" "$TEST_TMP/list.err" || fail "the junk was not counted"

# --- follow
# The sender clock's inputs, for build/tests/clock_replay when a run fails.
spawn rx ip netns exec "$ns" env RTP2JACK_CLOCK_TRACE="$TEST_TMP/clock.trace" \
  "$build/rtp2jack" --session "Tone A" --latency 40 --connect none --stats json --stats-interval 0.5
rx_pid=$SPAWNED_PID
wait_for_line "$TEST_TMP/rx.log" "waiting for SAP" 10
# rtp2jack opens its JACK ports once the session is announced: the
# recordings start after that, within the tone.
announce "Tone A" 440 libopus "sap://239.255.0.7:5006?announce_addr=239.255.255.255" 9 >"$TEST_TMP/a1.log" 2>&1 &
a_pid=$!
wait_for_line "$TEST_TMP/rx.log" "receiving on" 10
python3 "$here/../lib/stats_wait.py" "$TEST_TMP/rx.log" 10 "playing and packets_received >= 100" >/dev/null ||
  fail "the first stream did not play"
tap first 6 rtp2jack:out_1 rtp2jack:out_2
wait "$TAP_PID"
wait "$a_pid"
wait_for_line "$TEST_TMP/rx.log" "deleted" 5 || fail "the deletion was not seen"
first_packets=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]["packets_received"])' "$TEST_TMP/rx.log")
announce "Tone A" 660 pcm_s24be "sap://239.255.0.9:5010?announce_addr=239.255.255.255" 9 >"$TEST_TMP/a2.log" 2>&1 &
a_pid=$!
wait_for_line "$TEST_TMP/rx.log" "receiving on 239.255.0.9:5010" 10 || fail "the session was not followed to its new address"
# As for the first, the recording starts once the stream has played for a
# while: each stream's first second (its clocks settling) is the playout
# tests' to judge.
python3 "$here/../lib/stats_wait.py" "$TEST_TMP/rx.log" 10 \
  "format_changes == 1 and playing and packets_received >= $first_packets + 100" >/dev/null ||
  fail "the second stream did not play"
tap second 6 rtp2jack:out_1 rtp2jack:out_2
wait "$TAP_PID"
wait "$a_pid"
stop_pid "$rx_pid"
grep -v '^{' "$TEST_TMP/rx.log" || true

judge_tone first --channels 2 --freq 440 --amplitude 0.5 --from-s 0.2 --to-s 5.9 \
  --max-pitch-ppm off || fail "the first tone"
judge_tone first --channels 2 --freq 440 --from-s 3 --to-s 5.9 --max-pitch-ppm 100 \
  --max-glitches 100000 >/dev/null || fail "the first tone's pitch"
judge_tone second --channels 2 --freq 660 --amplitude 0.5 --from-s 0.2 --to-s 5.9 \
  --max-pitch-ppm off | tee "$TEST_TMP/second.json" || fail "the second tone"
lossless_snr "$TEST_TMP/second.json" || fail "the second tone's signal-to-noise"
grep -q "is now L24/48000/2" "$TEST_TMP/rx.log" || fail "the new format was not taken"
judge_tone second --channels 2 --freq 660 --from-s 3 --to-s 5.9 --max-pitch-ppm 100 \
  --max-glitches 100000 >/dev/null || fail "the second tone's pitch"

python3 "$here/../lib/stats_check.py" "$TEST_TMP/rx.log" "sap_announcements >= 2" "sap_deletions >= 2" \
  "sap_invalid == 0" "format_changes == 1" || fail "the SAP counters"

echo "$failures failure(s)"
((failures == 0))
