#!/usr/bin/env bash
# Self-test of tests/lib/jack.sh: a private server starts, shows its ports,
# stops, and is gone; the waits time out when they should.
set -euo pipefail
# shellcheck source=tests/lib/jack.sh
source "$(dirname "$0")/jack.sh"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

name=$(unique_name selftest)
jack_start "$name" 48000 256
wait_for_port system:playback_1 5 || fail "no system:playback_1 on $name"
[[ $JACK_DEFAULT_SERVER == "$name" ]] || fail "JACK_DEFAULT_SERVER not exported"

# The waits must give up, and say so, rather than hang.
if wait_for_port nosuch:port 0.3 2>"$TEST_TMP/timeout.txt"; then fail "found a port that does not exist"; fi
grep -q 'JACK port nosuch:port' "$TEST_TMP/timeout.txt" || fail "timeout message missing"
if wait_for_file "$TEST_TMP/never" 0.2 2>/dev/null; then fail "found a file that does not exist"; fi
echo "ready" >"$TEST_TMP/line.txt"
wait_for_line "$TEST_TMP/line.txt" '^ready$' 1 || fail "wait_for_line missed a line"

port=$(free_udp_port)
((port % 2 == 0)) || fail "free_udp_port gave odd port $port"

pid=$JACKD_PID
jack_stop
! kill -0 "$pid" 2>/dev/null || fail "jackd $pid still alive after jack_stop"
[[ $(jack_wait -s "$name" -c 2>/dev/null) == "not running" ]] || fail "server $name still answers"

echo "PASS: jack.sh self-test (server $name, free udp port $port)"
