#!/usr/bin/env bash
# Sets everything up and runs every test: unit, simulated-time and
# integration tests under AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer) and under ThreadSanitizer, the fuzzers, then everything
# (unit, simulated time, integration: real dummy JACK servers, real
# GStreamer and ffmpeg senders, the real-time safety check) in a normal
# build, whose ctest summary is the last line.
#
#   scripts/test.sh            # everything
#   SKIP_SANITIZE=1 scripts/test.sh
set -euo pipefail
# Every step below is bounded (timeout, ctest TIMEOUT): a hang fails its step
# instead of holding the run past CI's limit.
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
# Where the time goes (CI must stay under 40 minutes on two cores).
stage() { echo "== test.sh: $* (at ${SECONDS} s)"; }

"$root/scripts/install-deps.sh"

# The integration scripts run against each sanitizer build too: the real
# program with real JACK servers and senders. Every sanitizer report from any
# process fails (scripts/sanitized_integration.sh); `~` marks the scripts
# whose audio verdict is timing-sensitive and is left to the normal build.
san_targets=(unit_tests sim_run rtp2jack udp_relay wav_analyze jack_tap tone_judge)
if [[ -z ${SKIP_SANITIZE:-} ]]; then
  # AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer at exit).
  stage "ASan + UBSan build and tests"
  cmake -S "$root" -B "$root/build-sanitize" -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
  cmake --build "$root/build-sanitize" -j "$jobs" --target "${san_targets[@]}"
  (cd "$root/build-sanitize" && ctest --output-on-failure --timeout 600 -L unit)
  timeout 600 "$root/build-sanitize/tests/sim_run" --seconds 600 --seed 1 --loss 2 --burst 0.2,25 --delay-ms 5 \
    --jitter-ms 20 --dup 1 --latency 40 --fec --drift-ppm 300
  "$root/scripts/sanitized_integration.sh" "$root/build-sanitize" 'cli_test.sh @' \
    '~tone_test.sh gst @' '~jack_restart_test.sh @' '~flood_test.sh @' \
    '~exhaustion_test.sh @' 'leak_test.sh @'

  # ThreadSanitizer: the unit tests (the queue's two-thread stress test
  # among them), a short simulated run, and the real program, whose net,
  # audio and control threads meet in the queues. The simulated-time cases
  # and sim_run are single-threaded by design (a virtual clock drives net
  # and audio in turn), so TSan can find nothing in them and they are ten
  # times slower under it (4 minutes): the unit run leaves them to ASan and
  # sim_run plays 2 minutes only.
  stage "TSan build and tests"
  cmake -S "$root" -B "$root/build-tsan" -DCMAKE_BUILD_TYPE=Tsan >/dev/null
  cmake --build "$root/build-tsan" -j "$jobs" --target "${san_targets[@]}"
  export TSAN_OPTIONS="halt_on_error=1:exitcode=66${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
  timeout 600 "$root/build-tsan/tests/unit_tests" --test-case-exclude='sim:*'
  timeout 600 "$root/build-tsan/tests/sim_run" --seconds 120 --seed 2 --loss 1 --jitter-ms 30 \
    --bursty-jitter --latency 30 --frame-ms 10 --drift-ppm -300
  "$root/scripts/sanitized_integration.sh" "$root/build-tsan" 'cli_test.sh @' \
    '~tone_test.sh gst @' '~jack_restart_test.sh @' '~flood_test.sh @'
fi

# Every network parser under libFuzzer (clang, ASan + UBSan): the seed
# corpus replayed as a regression test, then a short fuzzing run per target.
stage "fuzzers"
"$root/fuzz/run.sh" "${FUZZ_SECONDS:-10}"

stage "normal build and every test"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$jobs"
(cd "$root/build" && ctest --output-on-failure | tee ctest.out)
# A test that skipped proved nothing: it fails the run unless it names the
# kernel feature this machine lacks.
python3 "$root/scripts/check_skips.py" "$root/build/ctest.out" "$root/build"

