#!/usr/bin/env bash
# sanitized_integration.sh BUILD_DIR 'SCRIPT ARGS...' ...
#
# Runs integration test scripts (tests/integration/) against a sanitizer
# build (ASan+UBSan or TSan) of rtp2jack and its test tools. `@` in ARGS
# stands for BUILD_DIR, e.g. 'tone_test.sh gst @'. Every sanitizer report,
# from any process of the build and whatever a script does with exit codes
# (most stop rtp2jack with SIGTERM and judge its output, not its status),
# lands in a log file of its own: any such file fails the run, and is
# printed. Prints each script's time; exits non-zero if any failed.
#
# A spec that starts with `~` is timing-sensitive: its own verdict (audio
# judged for pitch, gaps and clicks, on a dummy JACK server whose clock
# slips under load) is printed but does not fail the run; a sanitizer report
# from it still does. Sanitizer runtimes slow every thread (TSan 5-15x), the
# real-time one included, and the dummy driver then xruns and loses cycles:
# the pitch follows the drift controller to its +-0.5 % limit. The normal
# build's ctest run judges the audio.
set -uo pipefail
build=$(cd "${1:?usage: sanitized_integration.sh BUILD_DIR 'SCRIPT ARGS...' ...}" && pwd)
shift
root=$(cd "$(dirname "$0")/.." && pwd)
reports=$(mktemp -d "${TMPDIR:-/tmp}/rtp2jack-sanitizer.XXXXXX")

# halt_on_error: the first report ends the process (and is in the log).
# detect_leaks: LeakSanitizer at exit (ASan builds). exitcode 66 tells a
# sanitizer exit from the program's own failures in a script's output.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:exitcode=66:log_path=$reports/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=66:log_path=$reports/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:log_path=$reports/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export RTP2JACK_SANITIZED=1

failed=0
for spec in "$@"; do
  soft=0
  if [[ $spec == "~"* ]]; then
    soft=1
    spec=${spec#\~}
  fi
  read -r -a words <<<"${spec//@/$build}"
  start=$(date +%s)
  # Bounded, like ctest's TIMEOUT for the normal build: a hang fails this
  # script (exit 124) instead of holding up the whole run.
  rc=0
  timeout -k 10 "${SANITIZED_TIMEOUT:-300}" "$root/tests/integration/${words[0]}" \
    "${words[@]:1}" >"$reports/out.log" 2>&1 || rc=$?
  if ((rc == 0)); then
    status=ok
  elif ((soft && rc != 124 && rc != 137)); then
    status="ok (no sanitizer report; its timing-sensitive verdict failed: $( (grep -m1 'FAIL' "$reports/out.log" || tail -n1 "$reports/out.log") | cut -c1-160))"
  else
    status=FAILED
    ((rc == 124 || rc == 137)) && status="FAILED (timed out after ${SANITIZED_TIMEOUT:-300} s)"
    failed=$((failed + 1))
    tail -n 30 "$reports/out.log"
  fi
  found=$(find "$reports" -maxdepth 1 -name 'asan.*' -o -maxdepth 1 -name 'ubsan.*' -o -maxdepth 1 -name 'tsan.*' | sort)
  if [[ -n $found ]]; then
    mkdir -p "$reports/seen"
    for f in $found; do
      echo "--- sanitizer report $f"
      cat "$f"
      mv "$f" "$reports/seen/"
    done
    [[ $status == ok ]] && failed=$((failed + 1))
    status="FAILED (sanitizer report)"
  fi
  echo "$(basename "$build"): ${spec//@/BUILD}: $status in $(($(date +%s) - start)) s"
done
if ((failed == 0)); then rm -rf "$reports"; else echo "sanitizer logs kept in $reports"; fi
exit $((failed > 0))
