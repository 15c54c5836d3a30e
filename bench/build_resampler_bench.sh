#!/usr/bin/env bash
# build_resampler_bench.sh [OUT_DIR (build-bench)]
#
# Builds bench/resampler_bench.cpp on its own, with g++ -O2 and
# pkg-config, so the project's CMake build needs no resampler libraries.
# rtp2jack's own audio/resampler.cpp is compiled in with the same flags.
# Needs libsamplerate0-dev libspeexdsp-dev libsoxr-dev libzita-resampler-dev
# libopus-dev (scripts/install-deps.sh). Prints the binary's path. Then:
#
#   build-bench/resampler_bench            # writes bench/results/resampler-latest.md
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-bench}
mkdir -p "$out"
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
versions="libsamplerate0 $(ver libsamplerate0), libspeexdsp1 $(ver libspeexdsp1), libsoxr0 $(ver libsoxr0),"
versions+=" libzita-resampler1 $(ver libzita-resampler1), libopus0 $(ver libopus0)"
revision=$(python3 "$root/bench/benchlib.py" revision)
# The own resampler may be uncommitted: name the exact sources by their blobs.
own=$(git -C "$root" hash-object audio/resampler.hpp audio/resampler.cpp audio/resample_kernel.cpp 2>/dev/null | cut -c1-10 | paste -sd/ -)
versions+=", rtp2jack audio/resampler.{hpp,cpp} and audio/resample_kernel.cpp blobs ${own:-unknown}"
flags=(-std=c++20 -O2 -Wall -Wextra)
# zita-resampler ships no .pc file: its one library is linked by name.
g++ "${flags[@]}" -I"$root" -o "$out/resampler_bench" "$root/bench/resampler_bench.cpp" \
  "$root/audio/resampler.cpp" "$root/audio/resample_kernel.cpp" \
  -DRB_VERSIONS="\"$versions\"" \
  -DRB_BUILD="\"built from $revision by g++ $(g++ -dumpfullversion) ${flags[*]}\"" \
  -DRB_DEFAULT_OUT="\"$root/bench/results/resampler-latest.md\"" \
  $(pkg-config --cflags --libs samplerate speexdsp soxr opus) -lzita-resampler
echo "$out/resampler_bench"
