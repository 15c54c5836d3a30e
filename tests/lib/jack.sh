# shellcheck shell=bash
# Helpers for integration test scripts: a private JACK server, waiting without
# fixed sleeps, free UDP ports, and cleanup of every background process.
#
#   source "$(dirname "$0")/lib/jack.sh"
#
# Safe under `set -euo pipefail`: every function returns 0 or 1 on purpose
# and never lets a failing probe abort the caller.
#
# Sourcing creates TEST_TMP (a private directory for logs and recordings) and
# installs EXIT/INT/TERM traps. Register teardown with cleanup_push instead of
# your own `trap ... EXIT`, which would replace ours. Call jack_start and
# spawn in the script's own shell, not inside $(...): a background process
# started in a subshell cannot be waited for by the script.

TEST_TMP=${TEST_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/rtp2jack-test.XXXXXX")}
_CLEANUPS=()

# A test's senders and relays run real-time, below JACK's threads: their
# own scheduling on this two-CPU VM would otherwise add jitter of a few ms
# that is the harness's, not the network the case describes (and an ffmpeg
# -re starved by the test's other processes falls behind for seconds, a
# sender clock 1000 ppm slow as far as its packets tell:
# tests/data/README.md). Prefix their command with "${HARNESS_RT[@]}".
# shellcheck disable=SC2034  # used by the scripts that source this
HARNESS_RT=(chrt -f 3)

# cleanup_push CMD...: run CMD at exit, last pushed first, even on failure.
cleanup_push() {
  _CLEANUPS+=("$*")
}

_run_cleanups() {
  local status=$? i
  set +e  # one failing cleanup must not skip the others
  for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_CLEANUPS[i]}"
  done
  _CLEANUPS=()
  # Keep logs of a failed run; tidy up after a passing one.
  if [[ $status -eq 0 && -z ${KEEP_TEST_TMP:-} ]]; then
    rm -rf -- "$TEST_TMP"
  else
    echo "test files kept in $TEST_TMP" >&2
  fi
  return "$status"
}
trap _run_cleanups EXIT
# Turn signals into an exit, so the EXIT trap runs once with a failing status.
trap 'exit 130' INT
trap 'exit 143' TERM

