#!/usr/bin/env bash
# rt_check_test.sh BUILD_DIR [selftest]
#
# Proves the JACK process callback neither allocates, frees, locks nor makes
# a system call: runs the real program under tests/rt_check (interposed
# allocator and locks, syscall user dispatch; see rt_check.cpp) against a
# real dummy JACK server for about 45 s, with --latency auto and a real
# GStreamer stream made rough by the relay (loss, duplicates, reordering,
# jitter, and the sender's clock drifting 1000 ppm fast), so that the
# callback's rare paths run too: JACK's buffer size changes twice, the
# server stalls (SIGSTOP, 40 ms) three times and playout splices the
# backlog away, junk datagrams come, the sender restarts (the same SSRC far
# away in sequence space), the JACK server is killed and started again
# (rtp2jack reconnects: a new client, a new callback), and a new SSRC plays.
# Then the stream's format changes twice (SIGHUP reads the --sdp file
# again, rewritten: net builds the new decoder and swaps a new
# core::StreamFormat into audio, which installs it in the callback and
# sends the old one home): L24 at 96 kHz in 1 ms packets, then mono L16 at
# 44.1 kHz, each from a real GStreamer sender through the same rough relay.
# Fails on any count, a non-zero exit of rt_check, too few callbacks, or
# stats that show a rough path did not run.
#
# `selftest`: the negative control. rt_check wraps the callback in a hook
# that allocates, frees, locks and calls getpid(); the check must fail and
# name getpid, else it could be passing without looking.
set -euo pipefail
build=$(cd "${1:?usage: rt_check_test.sh BUILD_DIR [selftest]}" && pwd)
mode=${2:-full}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"

# System call numbers to names, from the kernel's header.
syscall_names() {
  local header=/usr/include/x86_64-linux-gnu/asm/unistd_64.h
  sed -nE 's/^rt_check: system call ([0-9]+) made ([0-9]+) times.*/\1 \2/p' "$1" |
    while read -r nr n; do
      name=$(sed -nE "s/^#define __NR_([a-z0-9_]+) $nr\$/\1/p" "$header" 2>/dev/null)
      echo "  ${name:-?} ($nr): $n"
    done
}

jack_start "$(unique_name rtcheck)"
port=$(free_udp_port)
relay_port=$(free_udp_port)

if [[ $mode == selftest ]]; then
  spawn checker "$build/tests/rt_check" --rt-check-selftest --bind 127.0.0.1 --port "$port" \
    --latency 30 --connect none
  checker_pid=$SPAWNED_PID
  wait_for_line "$TEST_TMP/checker.log" "receiving on" 10
  gst-launch-1.0 -q audiotestsrc is-live=true num-buffers=100 samplesperbuffer=960 \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! opusenc frame-size=20 \
    ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port="$port" >>"$TEST_TMP/sender.log" 2>&1
  kill -TERM "$checker_pid"
  rc=0
  wait "$checker_pid" || rc=$?
  grep '^rt_check' "$TEST_TMP/checker.log" || true
  syscall_names "$TEST_TMP/checker.log"
  ((rc == 1)) || { echo "FAIL: rt_check exited $rc with a bad hook; want 1"; exit 1; }
  grep -Eq "in them [1-9][0-9]* allocations, [1-9][0-9]* frees, [1-9][0-9]* locks, [1-9][0-9]* system calls" \
    "$TEST_TMP/checker.log" || { echo "FAIL: a detector missed the bad hook"; exit 1; }
  grep -q "system call 39 made" "$TEST_TMP/checker.log" || { echo "FAIL: getpid not named"; exit 1; }
  echo "PASS: the bad hook's allocations, frees, locks and getpid() were all caught"
  exit 0
fi

# The delay starts at 60 ms and shrinks by 1 ms a second: a sender whose
# clock runs 1000 ppm fast, for the whole run.
spawn relay "$build/tests/udp_relay" --listen "127.0.0.1:$relay_port" --to "127.0.0.1:$port" \
  --loss 5 --dup 5 --reorder 5 --reorder-ms 30 --jitter-ms 8 --delay-ms 60 --drift-ppm 1000 \
  --seed 7 --stats-file "$TEST_TMP/relay.json" --ready-file "$TEST_TMP/relay.ready"
relay_pid=$SPAWNED_PID
wait_for_file "$TEST_TMP/relay.ready" 5

# The session description rtp2jack reads (and reads again on SIGHUP);
# --bind and --port win over its address.
describe() {  # describe PAYLOAD_TYPE RTPMAP
  printf 'v=0\no=- 1 1 IN IP4 127.0.0.1\ns=rt_check\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %s RTP/AVP %s\na=rtpmap:%s %s\n' \
    "$port" "$1" "$1" "$2" >"$TEST_TMP/stream.sdp"
}
describe 96 opus/48000/2

