"""Shared fixtures and helpers for Slipway's end-to-end tests.

The tests drive the real `slipway` binary over real sockets. Many of them
need byte-exact control over what goes on the wire (malformed requests,
pipelining, slow senders), which http.client cannot give, so a small raw
HTTP/1.1 client lives here next to the server fixture.

Everything waits with a deadline, never a fixed sleep: a test either sees
what it expects in time or fails with a message saying what it was waiting for.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import pytest

from slipway_process import SlipwayProcess, clean_env, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
# `make test` sets SLIPWAY_BIN to the binary its SWIFT_BUILD_FLAGS built.
SLIPWAY_BIN = Path(os.environ.get("SLIPWAY_BIN", REPO_ROOT / ".build" / "debug" / "slipway"))

HOST = "127.0.0.1"
API_TOKEN = "test-token-0123456789abcdef"
ADMIN_PASSWORD = "test-admin-password"

# Short timeouts keep the timeout tests fast; the limit is high enough for
# the many-connections test.
HEADER_TIMEOUT_S = 1
IDLE_TIMEOUT_S = 2
BODY_TIMEOUT_S = 1
# Debian's docker.io client (20.10, installed by scripts/test-env.sh) builds with BuildKit by
# itself; a newer client earlier in PATH needs the buildx plugin for that, which Debian does not
# package, and would leave the servers on the classic builder.
DEBIAN_DOCKER = Path("/usr/bin/docker")
SERVE_FLAGS = [
    "--header-timeout", str(HEADER_TIMEOUT_S),
    "--idle-timeout", str(IDLE_TIMEOUT_S),
    "--body-timeout", str(BODY_TIMEOUT_S),
    "--max-connections", "1200",
]

STARTUP_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 10.0
# How long a test waits for any single response it expects.
RESPONSE_TIMEOUT_S = 5.0


# --- Test order ----------------------------------------------------------------

FAULTS_MARKER = "faults"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{FAULTS_MARKER}: fault injection that stops or restarts the shared Docker engine; "
        "runs after every other test (see pytest_collection_modifyitems)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Moves the tests marked `faults` (test_faults.py) after all the others, keeping the order
    within each group.

    They stop and restart the Docker engine every other test deploys on. Run last, the restart
    finds no module's server with apps running, and an engine that comes back slowly, or not at
    all, can fail only the fault tests, never a test that merely came after them.
    """
    faults = [item for item in items if item.get_closest_marker(FAULTS_MARKER)]
    if faults:
        items[:] = [item for item in items if not item.get_closest_marker(FAULTS_MARKER)] + faults


# --- Waiting -------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    """Polls `predicate` until it is true; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def poll(probe: Callable[[], tuple[bool, Any]], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Calls `probe` until it says done; returns its value. Fails naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        done, value = probe()
        if done:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {value!r}")
        time.sleep(interval)


# --- Processes ---------------------------------------------------------------------


def require_binary() -> Path:
    if not SLIPWAY_BIN.is_file():
        pytest.fail(f"slipway binary not found at {SLIPWAY_BIN}; build it with `swift build` first", pytrace=False)
    return SLIPWAY_BIN