# Milliseconds on a monotonic-enough clock, without forking (bash 5).
_now_ms() {
  local t=${EPOCHREALTIME//[.,]/}  # microseconds; the separator follows the locale
  echo $((t / 1000))
}

# _seconds_to_ms "2.5" -> 2500; accepts whole or decimal seconds.
_seconds_to_ms() {
  local whole=${1%%.*} frac=000
  [[ $1 == *.* ]] && frac=${1#*.}000
  echo $((10#${whole:-0} * 1000 + 10#${frac:0:3}))
}

# _poll TIMEOUT_S DESCRIPTION CMD...: run CMD every 50 ms until it succeeds
# (return 0) or the timeout passes (say what we waited for, return 1). CMD
# returning 2 means "will never succeed": give up at once.
_poll() {
  local timeout_ms desc=$2 deadline rc
  timeout_ms=$(_seconds_to_ms "$1")
  shift 2
  deadline=$(($(_now_ms) + timeout_ms))
  while true; do
    rc=0
    "$@" || rc=$?
    if ((rc == 0)); then return 0; fi
    if ((rc == 2)); then
      echo "gave up waiting for $desc" >&2
      return 1
    fi
    if (($(_now_ms) >= deadline)); then
      echo "timeout after ${timeout_ms} ms waiting for $desc" >&2
      return 1
    fi
    sleep 0.05
  done
}

# stop_pid PID [TIMEOUT_S=5]: TERM, then KILL if still alive after the
# timeout; reaps it when it is our child. Quiet if it is already gone.
stop_pid() {
  local pid=$1 timeout_ms deadline
  timeout_ms=$(_seconds_to_ms "${2:-5}")
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(_now_ms) + timeout_ms))
  while kill -0 "$pid" 2>/dev/null && (($(_now_ms) < deadline)); do
    sleep 0.02
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "pid $pid ignored SIGTERM for ${timeout_ms} ms; sending SIGKILL" >&2
    # Where it waits, for the failure's record (gdb is there on CI).
    if command -v gdb >/dev/null; then
      timeout 20 gdb -p "$pid" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E '^(Thread|#)' >&2 || true
    fi
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# spawn NAME CMD...: run CMD in the background with stdout and stderr in
# $TEST_TMP/NAME.log; sets SPAWNED_PID and registers stop_pid for exit.
spawn() {
  local name=$1
  shift
  "$@" >"$TEST_TMP/$name.log" 2>&1 &
  SPAWNED_PID=$!
  cleanup_push "stop_pid $SPAWNED_PID"
}

# unique_name PREFIX: a name no other run on this machine uses now.
unique_name() {
  echo "${1}_$$_${RANDOM}"
}

# _jackd_up NAME PID: 0 when the server answers, 2 when our jackd died (a
# server of the same name answering would not be ours).
_jackd_up() {
  kill -0 "$2" 2>/dev/null || return 2
  [[ $(jack_wait -s "$1" -c 2>/dev/null) == running ]]
}

# jack_start NAME [RATE=48000] [PERIOD=128]: a private dummy-driver server.
# Sets JACKD_PID and JACKD_NAME, exports JACK_DEFAULT_SERVER and
# JACK_NO_START_SERVER=1 so that clients find it and never start another.
jack_start() {
  local name=$1 rate=${2:-48000} period=${3:-128}
  local log="$TEST_TMP/jackd-$name.log"
  export JACK_DEFAULT_SERVER=$name JACK_NO_START_SERVER=1
  # A second jackd of the same name exits at once, but the first one answers
  # our probe meanwhile; refuse up front rather than test someone's server.
  if [[ $(jack_wait -s "$name" -c 2>/dev/null) == running ]]; then
    echo "jack_start: a server named '$name' already runs" >&2
    return 1
  fi
  # Synchronous mode (-S): the server waits for its clients each cycle. On
  # a shared VM a client thread is now and then descheduled past its
  # deadline; asynchronously the server would then drop that cycle for
  # every client (jack_rec included), and a recording would have holes
  # and clicks that are the host's doing. The xruns the dummy driver still
  # counts (its own timer waking late) are printed, not judged; the
  # callback's own discipline is tests/rt_check's to prove.
  local try
  for try in 1 2; do
    jackd ${JACKD_OPTS--S} -n "$name" -d dummy -r "$rate" -p "$period" >"$log" 2>&1 &
    JACKD_PID=$!
    # shellcheck disable=SC2034  # for the calling script
    JACKD_NAME=$name
    cleanup_push "stop_pid $JACKD_PID"
    _poll 10 "jackd '$name' (pid $JACKD_PID) to run" _jackd_up "$name" "$JACKD_PID" && return 0
    # JACK's registry in /dev/shm has room for 8 servers, and a server
    # killed without its cleanup (SIGKILL, a crash) keeps its place. With
    # no server running at all, the registry holds only such places.
    if [[ $try == 1 ]] && grep -q "Too many servers already active" "$log" && ! pgrep -x 'jackd|jackdbus' >/dev/null; then
      echo "jack_start: JACK's registry is full of servers that are gone; clearing it" >&2
      rm -f /dev/shm/jack-shm-registry
      continue
    fi
    break
  done
  echo "--- $log" >&2
  cat "$log" >&2
  return 1
}

# jack_stop: stops the server jack_start started and waits until it is gone.
jack_stop() {
  [[ -n ${JACKD_PID:-} ]] || return 0
  stop_pid "$JACKD_PID" 5
  JACKD_PID=
}

# wait_for_file FILE TIMEOUT_S: until FILE exists.
wait_for_file() {
  _poll "$2" "file $1" test -e "$1"
}

_file_has_line() {
  grep -Eq -- "$2" "$1" 2>/dev/null
}

# wait_for_line FILE REGEX TIMEOUT_S: until a line of FILE matches the
# extended REGEX.
wait_for_line() {
  _poll "$3" "a line matching /$2/ in $1" _file_has_line "$1" "$2"
}

_jack_has_port() {
  local ports
  # Capture first: `jack_lsp | grep -q` can die of SIGPIPE, which pipefail
  # would report as failure even on a match.
  ports=$(jack_lsp 2>/dev/null) || return 1
  grep -Fxq -- "$1" <<<"$ports"
}

# wait_for_port PORTNAME TIMEOUT_S: until the JACK port exists on
# $JACK_DEFAULT_SERVER.
wait_for_port() {
  _poll "$2" "JACK port $1" _jack_has_port "$1"
}

# free_udp_port: prints an even UDP port on 127.0.0.1 whose odd neighbour
# (RTCP) is free too. Free when asked: another process could still take it.
free_udp_port() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/free_port.py"
}

# tap NAME SECONDS PORT...: records PORTs with jack_tap into
# $TEST_TMP/NAME.wav, each JACK cycle's timing into $TEST_TMP/NAME.cycles,
# for SECONDS; returns once it records. Sets TAP_PID. Needs $build.
relay_start() {
  # relay_start TO_PORT [UDP_RELAY_ARGS...]: tests/tools/udp_relay from a
  # free port ($RELAY_PORT) to 127.0.0.1:TO_PORT, counting what it forwards
  # into $TEST_TMP/relay.json; $RELAY_PID. Returns once it listens.
  local to=$1
  shift
  RELAY_PORT=$(free_udp_port)
  spawn relay "${HARNESS_RT[@]}" "$build/tests/udp_relay" --listen "127.0.0.1:$RELAY_PORT" --to "127.0.0.1:$to" \
    --stats-file "$TEST_TMP/relay.json" --ready-file "$TEST_TMP/relay.ready" "$@"
  RELAY_PID=$SPAWNED_PID
  wait_for_file "$TEST_TMP/relay.ready" 5
}

# stop_receiver RX_PID RELAY_PID: stops rtp2jack (SIGTERM: it prints its
# final statistics and exits 0), then the relay; fails unless the final
# statistics are in $TEST_TMP/rtp2jack.log.
stop_receiver() {
  stop_pid "$1"
  wait "$1" 2>/dev/null || true
  stop_pid "$2"
  grep -q '"final":true' "$TEST_TMP/rtp2jack.log" || { cat "$TEST_TMP/rtp2jack.log"; exit 1; }
}

# relay_forwarded: how many datagrams the relay forwarded (after it stopped).
relay_forwarded() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["forwarded"])' "$TEST_TMP/relay.json"
}

