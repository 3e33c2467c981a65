#!/usr/bin/env python3
"""chaos.py — hellod among misbehaving clients (make chaos; stdlib only).

Starts build/hellod (HELLOD_BIN) on 127.0.0.1 with short timeouts, then
for about 20 s opens about 2,000 connections, at most 200 at a time, each
doing one random thing: a well-behaved keep-alive client (some requests
pipelined), aborting mid-request (FIN or RST), half-closing, pipelining
without ever reading, sending garbage, slowloris, or connecting and
sending nothing. Afterwards:

  - every request of the well-behaved clients got its 200 and body;
  - hellod still answers;
  - its open descriptors (/proc/PID/fd) are back to the baseline;
  - its RSS is back within RSS_MARGIN_KB of the baseline (allocator
    caches and the per-worker buffers that grew are allowed for);
  - it exits 0 on SIGTERM.

Bounded: CONNECTIONS connections, DURATION s of launching, a per-client
time limit, and a final settle time limit. Exit status 0 on success.
"""
import asyncio
import logging
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

CONNECTIONS = int(os.environ.get("CHAOS_CONNECTIONS", "2000"))
DURATION = float(os.environ.get("CHAOS_SECONDS", "20"))
CONCURRENCY = 200
CLIENT_LIMIT = 15.0  # seconds any one client may take
SETTLE_LIMIT = 20.0  # seconds for descriptors to return to baseline
RSS_MARGIN_KB = 8 * 1024

CONF = """\
header_timeout 2s
keepalive_timeout 3s
write_timeout 2s
max_pending_output 64k
"""

REQ = b"GET / HTTP/1.1\r\nHost: chaos\r\n\r\n"
BODY = b"Hello, World!"

stats = {"good_requests": 0, "good_failures": 0}
kinds = {}
failures = []


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_server():
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write(CONF)
    conf.close()
    binary = os.environ.get("HELLOD_BIN", "build/hellod")
    proc = subprocess.Popen(
        [binary, "-c", conf.name, "-l", "127.0.0.1:0", "-w", "2", "-s"],
        stderr=subprocess.PIPE)
    line = proc.stderr.readline().decode()
    os.unlink(conf.name)
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        sys.exit(f"chaos: hellod did not start: {line!r}")
    return proc, int(m.group(1))


