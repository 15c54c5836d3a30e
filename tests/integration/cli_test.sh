#!/usr/bin/env bash
# cli_test.sh BUILD_DIR
#
# The command line's contract: bad flags and set-up failures print exactly
# one line on stderr and exit non-zero; --help and --version exit 0; SIGINT
# and SIGTERM shut down cleanly with final statistics and exit 0.
set -euo pipefail
build=$(cd "${1:?usage: cli_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
bin="$build/rtp2jack"
failures=0

# expect_fail NAME ENV... -- ARGS...: exit code 2 (or non-zero with ANY_RC=1),
# nothing on stdout, exactly one line on stderr, starting "rtp2jack: ".
expect_fail() {
  local name=$1 rc=0 lines
  shift
  "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null || rc=$?
  lines=$(wc -l <"$TEST_TMP/err")
  if ((rc == 0)) || [[ $lines -ne 1 ]] || ! grep -q '^rtp2jack: ' "$TEST_TMP/err" || [[ -s $TEST_TMP/out ]]; then
    echo "FAIL $name: exit $rc, $lines stderr line(s):" >&2
    cat "$TEST_TMP/err" >&2
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $rc): $(cat "$TEST_TMP/err")"
  fi
}

# Flags: refused before anything is opened.
expect_fail "unknown flag" "$bin" --bogus
expect_fail "latency below 0" "$bin" --latency -1
expect_fail "latency not a number" "$bin" --latency fast
expect_fail "latency too large" "$bin" --latency 99999
expect_fail "latency empty" "$bin" --latency ""
expect_fail "min-latency without auto" "$bin" --latency 20 --min-latency 5
expect_fail "max-latency without auto" "$bin" --max-latency 100
expect_fail "min-latency above max-latency" "$bin" --latency auto --min-latency 50 --max-latency 10
expect_fail "max-latency too large" "$bin" --latency auto --max-latency 99999
expect_fail "three channels of Opus" "$bin" --channels 3
expect_fail "nine channels" "$bin" --channels 9 --format L24/48000/8
expect_fail "more channels than the stream" "$bin" --format L24/48000/2 --channels 3
expect_fail "an L24 rate not played" "$bin" --format L24/22050/2
expect_fail "--no-rtcp given a non-boolean" "$bin" --no-rtcp=maybe
expect_fail "no port+1 for RTCP" "$bin" --bind 127.0.0.1 --port 65535
grep -q -- '--no-rtcp' "$TEST_TMP/err" || { echo "FAIL port 65535 line does not name --no-rtcp"; failures=$((failures + 1)); }
expect_fail "port 0" "$bin" --port 0
expect_fail "port out of range" "$bin" --port 70000
expect_fail "stats format" "$bin" --stats xml
expect_fail "stats interval" "$bin" --stats-interval 0
expect_fail "empty connect" "$bin" --connect ""
expect_fail "bind not an address" "$bin" --bind not-an-ip
expect_fail "payload type" "$bin" --payload-type 200
expect_fail "allow-from not an address" "$bin" --allow-from example.org
expect_fail "allow-from prefix" "$bin" --allow-from 10.0.0.0/40

# --sdp: a description that cannot be used names its line and the reason.
expect_fail "sdp missing" "$bin" --sdp "$TEST_TMP/none.sdp"
printf 'v=0\ns=x\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 0\n' >"$TEST_TMP/pcmu.sdp"
expect_fail "sdp without a playable format" "$bin" --sdp "$TEST_TMP/pcmu.sdp"
grep -q 'line 4' "$TEST_TMP/err" || { echo "FAIL sdp line not named"; failures=$((failures + 1)); }
printf 'v=0\ns=x\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n' >"$TEST_TMP/noc.sdp"
expect_fail "sdp from stdin without c=" sh -c "exec '$bin' --sdp - <'$TEST_TMP/noc.sdp'"
printf 'v=0\ns=x\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 97\na=rtpmap:97 L24/32000/2\n' >"$TEST_TMP/l24.sdp"
expect_fail "sdp of a rate not played" "$bin" --sdp "$TEST_TMP/l24.sdp"
grep -q 'line 4.*32000' "$TEST_TMP/err" || { echo "FAIL sdp rate line not named"; failures=$((failures + 1)); }

# SAP: one source of the session at a time.
expect_fail "sdp and session" "$bin" --sdp "$TEST_TMP/l24.sdp" --session x
expect_fail "list and session" "$bin" --list --session x
expect_fail "list-seconds zero" "$bin" --list --list-seconds 0

