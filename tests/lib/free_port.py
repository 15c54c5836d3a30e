#!/usr/bin/env python3
"""free_port.py: prints an even UDP port on 127.0.0.1 whose odd neighbour
(RTCP, port + 1) is free too. Free when asked: another process could still
take it. Importable (free_port()) by the benchmark drivers.

The port is drawn below the kernel's ephemeral range: a port the kernel
hands out for bind(0) is one it may hand to the next process that binds
to port 0 (a GStreamer sink's sending socket, say) before ours binds it.
That happened: "cannot listen on 127.0.0.1:47996: Address already in use"
in one round of a latency benchmark."""
import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_given = set()  # by this process: a driver asks for several at once


def free_port():
    top = max(ephemeral_low(), 12000) - 2
    for _ in range(200):
        port = random.randrange(10000, top, 2)
        if port in _given:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp, \
                 socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp:
                rtp.bind(("127.0.0.1", port))
                rtcp.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        _given.add(port)
        return port
    sys.exit("free_port: no free even/odd UDP port pair found")


if __name__ == "__main__":
    print(free_port())