tap() {
  local name=$1 secs=$2
  shift 2
  spawn "$name.tap" "$build/tests/jack_tap" --out "$TEST_TMP/$name.wav" --cycles "$TEST_TMP/$name.cycles" \
    --seconds "$secs" --ready-file "$TEST_TMP/$name.tap.ready" "$@"
  TAP_PID=$SPAWNED_PID
  wait_for_file "$TEST_TMP/$name.tap.ready" 10
}

# multicast_netns PREFIX: a private network namespace ($NETNS, deleted at
# exit) whose lo is up and carries IPv4 multicast. Needs root.
multicast_netns() {
  NETNS=$(unique_name "$1")
  ip netns add "$NETNS"
  cleanup_push "ip netns del $NETNS"
  ip netns exec "$NETNS" ip link set lo up
  ip netns exec "$NETNS" ip link set lo multicast on
  ip netns exec "$NETNS" ip route add 224.0.0.0/4 dev lo
}

# lossless_snr JUDGE_OUTPUT: each channel's signal-to-noise ratio from
# tone_judge's summaries (the median 10 ms block's residual after the sine
# fit); fails unless every one is above 80 dB.
lossless_snr() {
  python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ch = json.loads(line)
    snr = -ch["median_residual_db"]
    print(f"channel {ch['channel']}: signal-to-noise {snr:.1f} dB")
    if snr <= 80:
        sys.exit(f"FAIL: channel {ch['channel']}: signal-to-noise {snr:.1f} dB, not above 80 dB")
PY
}

# judge_tone NAME [--mono-windows FILE] TONE_JUDGE_ARGS...: judges the
# recording $TEST_TMP/NAME.wav (tests/tools/tone_judge) with only JACK's own
# stalls excused (from NAME.cycles: tests/lib/timeline.py), and the
# windows of FILE (lines `START_NS END_NS REASON` on CLOCK_MONOTONIC: lost
# packets, injected stops) mapped onto the recording.
judge_tone() {
  local name=$1 mono=()
  shift
  if [[ ${1:-} == --mono-windows ]]; then
    mono=(--mono-windows "$2")
    shift 2
  fi
  python3 "$(dirname "${BASH_SOURCE[0]}")/timeline.py" excuse "$TEST_TMP/$name.cycles" --stalls "${mono[@]}" \
    >"$TEST_TMP/$name.excuse"
  "$build/tests/tone_judge" "$TEST_TMP/$name.wav" --excuse "$TEST_TMP/$name.excuse" "$@"
}

# judge_steady_tone NAME SECONDS: a stereo 440 Hz tone at 0.5 judged whole
# from its onset to SECONDS after it (no glitch outside JACK's stalls), and
# its pitch within 100 ppm in every 1 s window from 5 s after the onset,
# once the clocks are measured. Fails on either. Never the last 0.1 s
# before the tone's offset: what JACK lost, and playout skipped, brings the
# stream's end that much earlier in the recording, and after its last
# packet a receiver conceals (40 ms at full level, then a fade).
judge_steady_tone() {
  local name=$1 secs=$2
  judge_tone "$name" --channels 2 --freq 440 --amplitude 0.5 --from-s onset+0.1 --to-s "onset+$secs" \
    --tail-s 0.1 --max-pitch-ppm off
  judge_tone "$name" --channels 2 --freq 440 --from-s onset+5 --to-s "onset+$secs" --max-pitch-ppm 100 \
    --max-glitches 100000 >/dev/null
}