def server_env(with_secrets: bool = True) -> dict[str, str]:
    """The environment for a server: ours without any SLIPWAY_* variable (slipway_process.clean_env),
    with Debian's docker client and with the secrets set or left out."""
    extra = {}
    if DEBIAN_DOCKER.exists():
        extra["SLIPWAY_DOCKER"] = str(DEBIAN_DOCKER)
    if with_secrets:
        extra["SLIPWAY_API_TOKEN"] = API_TOKEN
        extra["SLIPWAY_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    return clean_env(extra)


def run_cli(*args: str, timeout: float = 10.0, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs the binary to completion and captures its output as text.

    The timeout guards against a command that should have failed fast but
    started serving instead; subprocess.run kills the child when it expires.
    """
    return subprocess.run(
        [str(require_binary()), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else server_env(),
        cwd=REPO_ROOT,
    )


@dataclass
class SlipwayServer(SlipwayProcess):
    """A running `slipway serve` (slipway_process.py starts and stops it) with the tests' ways of
    talking to it."""

    token: str = API_TOKEN

    def connect(self, timeout: float = RESPONSE_TIMEOUT_S) -> "RawConnection":
        return RawConnection(self.port, host=self.host, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        headers: Optional[dict[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: float = RESPONSE_TIMEOUT_S,
        source: Optional[str] = None,
    ) -> "HttpResult":
        """One request on a fresh connection, through http.client; `source` is the loopback
        address to send it from (each address is a client of its own to the throttles). A Host in
        `headers` replaces the one http.client would send."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return HttpResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> int:
        """SIGTERM, then the exit code; kills the process and fails if it hangs."""
        ended = self.terminate(timeout)
        if ended.killed:
            raise AssertionError(
                f"server did not exit within {timeout:.0f}s of SIGTERM; stderr tail:\n{tail(self.stderr_text())}"
            )
        return ended.code

    def assert_clean_stop(self) -> None:
        code = self.stop()
        assert code == 0, f"server exited with {code} after SIGTERM; stderr tail:\n{tail(self.stderr_text())}"


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)


def start_server(
    work_dir: Path,
    *,
    data_dir: Optional[Path] = None,
    with_secrets: bool = True,
    extra_args: Iterable[str] = (),
    log_name: str = "server",
    env_extra: Optional[dict[str, str]] = None,
) -> SlipwayServer:
    """Starts `slipway serve` on a free loopback port with the tests' short timeouts (SERVE_FLAGS)
    and waits until /healthz answers 200; `env_extra` adds to its environment (a SLIPWAY_* secret).

    stderr and stdout go to files in `work_dir` (named after `log_name`, so
    several runs on one data dir keep separate logs).
    """
    return SlipwayServer.start(
        require_binary(),
        data_dir=data_dir or (work_dir / "data"),
        flags=[*SERVE_FLAGS, *extra_args],
        env=server_env(with_secrets) | (env_extra or {}),
        cwd=work_dir,
        stdout_path=work_dir / f"{log_name}.stdout.log",
        stderr_path=work_dir / f"{log_name}.stderr.log",
        startup_timeout=STARTUP_TIMEOUT_S,
    )


@pytest.fixture
def slipway(tmp_path: Path):
    """A running server with the test secrets set, stopped with SIGTERM afterwards.

    Teardown asserts a clean exit (code 0 within 10 s), so every test also
    checks that whatever it did leaves the server able to shut down.
    """
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.assert_clean_stop()
        else:
            raise AssertionError(
                f"server died during the test with {server.proc.returncode}; stderr tail:\n{tail(server.stderr_text())}"
            )


# --- Raw HTTP over sockets ---------------------------------------------------------


def parse_status_line(line: bytes) -> tuple[str, int, str]:
    """'HTTP/1.1 200 OK' -> ('HTTP/1.1', 200, 'OK'); fails on anything else."""
    text = line.decode("latin-1").rstrip("\r\n")
    parts = text.split(" ", 2)
    assert len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit() and len(parts[1]) == 3, (
        f"not an HTTP status line: {text!r}"
    )
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else ""


@dataclass
class RawResponse:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw: bytes = b""  # the response exactly as received

    def header(self, name: str) -> Optional[str]:
        """The value of `name` (case-insensitive); repeated headers are joined with ', '."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def header_tokens(self, name: str) -> set[str]:
        """Comma-separated tokens of a header, lower-cased: for Connection, Allow, ..."""
        value = self.header(name) or ""
        return {t.strip().lower() for t in value.split(",") if t.strip()}

    @property
    def says_close(self) -> bool:
        return "close" in self.header_tokens("connection")

    def json(self):
        return json.loads(self.body)


class ServerClosed(Exception):
    """The server closed the connection where a response was expected."""


class RawConnection:
    """A client socket that sends exact bytes and parses HTTP/1.1 responses."""

    def __init__(self, port: int, host: str = HOST, timeout: float = RESPONSE_TIMEOUT_S):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.closed_by_server = False

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes | str) -> None:
        """Sends all of `data`, unless the server has closed the connection.

        A server may answer and close before it has read everything (a 431
        for 100 KB of headers, say); the response is then still readable,
        so a failed send is left for the next read to reveal.
        """
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes into the buffer; False on EOF/reset. Fails at the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed waiting for data from the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("deadline passed waiting for data from the server") from None
        except ConnectionResetError:
            # A server that closes with unread request bytes makes the kernel
            # send RST; bytes that arrived before it were still read above.
            chunk = b""
        if not chunk:
            self.closed_by_server = True
            return False
        self.buf += chunk
        return True

    def _read_line(self, deadline: float) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ServerClosed(f"connection closed mid-line; buffered: {self.buf[:200]!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ServerClosed(f"connection closed after {len(self.buf)} of {n} body bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, head: bool = False, timeout: Optional[float] = None) -> RawResponse:
        """Reads one response, interim (1xx) ones included. `head`: the request was HEAD, so no body."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        if not self.buf and not self._fill(deadline):
            raise ServerClosed("connection closed before any response byte")
        status_line = self._read_line(deadline)
        version, status, reason = parse_status_line(status_line)
        raw = status_line + b"\r\n"
        headers: list[tuple[str, str]] = []
        while True:
            line = self._read_line(deadline)
            raw += line + b"\r\n"
            if line == b"":
                break
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep, f"malformed response header line: {line!r}"
            headers.append((name.strip(), value.strip()))
        resp = RawResponse(version, status, reason, headers)

        if head or status < 200 or status in (204, 304):
            pass
        elif "chunked" in resp.header_tokens("transfer-encoding"):
            resp.body = self._read_chunked(deadline)
        elif resp.header("content-length") is not None:
            resp.body = self._read_exact(int(resp.header("content-length")), deadline)
        else:
            # No framing: the body runs until the server closes.
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        resp.raw = raw + resp.body
        return resp

    def read_final_response(self, head: bool = False, timeout: Optional[float] = None) -> tuple[list[RawResponse], RawResponse]:
        """Skips interim 1xx responses; returns (interim, final)."""
        interim = []
        while True:
            resp = self.read_response(head=head, timeout=timeout)
            if resp.status >= 200:
                return interim, resp
            interim.append(resp)

    def _read_chunked(self, deadline: float) -> bytes:
        body = b""
        while True:
            size_line = self._read_line(deadline).split(b";", 1)[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self._read_line(deadline) != b"":  # trailers
                    pass
                return body
            body += self._read_exact(size, deadline)
            assert self._read_exact(2, deadline) == b"\r\n", "chunk not followed by CRLF"

    def read_until_close(self, timeout: Optional[float] = None) -> bytes:
        """Everything the server sends until it closes; fails if it keeps the connection open."""
        timeout = timeout if timeout is not None else self.timeout
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            raise AssertionError(
                f"server did not close the connection within {timeout:.1f}s; received: {self.buf[:200]!r}"
            ) from None
        data, self.buf = self.buf, b""
        return data

    def assert_closed_by_server(self, timeout: float = 3.0) -> None:
        """The server closes the connection (EOF or reset) and sends nothing more."""
        leftover = self.read_until_close(timeout)
        assert leftover == b"", f"unexpected bytes before close: {leftover[:200]!r}"


def send_raw(port: int, data: bytes | str, timeout: float = RESPONSE_TIMEOUT_S) -> bytes:
    """Sends `data` on a new connection; returns all bytes received until the server closes."""
    with RawConnection(port, timeout=timeout) as conn:
        conn.send(data)
        return conn.read_until_close(timeout)


def request_bytes(
    method: str,
    path: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    version: str = "HTTP/1.1",
    host: Optional[str] = "localhost",
) -> bytes:
    """A well-formed request, byte for byte; `host=None` leaves out Host."""
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_json_error(resp: RawResponse | HttpResult, status: int) -> dict:
    """The response has `status` and the API's error shape {"error": {"code", "message"}}; returns the inner object."""
    assert resp.status == status, f"expected {status}, got {resp.status}: {resp.body[:300]!r}"
    content_type = resp.header("content-type") if isinstance(resp, RawResponse) else resp.headers.get("content-type")
    assert content_type and content_type.lower().startswith("application/json"), f"Content-Type {content_type!r}"
    doc = resp.json()
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), f"not the error shape: {doc!r}"
    error = doc["error"]
    assert error.get("code") not in (None, ""), f"error without code: {doc!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"error without message: {doc!r}"
    return error
