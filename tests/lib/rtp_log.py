#!/usr/bin/env python3
"""rtp_log.py --log FILE [--ready-file F] PORT...: logs every datagram that
arrives on the UDP PORTs of 127.0.0.1, one line each, flushed at once:

    PORT SEQ RTP_TS RECV_MONO_NS

SEQ and RTP_TS from the RTP fixed header (RFC 3550 5.1), -1 when the
datagram is not RTP. Writes --ready-file once every port is bound; runs
until SIGTERM/SIGINT (exit 0). Exit 2 when a port cannot be bound.
"""
import argparse
import select
import signal
import socket
import sys
import time

RCVBUF_BYTES = 4 << 20  # nothing is lost while the log is written


def rtp_fields(data):
    """(seq, timestamp) of an RTP packet; (-1, -1) for anything else."""
    if len(data) >= 12 and data[0] >> 6 == 2 and not 192 <= data[1] <= 223:
        return int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big")
    return -1, -1


def main(argv):
    p = argparse.ArgumentParser(description="Log RTP packets arriving on UDP ports.")
    p.add_argument("--log", required=True)
    p.add_argument("--ready-file")
    p.add_argument("ports", type=int, nargs="+")
    a = p.parse_args(argv)
    socks = {}
    for port in a.ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            print(f"rtp_log.py: bind(127.0.0.1:{port}): {e.strerror}", file=sys.stderr)
            return 2
        s.setblocking(False)
        socks[s.fileno()] = (s, port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    with open(a.log, "w", buffering=1) as log:
        if a.ready_file:
            with open(a.ready_file, "w") as f:
                f.write("ready\n")
        poller = select.poll()
        for fd in socks:
            poller.register(fd, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                s, port = socks[fd]
                while True:
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        break
                    seq, ts = rtp_fields(data)
                    log.write(f"{port} {seq} {ts} {time.monotonic_ns()}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
