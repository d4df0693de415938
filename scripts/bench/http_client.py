"""Plain HTTP to a port on loopback: one request on a fresh connection, and waiting for an app's
port to serve a given body."""

from __future__ import annotations

import http.client
import time
from typing import Any, Optional

from .harness import BenchError
from .settings import HOST


def http_request(port: int, method: str, path: str, headers: Optional[dict] = None, body: Optional[bytes] = None,
                 timeout: float = 10.0) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def fetch_body(port: int, path: str = "/", timeout: float = 3.0) -> tuple[int, str] | str:
    try:
        status, _, body = http_request(port, "GET", path, {"Connection": "close"}, timeout=timeout)
        return status, body.decode(errors="replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"


def wait_body(port: int, body: str, timeout: float = 60.0, interval: float = 0.01) -> None:
    """Polls the port with a new connection each time until it answers 200 with `body`."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        seen = fetch_body(port)
        if seen == (200, body):
            return
        time.sleep(interval)
    raise BenchError(f"port {port} did not answer 200 {body!r} within {timeout:.0f}s; last: {seen!r}")
