#!/usr/bin/env python3
"""slow_reader.py PORT [HOLD_SECONDS] - a client that stops reading.

Sends pipelined GET requests to 127.0.0.1:PORT as fast as the kernel
takes them and never reads an answer. The answers pile up: first in the
socket buffers, then in hellod's per-connection queue, which is bounded
(max_pending_output); past that bound hellod stops reading this client,
its requests pile up in the kernel in turn, and sending stalls. That is
backpressure: the slow client is held back, the server's memory is not.

Prints "stalled after N bytes" once no byte has been taken for half a
second, then holds the connection open HOLD_SECONDS (default 1) so you
can look at the server (top, --stats, /metrics), and exits 0. Exits 1 if
sending never stalled within 64 MiB or 10 s. Every wait is bounded.
"""
import select
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n" * 256
LIMIT_BYTES = 64 << 20
LIMIT_SECONDS = 10.0
QUIET = 0.5  # no byte taken this long: stalled


def main():
    port = int(sys.argv[1])
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    s = socket.socket()
    # A small receive window, so the answers fill it soon.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(2.0)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    sent, start, last = 0, time.monotonic(), time.monotonic()
    while sent < LIMIT_BYTES and time.monotonic() - start < LIMIT_SECONDS:
        _, writable, _ = select.select([], [s], [], 0.05)
        if writable:
            try:
                n = s.send(REQUEST)
            except BlockingIOError:
                n = 0
            if n:
                sent += n
                last = time.monotonic()
        if time.monotonic() - last >= QUIET:
            print("stalled after %d bytes" % sent, flush=True)
            time.sleep(hold)
            s.close()
            return 0
    print("never stalled: sent %d bytes" % sent, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
