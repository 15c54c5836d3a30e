#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, then the integration
# tests (real dummy JACK servers, real GStreamer and ffmpeg senders), then the
# unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/test.sh            # everything
#   SKIP_SANITIZE=1 scripts/test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$root/scripts/install-deps.sh"

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$jobs"
(cd "$root/build" && ctest --output-on-failure)

if [[ -z ${SKIP_SANITIZE:-} ]]; then
  cmake -S "$root" -B "$root/build-sanitize" -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
  cmake --build "$root/build-sanitize" -j "$jobs" --target unit_tests
  (cd "$root/build-sanitize" && ctest --output-on-failure -L unit)
fi
