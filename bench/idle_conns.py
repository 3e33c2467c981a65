#!/usr/bin/env python3
"""bench/idle_conns.py — hold N idle keep-alive connections to hellod.

Opens COUNT connections to 127.0.0.1:PORT, sends one request on each and
reads its answer (so each is a used keep-alive connection), prints
"ready COUNT" on stdout, then holds them, idle, until it is killed or HOLD
seconds pass. Connections close with SO_LINGER 0 (a reset)
so no TIME_WAIT piles up between runs. Exits 1 if a connection was refused
or not answered within 5 s.
"""
import argparse
import socket
import struct
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: idle\r\n\r\n"


def open_conns(port, count):
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(REQUEST)
        conns.append(s)
    return conns


def read_answers(conns):
    """Each connection must get one complete response (ends with the body)."""
    for s in conns:
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"Hello, World!"):
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed before its answer")
            got += chunk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--hold", type=float, default=120.0)
    args = ap.parse_args()
    try:
        conns = open_conns(args.port, args.count)
        read_answers(conns)
    except OSError as e:
        print(f"idle_conns: {e}", file=sys.stderr)
        return 1
    print(f"ready {len(conns)}", flush=True)
    time.sleep(args.hold)
    for s in conns:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
