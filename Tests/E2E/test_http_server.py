"""End-to-end tests of Slipway's HTTP/1.1 server, its limits and its CLI.

Each test talks to a real `slipway serve` (the `slipway` fixture) over
loopback. Requests that must be byte-exact go through RawConnection.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import (
    API_TOKEN,
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    REPO_ROOT,
    RawConnection,
    RawResponse,
    assert_json_error,
    request_bytes,
    run_cli,
    start_server,
)

AUTH = ("Authorization", f"Bearer {API_TOKEN}")
JSON = ("Content-Type", "application/json")
BOGUS_BODY = b'{"bogus_field": 1}'


def healthz(version: str = "HTTP/1.1", extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    return request_bytes("GET", "/healthz", headers=extra, version=version)


def assert_rejected_and_closed(conn: RawConnection, status: int, timeout: float = 5.0) -> RawResponse:
    """The next response has `status` and `Connection: close`, and then the server closes."""
    resp = conn.read_response(timeout=timeout)
    assert resp.status == status, f"expected {status}, got {resp.status} {resp.reason}: {resp.body[:200]!r}"
    assert resp.says_close, f"{status} without Connection: close; headers: {resp.headers}"
    conn.assert_closed_by_server()
    return resp


# --- Routing basics ------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, status, body",
    [
        ("GET", "/healthz", 200, b"ok"),
        ("GET", "/nope", 404, None),
    ],
)
def test_simple_routes(slipway, method, path, status, body):
    resp = slipway.request(method, path)
    assert resp.status == status
    if body is not None:
        assert resp.body == body


def test_head_healthz_has_length_but_no_body(slipway):
    with slipway.connect() as conn:
        conn.send(request_bytes("HEAD", "/healthz"))
        resp = conn.read_response(head=True)
        assert resp.status == 200
        assert resp.header("content-length") == "2"
        # A body sent after the HEAD response would be parsed as the start
        # of the next response and break it.
        conn.send(healthz())
        follow_up = conn.read_response()
        assert (follow_up.status, follow_up.body) == (200, b"ok")


def test_post_healthz_is_405_with_allow(slipway):
    with slipway.connect() as conn:
        conn.send(request_bytes("POST", "/healthz", headers=[("Content-Length", "0")]))
        resp = conn.read_response()
    assert resp.status == 405
    assert {"get", "head"} <= resp.header_tokens("allow"), f"Allow: {resp.header('allow')!r}"


# --- Connection management ------------------------------------------------------------


def test_keep_alive_serves_two_requests_on_one_connection(slipway):
    with slipway.connect() as conn:
        for _ in range(2):
            conn.send(healthz())
            resp = conn.read_response()
            assert (resp.status, resp.body) == (200, b"ok")
            assert not resp.says_close


def test_http10_without_keep_alive_is_closed_after_response(slipway):
    with slipway.connect() as conn:
        conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        resp = conn.read_response()
        assert (resp.status, resp.body) == (200, b"ok")
        conn.assert_closed_by_server()


def test_connection_close_on_http11_is_honoured(slipway):
    with slipway.connect() as conn:
        conn.send(healthz(extra=(("Connection", "close"),)))
        resp = conn.read_response()
        assert (resp.status, resp.body) == (200, b"ok")
        assert resp.says_close
        conn.assert_closed_by_server()


def test_pipelined_requests_are_answered_in_order(slipway):
    with slipway.connect() as conn:
        conn.send(healthz() * 3)  # one sendall: the server sees them back to back
        for i in range(3):
            resp = conn.read_response()
            assert (resp.status, resp.body) == (200, b"ok"), f"response {i}"


def test_pipelined_responses_keep_request_order(slipway):
    # Distinct responses, so a reordering would show.
    with slipway.connect() as conn:
        conn.send(healthz() + request_bytes("GET", "/nope") + request_bytes("HEAD", "/healthz"))
        first = conn.read_response()
        second = conn.read_response()
        third = conn.read_response(head=True)
    assert (first.status, first.body) == (200, b"ok")
    assert second.status == 404
    assert (third.status, third.body) == (200, b"")


# --- Size and time limits ------------------------------------------------------------


def many_headers(count: int, line_length: int) -> list[tuple[str, str]]:
    """`count` headers whose lines ("Name: value") are `line_length` bytes each."""
    headers = []
    for i in range(count):
        name = f"X-Filler-{i:03d}"
        headers.append((name, "v" * (line_length - len(name) - 2)))
    return headers


@pytest.mark.parametrize(
    "request_data, status",
    [
        pytest.param(request_bytes("GET", "/" + "a" * 9000), 414, id="request-line-over-8KiB"),
        pytest.param(request_bytes("GET", "/healthz", headers=[("X-Long", "a" * 9000)]), 431, id="header-line-over-8KiB"),
        pytest.param(request_bytes("GET", "/healthz", headers=many_headers(100, 1000)), 431, id="headers-over-64KiB"),
    ],
)
def test_oversized_request_head_is_rejected(slipway, request_data, status):
    with slipway.connect() as conn:
        conn.send(request_data)
        assert_rejected_and_closed(conn, status)


def test_oversized_body_is_rejected_before_it_is_sent(slipway):
    with slipway.connect() as conn:
        conn.send(request_bytes("POST", "/api/apps", headers=[AUTH, JSON, ("Content-Length", "2000000")]))
        # No body follows: a 408 after the body timeout would mean the server
        # waited for a body it should have refused from the headers alone.
        assert_rejected_and_closed(conn, 413)


def test_slow_headers_get_408(slipway):
    with slipway.connect() as conn:
        started = time.monotonic()
        conn.send(b"GET /healthz HTTP/1.1\r\n")
        assert_rejected_and_closed(conn, 408, timeout=HEADER_TIMEOUT_S + 5)
        elapsed = time.monotonic() - started
    assert HEADER_TIMEOUT_S * 0.75 <= elapsed <= HEADER_TIMEOUT_S + 3, f"408 after {elapsed:.2f}s"


def test_slow_body_gets_408(slipway):
    with slipway.connect() as conn:
        started = time.monotonic()
        conn.send(request_bytes("POST", "/api/apps", headers=[AUTH, JSON, ("Content-Length", "100")], body=b"{" * 10))
        assert_rejected_and_closed(conn, 408, timeout=BODY_TIMEOUT_S + 5)
        elapsed = time.monotonic() - started
    assert BODY_TIMEOUT_S * 0.75 <= elapsed <= BODY_TIMEOUT_S + 3, f"408 after {elapsed:.2f}s"


def test_slow_body_under_api_gets_a_json_408(slipway):
    with slipway.connect() as conn:
        conn.send(request_bytes("POST", "/api/apps", headers=[AUTH, JSON, ("Content-Length", "100")], body=b"{"))
        resp = assert_rejected_and_closed(conn, 408, timeout=BODY_TIMEOUT_S + 5)
    error = assert_json_error(resp, 408)
    assert error == {"code": "request_timeout", "message": "request body not received in time"}, error


# docs/API.md promises JSON for every error under /api/ and /hooks/ once the request line has
# arrived, errors found while the head is still being read among them (the connection reads the
# path from the request line it has).
@pytest.mark.parametrize("request_data, status, code, message", [
    pytest.param(b"GET /api/apps HTTP/1.1\r\nHost: localhost\r\n", 408, "request_timeout",
                 "request headers not received in time", id="header-timeout-api"),
    pytest.param(b"POST /hooks/github/some-app HTTP/1.1\r\nHost: localhost\r\n", 408, "request_timeout",
                 "request headers not received in time", id="header-timeout-hooks"),
    pytest.param(request_bytes("GET", "/api/apps", headers=[("X-Long", "a" * 9000)]), 431, "headers_too_large",
                 "request header line too large", id="header-line-over-8KiB-api"),
    pytest.param(b"GET /api/apps HTTP/1.1\r\n\r\n", 400, "bad_request", "missing Host header", id="no-host-api"),
])
def test_errors_in_the_head_under_api_and_hooks_are_json(slipway, request_data, status, code, message):
    with slipway.connect() as conn:
        conn.send(request_data)
        resp = assert_rejected_and_closed(conn, status, timeout=HEADER_TIMEOUT_S + 5)
    error = assert_json_error(resp, status)
    assert error == {"code": code, "message": message}, error


# --- Malformed requests ---------------------------------------------------------------

HOST = b"Host: localhost\r\n"
POST_APPS = b"POST /api/apps HTTP/1.1\r\n" + HOST + f"Authorization: Bearer {API_TOKEN}\r\n".encode() + b"Content-Type: application/json\r\n"

BAD_REQUESTS = [
    pytest.param(b"GARBAGE\r\n\r\n", id="request-line-one-word"),
    pytest.param(b"GET /healthz\r\n\r\n", id="request-line-no-version"),
    pytest.param(b"GET  /healthz HTTP/1.1\r\n" + HOST + b"\r\n", id="request-line-double-space"),
    pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + b"NoColonHere\r\n\r\n", id="header-without-colon"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost : localhost\r\n\r\n", id="space-before-colon"),
    pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-Bad(Name: 1\r\n\r\n", id="header-name-paren"),
    pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-Bad@Name: 1\r\n\r\n", id="header-name-at"),
    pytest.param(b"GET /healthz HTTP/1.1\r\n\r\n", id="http11-without-host"),
    pytest.param(POST_APPS + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", id="content-length-and-chunked"),
    pytest.param(POST_APPS + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", id="duplicate-content-length"),
    pytest.param(POST_APPS + b"Content-Length: abc\r\n\r\n", id="non-numeric-content-length"),
    pytest.param(POST_APPS + b"Content-Length: -1\r\n\r\n", id="negative-content-length"),
]


@pytest.mark.parametrize("request_data", BAD_REQUESTS)
def test_malformed_request_is_400_and_closed(slipway, request_data):
    with slipway.connect() as conn:
        conn.send(request_data)
        assert_rejected_and_closed(conn, 400)


@pytest.mark.parametrize(
    "request_data, status",
    [
        pytest.param(POST_APPS + b"Transfer-Encoding: gzip\r\n\r\n", 501, id="unknown-transfer-coding"),
        pytest.param(b"GET /healthz HTTP/2.0\r\n" + HOST + b"\r\n", 505, id="http2.0"),
        pytest.param(b"GET /healthz HTTP/3.0\r\n" + HOST + b"\r\n", 505, id="http3.0"),
    ],
)
def test_unsupported_protocol_features(slipway, request_data, status):
    with slipway.connect() as conn:
        conn.send(request_data)
        resp = conn.read_response()
    assert resp.status == status


MARKER = b"ECHOMARKER1234"


@pytest.mark.parametrize(
    "request_data",
    [
        pytest.param(b"GET /" + MARKER + b"\r\n\r\n", id="path-in-bad-request-line"),
        pytest.param(b"GET /healthz HTTP/" + MARKER + b"\r\n" + HOST + b"\r\n", id="version"),
        pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + MARKER + b"\r\n\r\n", id="header-without-colon"),
        pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + MARKER + b"(: 1\r\n\r\n", id="bad-header-name"),
        pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-A : " + MARKER + b"\r\n\r\n", id="space-before-colon"),
        pytest.param(POST_APPS + b"Content-Length: " + MARKER + b"\r\n\r\n", id="content-length"),
        pytest.param(POST_APPS + b"Transfer-Encoding: " + MARKER + b"\r\n\r\n", id="transfer-coding"),
        pytest.param(b"GET /" + MARKER + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", id="long-request-line"),
        pytest.param(b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-Long: " + MARKER + b"a" * 9000 + b"\r\n\r\n", id="long-header"),
    ],
)
def test_error_responses_do_not_echo_request_bytes(slipway, request_data):
    with slipway.connect() as conn:
        conn.send(request_data)
        resp = conn.read_response()
    assert resp.status >= 400
    assert MARKER.lower() not in resp.raw.lower(), f"request bytes echoed: {resp.raw[:500]!r}"


# --- Request bodies ------------------------------------------------------------------


def chunked(pieces: list[bytes], extension_on: int = 1) -> bytes:
    """Chunked encoding of `pieces`, with a chunk extension on piece `extension_on`."""
    out = b""
    for i, piece in enumerate(pieces):
        ext = b";note=ignored" if i == extension_on else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_body_is_parsed_and_framing_survives_a_400(slipway, framing):
    if framing == "chunked":
        pieces = [BOGUS_BODY[:5], BOGUS_BODY[5:10], BOGUS_BODY[10:16], BOGUS_BODY[16:]]
        assert b"".join(pieces) == BOGUS_BODY
        request = request_bytes("POST", "/api/apps", headers=[AUTH, JSON, ("Transfer-Encoding", "chunked")],
                                body=chunked(pieces))
    else:
        request = request_bytes("POST", "/api/apps", headers=[AUTH, JSON, ("Content-Length", str(len(BOGUS_BODY)))],
                                body=BOGUS_BODY)
    with slipway.connect() as conn:
        conn.send(request)
        error = assert_json_error(conn.read_response(), 400)
        # The body was consumed exactly, so the next request parses cleanly.
        conn.send(healthz())
        follow_up = conn.read_response()
        assert (follow_up.status, follow_up.body) == (200, b"ok")
    # Checked last so that a wrong message does not hide a framing failure.
    assert "bogus_field" in error["message"], f"message does not name the unknown field: {error!r}"


def test_bad_chunk_size_is_400(slipway):
    with slipway.connect() as conn:
        conn.send(request_bytes("POST", "/api/apps", headers=[AUTH, JSON, ("Transfer-Encoding", "chunked")],
                                body=b"zz\r\n{}\r\n0\r\n\r\n"))
        # The body's end cannot be found any more, so the connection must go too.
        assert_rejected_and_closed(conn, 400)


def test_expect_100_continue(slipway):
    with slipway.connect() as conn:
        conn.send(request_bytes("POST", "/api/apps",
                                headers=[AUTH, JSON, ("Content-Length", str(len(BOGUS_BODY))), ("Expect", "100-continue")]))
        # The body is held back until the server asks for it.
        interim = conn.read_response(timeout=3)
        assert (interim.version, interim.status) == ("HTTP/1.1", 100)
        conn.send(BOGUS_BODY)
        final = conn.read_response()
    error = assert_json_error(final, 400)
    assert "bogus_field" in error["message"], f"message does not name the unknown field: {error!r}"


# --- API ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer wrong-token-0123456789abcdef", id="wrong-token"),
        pytest.param(f"Basic {API_TOKEN}", id="wrong-scheme"),
        pytest.param(API_TOKEN, id="no-scheme"),
    ],
)
def test_api_requires_token(slipway, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    assert_json_error(slipway.request("GET", "/api/apps", headers=headers), 401)


def test_api_lists_apps_with_token(slipway):
    resp = slipway.request("GET", "/api/apps", headers=slipway.auth_headers())
    assert resp.status == 200
    assert resp.headers.get("content-type", "").startswith("application/json")
    assert isinstance(resp.json(), list)


def test_unknown_api_path_is_json_404(slipway):
    assert_json_error(slipway.request("GET", "/api/nope", headers=slipway.auth_headers()), 404)


# --- Robustness ----------------------------------------------------------------------


def test_many_idle_and_trickling_connections_do_not_block_service(slipway):
    rng = random.Random(500)
    idle: list[socket.socket] = []
    try:
        for i in range(500):
            sock = socket.create_connection(("127.0.0.1", slipway.port), timeout=5)
            idle.append(sock)
            kind = i % 3
            if kind == 1:
                sock.sendall(b"GET /hea")  # a partial request line
            elif kind == 2:
                sock.sendall(b"G")  # the first byte of a trickle
        # Trickle one more byte on the third group: they are slow, not dead.
        for sock in idle[2::3]:
            sock.sendall(bytes([rng.choice(b"ET /")]))

        started = time.monotonic()
        resp = slipway.request("GET", "/healthz", timeout=2)
        elapsed = time.monotonic() - started
        assert (resp.status, resp.body) == (200, b"ok")
        assert elapsed <= 2, f"/healthz took {elapsed:.2f}s with 500 idle connections"
    finally:
        for sock in idle:
            sock.close()


def test_server_survives_random_garbage(slipway):
    rng = random.Random(20240601)
    # Valid-looking starts lead the garbage deeper into the parser.
    prefixes = [b"", b"GET / HTTP/1.1\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                b"POST /api/apps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"]
    conns = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", slipway.port), timeout=5)
            conns.append(sock)
            payload = rng.choice(prefixes) + rng.randbytes(rng.randint(1, 4096))
            try:
                sock.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may reject early and close; that is fine
    finally:
        for i, sock in enumerate(conns):
            if i % 2:
                # Abortive close (RST) on half of them: the server must cope with both.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    resp = slipway.request("GET", "/healthz")
    assert (resp.status, resp.body) == (200, b"ok")
    assert slipway.proc.poll() is None


def test_sigterm_shuts_down_cleanly(tmp_path):
    server = start_server(tmp_path)
    try:
        with server.connect() as conn:
            conn.send(healthz())
            assert conn.read_response().status == 200
            # The keep-alive connection is still open when the signal arrives.
            server.proc.send_signal(signal.SIGTERM)
            try:
                code = server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise AssertionError("server did not exit within 10s of SIGTERM") from None
            assert code == 0, f"exit code {code}; stderr:\n{server.stderr_text()[-2000:]}"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


# --- CLI -----------------------------------------------------------------------------


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+\.\d+", result.stdout + result.stderr), f"no version in {result.stdout!r}"


def test_help_mentions_data_dir():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert "--data-dir" in result.stdout + result.stderr


def test_help_lists_every_flag_of_the_readme():
    """README.md says `slipway --help` lists the same flags as its configuration table."""
    readme = (REPO_ROOT / "README.md").read_text()
    documented = re.findall(r"^\| `(--[a-z-]+)` \|", readme, flags=re.MULTILINE)
    assert documented, "no flags found in README.md's configuration table"
    result = run_cli("--help")
    listed = re.findall(r"^  (--[a-z-]+)", result.stdout, flags=re.MULTILINE)
    assert sorted(documented) == sorted(listed), (
        f"only in README.md: {sorted(set(documented) - set(listed))}; only in --help: {sorted(set(listed) - set(documented))}")


# The help column once was 28 characters wide and cut "--builder auto|buildkit|classic" (31)
# to "--builder auto|buildkit|clas", straight into the help text: "clasimage builder".
def test_help_shows_the_builder_values_whole():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    # Too long for the help column, the flag has a line of its own and its help follows on the next.
    lines = result.stdout.splitlines()
    index = next((i for i, l in enumerate(lines) if l.startswith("  --builder")), None)
    assert index is not None, result.stdout
    entry = "\n".join(lines[index:index + 2])
    assert re.fullmatch(r"  --builder auto\|buildkit\|classic\n {30}image builder \(default auto: .*\) \[SLIPWAY_BUILDER\]", entry), entry


@pytest.mark.parametrize(
    "args, named",
    [
        pytest.param(["serve", "--port", "notanumber"], "--port", id="port-not-a-number"),
        pytest.param(["serve", "--app-ports", "9000-8000"], "--app-ports", id="app-ports-reversed"),
        pytest.param(["serve", "--no-such-flag"], None, id="serve-unknown-flag"),
        pytest.param(["--no-such-flag"], None, id="top-level-unknown-flag"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, named):
    # A data dir of its own, so a wrongly accepted command writes nowhere that matters.
    result = run_cli(*args, "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2, f"exit {result.returncode}; stderr: {result.stderr!r}"
    assert result.stderr.strip(), "no message on stderr"
    if named:
        assert named in result.stderr


def test_missing_or_broken_templates_stop_start_up(tmp_path):
    """Templates are parsed at start-up: a problem ends the start, never a later request."""
    broken = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "Templates", broken)
    (broken / "app.html").write_text((broken / "app.html").read_text() + "{{#if unclosed}}")
    cases = [(tmp_path / "nowhere", "not found"), (broken, "never closed")]
    for directory, says in cases:
        result = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path / "data"), "--templates-dir", str(directory))
        assert result.returncode == 1, f"exit {result.returncode} with {directory}; stderr: {result.stderr!r}"
        assert says in result.stderr, result.stderr


# --- First start-up ------------------------------------------------------------------


def test_first_start_writes_generated_secrets_once(tmp_path):
    """The secrets themselves never reach the log: test_security_web.py checks that and the file's mode."""
    data_dir = tmp_path / "data"
    credentials = data_dir / "initial-credentials"

    first = start_server(tmp_path, data_dir=data_dir, with_secrets=False, log_name="first")
    try:
        assert credentials.is_file(), f"no {credentials}; stderr:\n{first.stderr_text()}"
    finally:
        first.assert_clean_stop()
    mentions = [l for l in first.stderr_text().splitlines() if str(credentials) in l]
    assert len(mentions) == 1, f"the credentials file is announced {len(mentions)} times:\n{first.stderr_text()}"

    db = data_dir / "slipway.db"
    assert db.is_file(), f"no {db}; data dir holds {sorted(p.name for p in data_dir.iterdir())}"
    sqlite3 = shutil.which("sqlite3")
    assert sqlite3, "the sqlite3 command is needed (scripts/test-env.sh installs it)"
    mode = subprocess.run([sqlite3, str(db), "PRAGMA journal_mode"], capture_output=True, text=True, timeout=10)
    assert mode.stdout.strip() == "wal", f"journal_mode {mode.stdout!r} {mode.stderr!r}"

    # The written token is the stored one: it opens the API after a restart.
    written = dict(l.split("=", 1) for l in credentials.read_text().splitlines() if l and not l.startswith("#"))
    second = start_server(tmp_path, data_dir=data_dir, with_secrets=False, log_name="second")
    try:
        resp = second.request("GET", "/api/apps", headers={"Authorization": f"Bearer {written['SLIPWAY_API_TOKEN']}"})
        assert resp.status == 200, f"written API token refused: {resp.status} {resp.body[:200]!r}"
    finally:
        second.assert_clean_stop()  # after exit, everything it will ever print is in the log
    assert "initial-credentials" not in second.stderr_text(), f"the second start announced credentials again:\n{second.stderr_text()}"