async def read_response(reader):
    """Reads one response; returns (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
    body = await reader.readexactly(int(m.group(1))) if m else b""
    return status, body


def rst_close(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    writer.close()


async def good(rng, reader, writer):
    """Keep-alive, 1-20 requests; every third batch pipelined."""
    for _ in range(rng.randint(1, 20)):
        batch = rng.choice([1, 1, 3])
        writer.write(REQ * batch)
        for _ in range(batch):
            try:
                status, body = await asyncio.wait_for(read_response(reader),
                                                      10)
            except Exception as e:  # noqa: BLE001 - any failure counts
                stats["good_failures"] += 1
                failures.append(f"good client: {type(e).__name__}")
                return
            if status != 200 or body != BODY:
                stats["good_failures"] += 1
                failures.append(f"good client: {status} {body[:20]!r}")
                return
            stats["good_requests"] += 1
        await asyncio.sleep(rng.random() * 0.2)
    writer.close()


async def abort_mid_request(rng, reader, writer):
    writer.write(REQ[:rng.randint(1, len(REQ) - 1)])
    await writer.drain()
    await asyncio.sleep(rng.random() * 0.5)
    rst_close(writer) if rng.random() < 0.5 else writer.close()


async def half_close(rng, reader, writer):
    writer.write(REQ * rng.randint(1, 3))
    writer.write_eof()
    await reader.read()  # until the server closes
    writer.close()


async def never_read(rng, reader, writer):
    writer.write(REQ * rng.randint(100, 3000))
    await asyncio.sleep(rng.uniform(0.5, 3))
    rst_close(writer)


async def garbage(rng, reader, writer):
    writer.write(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600))))
    await asyncio.sleep(rng.random() * 0.3)
    await asyncio.wait_for(reader.read(), 5)
    writer.close()


async def slowloris(rng, reader, writer):
    writer.write(b"GET / HTTP/1.1\r\nHost: chaos\r\nX-Slow: ")
    for _ in range(16):  # 4.8 s at most; header_timeout is 2 s
        await asyncio.sleep(0.3)
        if reader.at_eof():
            break
        writer.write(b"a")
    writer.close()


async def silent(rng, reader, writer):
    await asyncio.sleep(rng.uniform(0.5, 4))
    writer.close()


BEHAVIOURS = [(good, 40), (abort_mid_request, 10), (half_close, 10),
              (never_read, 10), (garbage, 10), (slowloris, 10),
              (silent, 10)]


async def client(port, rng, sem):
    behaviour = rng.choices([b for b, _ in BEHAVIOURS],
                            [w for _, w in BEHAVIOURS])[0]
    kinds[behaviour.__name__] = kinds.get(behaviour.__name__, 0) + 1
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        failures.append(f"connect: {e}")
        sem.release()
        return
    try:
        await asyncio.wait_for(behaviour(rng, reader, writer), CLIENT_LIMIT)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
            asyncio.LimitOverrunError):
        pass  # misbehaving clients get cut off; that is the point
    finally:
        writer.close()
        sem.release()


async def run(port, seed):
    rng = random.Random(seed)
    sem = asyncio.Semaphore(CONCURRENCY)
    tasks = []
    start = time.monotonic()
    for i in range(CONNECTIONS):
        await sem.acquire()
        tasks.append(asyncio.create_task(
            client(port, random.Random(rng.getrandbits(32)), sem)))
        # Spread the launches over DURATION seconds.
        lag = start + DURATION * (i + 1) / CONNECTIONS - time.monotonic()
        if lag > 0:
            await asyncio.sleep(lag)
    await asyncio.gather(*tasks)


def request_once(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(REQ)
        data = b""
        while not data.endswith(BODY):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.startswith(b"HTTP/1.1 200") and data.endswith(BODY)


def main():
    # asyncio logs each write to a reset connection; resets are expected.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    seed = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))
    proc, port = start_server()
    ok = True
    n_checks, n_failed = 6, 0  # five checks below and hellod's exit
    try:
        if not request_once(port):
            sys.exit("chaos: no answer before the chaos")
        time.sleep(0.5)
        base_fds = fd_count(proc.pid)
        base_rss = proc_status_kb(proc.pid, "VmRSS")
        t0 = time.monotonic()
        asyncio.run(run(port, seed))
        elapsed = time.monotonic() - t0
        deadline = time.monotonic() + SETTLE_LIMIT
        while fd_count(proc.pid) > base_fds and time.monotonic() < deadline:
            time.sleep(0.2)
        fds = fd_count(proc.pid)
        rss = proc_status_kb(proc.pid, "VmRSS")
        peak = proc_status_kb(proc.pid, "VmHWM")
        answers = request_once(port)
        print(f"chaos: seed {seed}, {CONNECTIONS} connections in "
              f"{elapsed:.1f} s: " +
              ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        print(f"chaos: good requests answered 200: {stats['good_requests']},"
              f" failed: {stats['good_failures']}")
        print(f"chaos: fds {base_fds} -> {fds}; RSS {base_rss} kB -> {rss} kB"
              f" (peak {peak} kB, margin {RSS_MARGIN_KB} kB)")
        checks = [
            (stats["good_failures"] == 0,
             f"well-behaved requests failed: {failures[:5]}"),
            (stats["good_requests"] > 0, "no well-behaved request ran"),
            (answers, "hellod does not answer after the chaos"),
            (fds == base_fds, f"descriptors {fds}, baseline {base_fds}"),
            (rss - base_rss <= RSS_MARGIN_KB,
             f"RSS {rss} kB, baseline {base_rss} kB"),
        ]
        for good_check, what in checks:
            if not good_check:
                print(f"chaos: FAIL: {what}")
                ok = False
        n_failed += sum(1 for good_check, _ in checks if not good_check)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = -1
        tail = proc.stderr.read().decode()
        print(tail.strip().splitlines()[-1] if tail.strip() else "")
        if status != 0:
            print(f"chaos: FAIL: hellod exited {status}")
            ok = False
            n_failed += 1
    print("chaos: PASS" if ok else "chaos: FAILED")
    # The plain closing line CI reads: checks passed and failed.
    print(f"chaos: {n_checks - n_failed} passed, {n_failed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
