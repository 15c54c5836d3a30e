#!/usr/bin/env python3
"""free_port.py: prints an even UDP port on 127.0.0.1 whose odd neighbour
(RTCP, port + 1) is free too. Free when asked: another process could still
take it. Importable (free_port()) by the benchmark drivers."""
import socket
import sys


def free_port():
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp:
            rtp.bind(("127.0.0.1", 0))
            port = rtp.getsockname()[1]
            if port % 2 or port + 1 > 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp:
                try:
                    rtcp.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    sys.exit("free_port: no free even/odd UDP port pair found")


if __name__ == "__main__":
    print(free_port())
