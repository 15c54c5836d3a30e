#!/usr/bin/env bash
# Builds the fuzz targets, replays each seed corpus (regression), then fuzzes
# each target for a while.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]     (default 20)
#
# Needs clang with libFuzzer (clang 14 + libclang-rt-14-dev on Debian 12),
# cmake, pkg-config and libopus-dev. New inputs go to a temporary directory,
# never into fuzz/corpus/; a crashing input is kept under build-fuzz/artifacts/
# and its path printed. Exits non-zero if any target failed.
#   BUILD_DIR   build directory (default: build-fuzz beside fuzz/)
#   CXX         compiler (default: clang++)
set -u

secs=${1:-20}
if ! [[ $secs =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh [SECONDS_PER_TARGET]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build-fuzz}
targets=(rtp_fuzz rtcp_fuzz opus_toc_fuzz stream_fuzz source_filter_fuzz sdp_fuzz sap_fuzz)
declare -A max_len=([rtp_fuzz]=2048 [rtcp_fuzz]=2048 [opus_toc_fuzz]=2048 [stream_fuzz]=4096 [source_filter_fuzz]=128 [sdp_fuzz]=4096 [sap_fuzz]=8192)

mkdir -p "$build"
if ! cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" >"$build/configure.log" 2>&1 ||
   ! cmake --build "$build" -j2 >"$build/build.log" 2>&1; then
  cat "$build/configure.log" "$build/build.log" >&2
  echo "fuzz/run.sh: build failed" >&2
  echo "0 passed, ${#targets[@]} failed"
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$build/artifacts"
mkdir -p "$artifacts"

passed=0
failed=0
for t in "${targets[@]}"; do
  bin="$build/$t"
  seeds="$here/corpus/$t"
  log="$work/$t.log"

  # Regression: every seed once.
  if ! "$bin" -runs=0 -timeout=10 -artifact_prefix="$artifacts/$t-replay-" "$seeds" \
      >"$work/$t.replay.log" 2>&1; then
    tail -n 40 "$work/$t.replay.log"
    echo "$t: FAILED replaying $(ls "$seeds" | wc -l) seeds"
    failed=$((failed + 1))
    continue
  fi
  replayed=$(ls "$seeds" | wc -l)

  # Fuzzing: new inputs go to a scratch directory, seeds are read only.
  mkdir -p "$work/$t.new"
  if "$bin" -max_total_time="$secs" -max_len="${max_len[$t]}" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$t-" "$work/$t.new" "$seeds" >"$log" 2>&1; then
    status=ok
    passed=$((passed + 1))
  else
    status=FAILED
    failed=$((failed + 1))
    tail -n 60 "$log"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -oE '(DONE|pulse|NEW|REDUCE|INITED) +cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 |
        sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+)/\1 edges, \2 features/')
  crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
  echo "$t: $status: ${replayed} seeds replayed; ${execs:-?} execs in ${secs}s" \
       "(${rate:-?}/s), coverage ${cov:-?}, $(ls "$work/$t.new" | wc -l) new inputs${crash:+; crashing input: $crash}"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
