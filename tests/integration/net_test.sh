#!/usr/bin/env bash
# net_test.sh BUILD_DIR
#
# Listening: IPv6 unicast, a dual-stack "::" socket taking IPv4, an IPv4
# multicast group joined on an interface, an IPv6 multicast group joined on
# an interface. Real GStreamer senders, a real dummy JACK server.
#
# Multicast runs inside a private network namespace made for the test (lo
# for IPv4; a veth pair for IPv6, whose multicast does not loop over lo), so
# no packet can leave the machine. Needs root for that: without it the test
# exits 77, which CTest reports as skipped, never as passed.
set -euo pipefail
build=$(cd "${1:?usage: net_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/jack.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "net_test: needs root for network namespaces; not run" >&2
  exit 77
fi

jack_start "$(unique_name net)"
multicast_netns rtp2jack_net
ns=$NETNS
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link add va type veth peer name vb
in_ns ip link set va up
in_ns ip link set vb up
in_ns ip -6 addr add fd00::1/64 dev va nodad
in_ns ip -6 addr add fd00::2/64 dev vb nodad

failures=0
# run_case NAME PREFIX BIND IFACE SEND_HOST SEND_IFACE
run_case() {
  local name=$1 prefix=$2 bind=$3 iface=$4 host=$5 send_iface=$6 pid rc=0
  local log="$TEST_TMP/$name"
  local -a ifopt=() sendopt=()
  [[ -n $iface ]] && ifopt=(--iface "$iface")
  [[ -n $send_iface ]] && sendopt=(multicast-iface="$send_iface")
  $prefix "$build/rtp2jack" --bind "$bind" "${ifopt[@]}" --port 5004 --connect none \
    --name "rx_$name" --stats json >"$log.out" 2>"$log.err" &
  pid=$!
  cleanup_push "stop_pid $pid"
  if ! wait_for_line "$log.err" "receiving on" 10; then
    echo "FAIL $name: rtp2jack did not start"; cat "$log.err"; failures=$((failures + 1)); return
  fi
  $prefix gst-launch-1.0 -q audiotestsrc is-live=true num-buffers=100 samplesperbuffer=960 \
    ! audio/x-raw,rate=48000,channels=2 ! opusenc ! rtpopuspay pt=96 \
    ! udpsink host="$host" port=5004 "${sendopt[@]}" >"$log.send" 2>&1 || rc=$?
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  if ((rc == 0)) && python3 "$here/../lib/stats_check.py" "$log.out" \
      "packets_received >= 100" "packets_lost == 0" "underruns == 0" 2>"$log.check"; then
    echo "ok   $name"
  else
    echo "FAIL $name (exit $rc)"; cat "$log.err" "$log.send" "$log.check"; failures=$((failures + 1))
  fi
}

run_case ipv6_unicast "" ::1 "" ::1 ""
run_case dual_stack "" :: "" 127.0.0.1 ""
run_case ipv4_multicast "ip netns exec $ns" 239.255.12.34 lo 239.255.12.34 lo
run_case ipv6_multicast "ip netns exec $ns" ff15::1234 vb ff15::1234 va

echo "$failures failure(s)"
((failures == 0))
