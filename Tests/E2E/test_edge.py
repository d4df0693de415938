"""The HTTP edge (`--http-port`) through the real binary.

What runs now: the edge is off by default; the dashboard, API and webhooks on the edge under
`--dashboard-domain` (any case, with a port), with `--public-url` following it; an unknown host
gets a small 404 page naming no app, with a request id; a malformed request an HTML 400 page.

The edge in front of real apps (routing by their domains, headers, framing both ways,
502/503/504, 413, the keep-alive pool, swaps at request boundaries under load, pipelining,
WebSocket) is test_edge_apps.py; Tests/EdgeTests/HTTPEdgeTests.swift covers the same over loopback
without Docker.
"""

from __future__ import annotations

import pytest

from conftest import API_TOKEN, HOST, RawConnection, start_server
from loopback import free_port

DASHBOARD = "slipway.edge.test"


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    work = tmp_path_factory.mktemp("edge")
    port = free_port()
    server = start_server(work, extra_args=["--http-port", str(port), "--dashboard-domain", DASHBOARD.upper(),
                                            "--app-ports", "12990-12999"])
    try:
        yield server, port
    finally:
        server.assert_clean_stop()


def request(port: int, host: str, path: str = "/", extra: str = "") -> "RawResponse":
    with RawConnection(port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
        return c.read_response()


def test_the_edge_is_off_unless_asked_for(slipway):
    # The default server opens no edge port: only its own.
    assert "HTTP edge listening" not in slipway.stderr_text()


def test_the_dashboard_api_and_health_answer_on_the_edge_under_their_name(edge):
    server, port = edge
    assert f"HTTP edge listening on http://{HOST}:{port} (the dashboard at {DASHBOARD})" in server.stderr_text()
    for host in [DASHBOARD, f"{DASHBOARD}:{port}", "Slipway.Edge.TEST", f"{DASHBOARD}."]:
        health = request(port, host, "/healthz")
        assert health.status == 200, (host, health.raw)
        assert health.body == b"ok"
    apps = request(port, DASHBOARD, "/api/apps", extra=f"Authorization: Bearer {API_TOKEN}\r\n")
    assert apps.status == 200, apps.raw
    assert apps.json() == []
    login = request(port, f"{DASHBOARD}:{port}", "/login")
    assert login.status == 200, login.raw


def test_an_unknown_host_gets_a_small_page_naming_no_app(edge):
    _, port = edge
    for host in ["nobody.test", "NOBODY.test:8080", HOST, f"{HOST}:{port}"]:
        response = request(port, host, "/secret/path")
        assert response.status == 404, (host, response.raw)
        assert response.header("Content-Type").startswith("text/html")
        assert b"No app" in response.body and b"secret" not in response.body
        assert len(response.header("X-Request-Id") or "") == 32
    kept = request(port, "nobody.test", extra="X-Request-Id: trace-42\r\n")
    assert kept.header("X-Request-Id") == "trace-42"


def test_a_malformed_request_gets_an_html_error_and_the_connection_closes(edge):
    _, port = edge
    with RawConnection(port) as c:
        c.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        response = c.read_response()
        assert response.status == 400, response.raw
        assert response.header("Content-Type").startswith("text/html")
        c.assert_closed_by_server()


def test_the_dashboard_domain_needs_the_edge(tmp_path):
    from conftest import run_cli
    result = run_cli("serve", "--dashboard-domain", DASHBOARD, "--data-dir", str(tmp_path / "data"))
    assert result.returncode != 0
    assert "--dashboard-domain" in result.stderr and "--http-port" in result.stderr
