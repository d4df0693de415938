"""Loopback ports for servers started by the tests and by scripts/bench (standard library only)."""

from __future__ import annotations

import random
import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now.

    Another process could take it before the server binds it; callers that start a server
    retry with a new port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a listener could bind `port` on every address (as a server with SO_REUSEADDR would)."""
    for host in ("0.0.0.0", HOST):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                s.listen(1)
            except OSError:
                return False
    return True


def free_port_range(count: int, within: tuple[int, int], error: type[Exception] = AssertionError) -> tuple[int, int]:
    """`count` consecutive bindable ports inside `within`, from a random start; raises `error`
    when 300 tries find none. Each test module passes a range of its own, so modules never
    compete for app ports. Ranges stay below the kernel's ephemeral ports (32768 and up): the
    load tests' client sockets take thousands of those, which left no 16 free in a row there."""
    low, high = within
    rng = random.SystemRandom()
    for _ in range(300):
        start = rng.randrange(low, high - count + 2)
        if all(port_is_free(p) for p in range(start, start + count)):
            return start, start + count - 1
    raise error(f"no {count} consecutive free ports in {low}-{high}")
