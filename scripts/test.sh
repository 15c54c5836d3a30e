#!/usr/bin/env bash
# Sets everything up and runs every test: the unit tests under
# AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer,
# then everything (unit and
# integration: real dummy JACK servers, real GStreamer and ffmpeg senders)
# in a normal build, whose ctest summary is the last line.
#
#   scripts/test.sh            # everything
#   SKIP_SANITIZE=1 scripts/test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$root/scripts/install-deps.sh"

if [[ -z ${SKIP_SANITIZE:-} ]]; then
  cmake -S "$root" -B "$root/build-sanitize" -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
  cmake --build "$root/build-sanitize" -j "$jobs" --target unit_tests
  (cd "$root/build-sanitize" && ctest --output-on-failure -L unit)
  # ThreadSanitizer on the cross-thread structures (the queue's two-thread
  # stress test among them); the simulated-time cases are single-threaded
  # and ten times slower under TSan, so they are left to the ASan run.
  cmake -S "$root" -B "$root/build-tsan" -DCMAKE_BUILD_TYPE=Tsan >/dev/null
  cmake --build "$root/build-tsan" -j "$jobs" --target unit_tests
  "$root/build-tsan/tests/unit_tests" --test-case-exclude='sim:*'
fi

# Every network parser under libFuzzer (clang, ASan + UBSan): the seed
# corpus replayed as a regression test, then a short fuzzing run per target.
"$root/fuzz/run.sh" "${FUZZ_SECONDS:-15}"

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$jobs"
(cd "$root/build" && ctest --output-on-failure)