# Not through spawn: its exit code is part of the verdict.
"$build/tests/rt_check" --sdp "$TEST_TMP/stream.sdp" --bind 127.0.0.1 --port "$port" --latency auto \
  --connect none --stats json --stats-interval 1 >"$TEST_TMP/checker.log" 2>&1 &
checker_pid=$!
cleanup_push "kill -TERM $checker_pid 2>/dev/null"
wait_for_line "$TEST_TMP/checker.log" "receiving on" 10

send() {  # send SSRC SEQNUM_OFFSET BUFFERS: 20 ms packets via the relay
  gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 \
    num-buffers="$3" samplesperbuffer=960 \
    ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
    ! opusenc bitrate=96000 frame-size=20 ! rtpopuspay pt=96 ssrc="$1" seqnum-offset="$2" \
    ! udpsink host=127.0.0.1 port="$relay_port" >>"$TEST_TMP/sender.log" 2>&1
}
stall_jack() {  # the server stops for 40 ms: JACK loses that time, the network goes on
  kill -STOP "$JACKD_PID"
  sleep 0.04
  kill -CONT "$JACKD_PID"
}
stats_wait() { python3 "$here/../lib/stats_wait.py" "$TEST_TMP/checker.log" "$@" >/dev/null; }

send 4660 100 650 &    # 13 s of rough network
sender_pid=$!
stats_wait 10 'playing'
# The scenario's events, spaced while the stream plays.
sleep 2
jack_bufsize 256 >/dev/null
sleep 2
jack_bufsize 128 >/dev/null
for _ in 1 2 3; do
  sleep 1.5
  stall_jack
done
wait "$sender_pid"
# Junk straight to the receiver: not RTP, RTP version 1, a truncated header.
python3 - "$port" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in (b"hello", b"\x40" * 40, b"\x80\x60\x00"):
    for _ in range(50):
        s.sendto(junk, ("127.0.0.1", int(sys.argv[1])))
PY
send 4660 40000 500    # the same SSRC restarts far away in sequence space
# The JACK server goes away and comes back; rtp2jack reopens its client.
name=$JACKD_NAME
jack_stop
jack_start "$name"
wait_for_line "$TEST_TMP/checker.log" "JACK is back" 10
send 22136 7 500       # a new sender (SSRC 0x5678)

# New formats, by the swap: 3 s of L24 at 96 kHz, then 3 s of mono L16 at
# 44.1 kHz (one channel on both ports).
send_pcm() {  # send_pcm PAYLOADER PT FORMAT RATE CHANNELS FRAMES_PER_PACKET
  gst-launch-1.0 -q audiotestsrc is-live=true wave=sine freq=440 volume=0.5 num-buffers=3000 \
    samplesperbuffer="$6" ! audio/x-raw,format="$3",rate="$4",channels="$5" \
    ! "$1" pt="$2" ! udpsink host=127.0.0.1 port="$relay_port" >>"$TEST_TMP/sender.log" 2>&1
}
describe 97 L24/96000/2
kill -HUP "$checker_pid"
wait_for_line "$TEST_TMP/checker.log" "read again: L24/96000/2" 5
send_pcm rtpL24pay 97 S24BE 96000 2 96
describe 98 L16/44100/1
kill -HUP "$checker_pid"
wait_for_line "$TEST_TMP/checker.log" "read again: L16/44100/1" 5
send_pcm rtpL16pay 98 S16BE 44100 1 44

kill -TERM "$checker_pid"
rc=0
wait "$checker_pid" || rc=$?
stop_pid "$relay_pid"
grep -v '^{' "$TEST_TMP/checker.log" || true
syscall_names "$TEST_TMP/checker.log"
cat "$TEST_TMP/relay.json"
grep -Eq "rt_check: [0-9]+ callbacks; in them 0 allocations, 0 frees, 0 locks, 0 system calls" \
  "$TEST_TMP/checker.log" || { echo "FAIL: the callback is not real-time safe (counts above)"; exit 1; }
((rc == 0)) || { echo "FAIL: rt_check exited $rc"; exit 1; }
callbacks=$(sed -nE 's/.*rt_check: ([0-9]+) callbacks.*/\1/p' "$TEST_TMP/checker.log")
# About 41 s of callbacks at 128 frames / 48 kHz is 15000 calls (the server
# is away for a second or so); the callback must really have run.
((callbacks > 13000)) || { echo "FAIL: only $callbacks callbacks"; exit 1; }
# The rough paths ran: concealment, duplicates, reordering, junk, two
# restarts, stalls spliced, the target moved by --latency auto.
python3 "$here/../lib/stats_check.py" "$TEST_TMP/checker.log" \
  "packets_concealed > 0" "packets_duplicate > 0" "packets_reordered > 0" "packets_invalid >= 150" \
  "stream_resets >= 2" "packets_received > 1500" "jack_stalls >= 3" "splices > 0" "target_changes > 0" \
  "format_changes == 2" "stream_rate == 44100" "packet_ms == 1.0"
echo "PASS: $callbacks process callbacks, no allocation, free, lock or system call in any"
