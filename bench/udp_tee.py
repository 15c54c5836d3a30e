#!/usr/bin/env python3
"""udp_tee.py --listen HOST:PORT --to HOST:PORT [--to HOST:PORT ...] [--ready-file F] [--log F]

Forwards every datagram it receives to each --to address, in arrival order,
at once. The benchmark puts it after the impairing relay so that rtp2jack and
the reference receivers get the very same packets at the same moments (a
seeded relay run twice would see different arrival times from the sender and
so impair differently). With --log, each datagram's receive time
(CLOCK_MONOTONIC, ns) and, for RTP, its sequence number and timestamp, a
line each, written when it stops. Stops on SIGINT/SIGTERM and says how many
datagrams it forwarded. Python standard library only; test traffic on 127.0.0.1.
"""
import argparse
import signal
import socket
import struct
import sys
import time


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=address, required=True)
    parser.add_argument("--to", type=address, action="append", required=True)
    parser.add_argument("--ready-file")
    parser.add_argument("--log")
    args = parser.parse_args()

    inbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inbound.bind(args.listen)
    outbound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forwarded = 0
    log = []

    def stop(signum, frame):
        if args.log:
            with open(args.log, "w") as f:
                f.writelines(f"{t} {seq} {ts}\n" for t, seq, ts in log)
        print(f"udp_tee: forwarded {forwarded} datagrams to {len(args.to)} ports", file=sys.stderr)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.ready_file:  # written only once bound, so senders may start
        with open(args.ready_file, "w") as f:
            f.write(f"{args.listen[1]}\n")
    while True:
        data = inbound.recv(65535)
        if args.log:
            seq, ts = struct.unpack_from("!HI", data, 2) if len(data) >= 12 else (-1, -1)
            log.append((time.monotonic_ns(), seq, ts))
        for to in args.to:
            try:
                outbound.sendto(data, to)
            except OSError:  # a receiver not there yet: its loss, not the others'
                pass
        forwarded += 1


if __name__ == "__main__":
    sys.exit(main())