"$bin" --help >"$TEST_TMP/help" || { echo "FAIL --help exit code"; failures=$((failures + 1)); }
grep -q -- "--latency" "$TEST_TMP/help" || { echo "FAIL --help lists no --latency"; failures=$((failures + 1)); }
"$bin" --version | grep -Eq '^rtp2jack [0-9]+\.[0-9]+\.[0-9]+$' || { echo "FAIL --version"; failures=$((failures + 1)); }

# Set-up failures.
port=$(free_udp_port)
expect_fail "no JACK server" env JACK_DEFAULT_SERVER="$(unique_name absent)" JACK_NO_START_SERVER=1 \
  "$bin" --bind 127.0.0.1 --port "$port"
grep -q 'jackd' "$TEST_TMP/err" || { echo "FAIL no-server line says nothing of jackd"; failures=$((failures + 1)); }

# A port someone else holds (python holds it while rtp2jack tries).
python3 - "$port" "$bin" "$TEST_TMP" <<'PY' || failures=$((failures + 1))
import socket, subprocess, sys
port, binary, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
    held.bind(("127.0.0.1", port))
    p = subprocess.run([binary, "--bind", "127.0.0.1", "--port", str(port)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
lines = p.stderr.splitlines()
ok = p.returncode != 0 and len(lines) == 1 and "in use" in lines[0]
print(("ok   " if ok else "FAIL ") + f"port in use (exit {p.returncode}): {p.stderr.strip()}")
sys.exit(0 if ok else 1)
PY

# The RTCP port (port+1) someone else holds: one line naming --no-rtcp; with
# --no-rtcp the same port pair starts (and gets as far as JACK).
python3 - "$port" "$bin" <<'PY' || failures=$((failures + 1))
import os, socket, subprocess, sys
port, binary = int(sys.argv[1]), sys.argv[2]
env = dict(os.environ, JACK_DEFAULT_SERVER="absent_%d" % os.getpid(), JACK_NO_START_SERVER="1")
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
    held.bind(("127.0.0.1", port + 1))
    p = subprocess.run([binary, "--bind", "127.0.0.1", "--port", str(port)], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    q = subprocess.run([binary, "--bind", "127.0.0.1", "--port", str(port), "--no-rtcp"], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
lines = p.stderr.splitlines()
ok = p.returncode != 0 and len(lines) == 1 and "RTCP" in lines[0] and "--no-rtcp" in lines[0]
print(("ok   " if ok else "FAIL ") + f"RTCP port in use (exit {p.returncode}): {p.stderr.strip()}")
# With --no-rtcp the sockets open; what stops it is the absent JACK server.
ok2 = q.returncode != 0 and "RTCP" not in q.stderr and "jackd" in q.stderr
print(("ok   " if ok2 else "FAIL ") + f"--no-rtcp leaves port+1 alone: {q.stderr.strip()}")
sys.exit(0 if ok and ok2 else 1)
PY

# Clean shutdown on each signal: exit 0, final stats printed.
jack_start "$(unique_name cli)"
for sig in INT TERM; do
  "$bin" --bind 127.0.0.1 --port "$port" --connect none --stats json >"$TEST_TMP/sig.out" 2>"$TEST_TMP/sig.err" &
  pid=$!
  if wait_for_line "$TEST_TMP/sig.err" "receiving on" 10; then
    kill -"$sig" "$pid"
  fi
  rc=0
  wait "$pid" || rc=$?
  if ((rc != 0)) || ! grep -q '"final":true' "$TEST_TMP/sig.out"; then
    echo "FAIL SIG$sig: exit $rc"; cat "$TEST_TMP/sig.err"; failures=$((failures + 1))
  else
    echo "ok   SIG$sig: exit 0 with final stats"
  fi
done

# --sdp gives the address and port; a flag given as well overrides it.
printf 'v=0\no=- 1 1 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n' \
  >"$TEST_TMP/opus.sdp"
"$bin" --sdp "$TEST_TMP/opus.sdp" --port "$port" --connect none >/dev/null 2>"$TEST_TMP/sdp.err" &
pid=$!
wait_for_line "$TEST_TMP/sdp.err" "receiving on" 10 || true
kill -TERM "$pid"; wait "$pid" || true
if grep -q "receiving on 127.0.0.1:$port" "$TEST_TMP/sdp.err"; then echo "ok   --sdp with --port"; else
  echo "FAIL --sdp with --port: $(cat "$TEST_TMP/sdp.err")"; failures=$((failures + 1)); fi

# SIGHUP reads --sdp again: an unusable description is one line and the
# stream goes on; a new format is taken (and said); without --sdp there is
# nothing to read.
"$bin" --sdp "$TEST_TMP/opus.sdp" --port "$port" --connect none >/dev/null 2>"$TEST_TMP/hup.err" &
pid=$!
wait_for_line "$TEST_TMP/hup.err" "receiving on" 10
printf 'v=0\ns=x\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 97\na=rtpmap:97 L24/32000/2\n' >"$TEST_TMP/opus.sdp"
kill -HUP "$pid"
wait_for_line "$TEST_TMP/hup.err" "SIGHUP: .* line 4: L24/32000/2: the rate is not" 5 || true
printf 'v=0\ns=x\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 97\na=rtpmap:97 L24/96000/8\n' >"$TEST_TMP/opus.sdp"
kill -HUP "$pid"
wait_for_line "$TEST_TMP/hup.err" "read again: L24/96000/8, payload type 97" 5 || true
rc=0
kill -TERM "$pid"; wait "$pid" || rc=$?
if ((rc == 0)) && grep -q "the rate is not 44100, 48000 or 96000 Hz; the stream goes on" "$TEST_TMP/hup.err" &&
  grep -q "read again: L24/96000/8, payload type 97" "$TEST_TMP/hup.err"; then echo "ok   SIGHUP reads --sdp again"; else
  echo "FAIL SIGHUP: exit $rc: $(cat "$TEST_TMP/hup.err")"; failures=$((failures + 1)); fi

# The ports exist under --name and connect where --connect says.
"$bin" --bind 127.0.0.1 --port "$port" --name rxtest --connect system:playback_2,system:playback_1 \
  >"$TEST_TMP/c.out" 2>"$TEST_TMP/c.err" &
pid=$!
wait_for_line "$TEST_TMP/c.err" "receiving on" 10
conns=$(jack_lsp -c rxtest:out_1)
kill -TERM "$pid"; wait "$pid" || true
if grep -q 'system:playback_2' <<<"$conns"; then echo "ok   --connect list"; else
  echo "FAIL --connect list: $conns"; failures=$((failures + 1)); fi

# --stats text on a terminal: one status line redrawn in place (carriage
# return, erase to end of line), never a new line per interval. script(1)
# gives rtp2jack a pseudo-terminal. script(1) runs its command with $SHELL
# -c (/bin/sh when SHELL is unset, as under CI), which need not exec it:
# `exec` makes rtp2jack script's own child whatever the shell, so that the
# SIGINT below reaches rtp2jack and not a shell that would wait for it.
SHELL=/bin/sh JACK_NO_START_SERVER=1 script -qfec "exec $bin --bind 127.0.0.1 --port $port \
  --connect none --latency auto --stats text --stats-interval 0.1" /dev/null \
  >"$TEST_TMP/tty.out" 2>&1 &
pid=$!
_redrawn() { (($(grep -o $'\r\e\[Krtp2jack: ' "$TEST_TMP/tty.out" | wc -l) >= 5)); }
_poll 10 "five redraws of the status line" _redrawn || true
pkill -INT -P "$pid" 2>/dev/null || true
# Bounded: stop_pid sends TERM (then KILL) to script(1) if it outlives 5 s.
_gone() { ! kill -0 "$pid" 2>/dev/null; }
_poll 5 "script(1) to end after SIGINT to rtp2jack" _gone || stop_pid "$pid" 1
wait "$pid" || true
redraws=$(grep -o $'\r\e\[Krtp2jack: ' "$TEST_TMP/tty.out" | wc -l)
status_lines=$(tr '\r' '\n' <"$TEST_TMP/tty.out" | grep -c 'rtp2jack: [0-9]*s waiting' || true)
if ((redraws >= 5)) && ((status_lines >= 5)) && grep -q 'rtp2jack final:' "$TEST_TMP/tty.out" &&
   (($(grep -c 'rtp2jack: [0-9]*s waiting' "$TEST_TMP/tty.out") <= 1)); then
  echo "ok   --stats text on a terminal: $redraws redraws of one line, then the final line"
else
  echo "FAIL --stats text on a terminal ($redraws redraws):"; od -c "$TEST_TMP/tty.out" | head -20
  failures=$((failures + 1))
fi
# ... and plain lines when stderr is not a terminal.
"$bin" --bind 127.0.0.1 --port "$port" --connect none --stats text --stats-interval 0.1 \
  2>"$TEST_TMP/plain.err" &
pid=$!
_lines() { (($(grep -c '^rtp2jack: [0-9]*s waiting' "$TEST_TMP/plain.err") >= 3)); }
_poll 10 "three plain status lines" _lines || true
kill -INT "$pid"; wait "$pid" || true
if ! grep -q $'\e' "$TEST_TMP/plain.err" && _lines; then echo "ok   --stats text to a file: plain lines"; else
  echo "FAIL --stats text to a file"; cat -A "$TEST_TMP/plain.err" | head; failures=$((failures + 1)); fi

echo "$failures failure(s)"
((failures == 0))
