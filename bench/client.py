#!/usr/bin/env python3
"""bench/client.py — a deterministic HTTP/1.1 client for the bench steps.

  client.py requests PORT N DEPTH   one connection, exactly N requests, sent
                                    DEPTH at a time (1 = plain keep-alive);
                                    each batch's responses are read in full
                                    before the next batch goes out
  client.py hold PORT N             opens N keep-alive connections, sends
                                    one request on each and reads its
                                    response, prints "ready", and keeps them
                                    all open until stdin closes

Only the standard library; responses must carry Content-Length.
"""
import socket
import sys

def request_bytes(port):
    return b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port

def connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock

def response_end(buf, start):
    """Offset just past the complete response at buf[start:], or -1."""
    head_end = buf.find(b"\r\n\r\n", start)
    if head_end < 0:
        return -1
    length = 0
    for line in buf[start:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    end = head_end + 4 + length
    return end if end <= len(buf) else -1

def read_responses(sock, count, buf):
    """Reads until buf holds count complete responses; returns the rest."""
    pos = 0
    while count:
        end = response_end(buf, pos)
        if end < 0:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            buf += data
            continue
        if not buf[pos:pos + 12].startswith(b"HTTP/1.1 200"):
            raise ValueError("unexpected response: %r" % buf[pos:pos + 40])
        pos = end
        count -= 1
    return buf[pos:]

def run_requests(port, total, depth):
    sock = connect(port)
    one = request_bytes(port)
    rest = b""
    done = 0
    while done < total:
        batch = min(depth, total - done)
        sock.sendall(one * batch)
        rest = read_responses(sock, batch, rest)
        done += batch
    sock.close()
    print(done)

def run_hold(port, count):
    one = request_bytes(port)
    socks = []
    step = 200
    for first in range(0, count, step):
        batch = [connect(port) for _ in range(min(step, count - first))]
        for sock in batch:
            sock.sendall(one)
        for sock in batch:
            read_responses(sock, 1, b"")
        socks += batch
    print("ready", len(socks), flush=True)
    sys.stdin.read()
    for sock in socks:
        sock.close()

def main(argv):
    if len(argv) == 5 and argv[1] == "requests":
        run_requests(int(argv[2]), int(argv[3]), int(argv[4]))
    elif len(argv) == 4 and argv[1] == "hold":
        run_hold(int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)

if __name__ == "__main__":
    main(sys.argv)
