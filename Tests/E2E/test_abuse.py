"""Abuse of the HTTP server: thousands of malformed requests must leak no descriptor or thread,
and must each get an error status or a close, never a hang."""

from __future__ import annotations

import os
import random
import socket
import threading
import time

from conftest import HOST, wait_until

VALID = [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /hooks/github/nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        op = rng.randrange(5)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1:
            b.insert(rng.randrange(len(b) + 1), rng.choice(b"\r\n :;,\x00\xff0"))
        elif op == 2 and b:
            del b[rng.randrange(len(b))]
        elif op == 3:
            b[rng.randrange(len(b) + 1):rng.randrange(len(b) + 1)] = rng.choice([b"\r\n\r\n", b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n", b"zz\r\n"])
        else:
            del b[rng.randrange(len(b) + 1):]
    return bytes(b)


def counts(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def test_ten_thousand_malformed_requests_leak_nothing(slipway):
    pid = slipway.proc.pid
    # Warm up once so lazily created threads (dispatch, supervisor) are counted in the baseline.
    assert slipway.request("GET", "/healthz").status == 200
    time.sleep(0.2)
    base_fds, base_threads = counts(pid)
    rng = random.Random(20261126)
    inputs = [mutate(rng, rng.choice(VALID)) for _ in range(10_000)]
    answered = {"status": 0, "closed": 0}
    lock = threading.Lock()

    def worker(chunk):
        for data in chunk:
            with socket.create_connection((HOST, slipway.port), timeout=5) as s:
                s.sendall(data)
                # Half-close: the server sees the end of what we send and must answer or close.
                s.shutdown(socket.SHUT_WR)
                reply = b""
                while True:
                    part = s.recv(65536)
                    if not part:
                        break
                    reply += part
            with lock:
                if reply.startswith(b"HTTP/1.1 "):
                    answered["status"] += 1
                    code = int(reply[9:12])
                    assert 200 <= code < 600
                else:
                    assert reply == b"", reply[:200]
                    answered["closed"] += 1

    threads = [threading.Thread(target=worker, args=(inputs[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sum(answered.values()) == 10_000, answered
    assert answered["status"] > 1000, answered

    # Connection threads end and descriptors close once every client is gone.
    def settled():
        fds, tasks = counts(pid)
        return fds <= base_fds + 2 and tasks <= base_threads + 2
    wait_until(settled, 15, f"fds/threads back to {base_fds}/{base_threads} (now {counts(pid)})", interval=0.1)
    assert slipway.request("GET", "/healthz").status == 200


def test_slowloris_connections_do_not_delay_a_normal_request(slipway):
    """500 connections sending a header byte at a time; a normal request is still answered at once."""
    socks = []
    try:
        for i in range(500):
            s = socket.create_connection((HOST, slipway.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
            socks.append(s)
        for s in socks[::5]:
            s.sendall(b"a")
        started = time.monotonic()
        assert slipway.request("GET", "/healthz", timeout=5).status == 200
        assert time.monotonic() - started < 2.0
    finally:
        for s in socks:
            s.close()


def test_waiting_clients_hold_no_thread(slipway):
    """Idle keep-alive clients and unfinished heads wait in the server's epoll set: 300 of them
    add no thread, and a request on each kept-alive one is still answered."""
    pid = slipway.proc.pid
    assert slipway.request("GET", "/healthz").status == 200
    time.sleep(0.2)
    _, base_threads = counts(pid)
    socks = []
    try:
        for i in range(300):
            s = socket.create_connection((HOST, slipway.port), timeout=5)
            socks.append(s)
            if i % 2 == 0:
                # A served request, then the connection stays open, idle.
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
            else:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Unfinished: ")
        wait_until(lambda: slipway.request("GET", "/healthz").status == 200, 5, "a normal request answered")
        _, threads = counts(pid)
        assert threads <= base_threads + 2, f"{threads} threads with 300 waiting clients (baseline {base_threads})"
        for s in socks[::2][:50]:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        for s in socks:
            s.close()
