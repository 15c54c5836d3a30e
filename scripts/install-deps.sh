#!/usr/bin/env bash
# Installs everything rtp2jack needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are skipped by apt. Needs root (or sudo).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  # the manual page is made from --help at build time
  help2man
  libasio-dev libopus-dev libjack-jackd2-dev jackd2 libcli11-dev doctest-dev
  # test peers: real senders and recorders
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  ffmpeg
  # tests/integration/pipewire_test.sh: PipeWire's own RTP sender and SAP announcer
  pipewire pipewire-bin
  # test scripts: JSON checks, network namespaces; scripts/plot-stats.py
  python3 iproute2 nftables python3-matplotlib
  # tests/integration/rtcp_test.sh: decodes the RTCP rtp2jack sends
  tshark
  # tests/lib/jack.sh: where a process that ignores SIGTERM waits, for the record
  gdb
  # fuzzing: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # bench/resampler_bench.cpp: resampler candidates (zita-resampler is GPL-3)
  libsamplerate0-dev libspeexdsp-dev libsoxr-dev libzita-resampler-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# jackd2 asks whether to enable realtime priority; answer for it.
echo "jackd2 jackd/tweak_rt_limits boolean true" | $sudo debconf-set-selections
# tshark asks whether non-root users may capture; root captures in the tests.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
