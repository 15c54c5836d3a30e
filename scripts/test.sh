#!/usr/bin/env bash
# Sets everything up and runs every test: the unit tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, then everything (unit and
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
fi

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$jobs"
(cd "$root/build" && ctest --output-on-failure)

