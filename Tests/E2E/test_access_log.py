"""The per-app access log's API and page, through the real binary: GET /api/apps/{name}/requests,
`traffic` in the app JSON, the "Recent requests" card, and the access directory in the data dir.

The HTTP edge (--http-port) is what fills the ring and the counters; no request reaches these
servers' apps, so these tests pin the exact empty answers and the shape, the 404, the
authentication and the limits. A request through the edge to a deployed app, recorded with its
deployment, is checked in test_domains.py (the deployment under --app-ports off); what each kind of
request records (2xx, 413, 502, 503, WebSocket) in Tests/EdgeTests/EdgeAccessLogTests.swift.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import urllib.parse
from pathlib import Path

import pytest

from conftest import ADMIN_PASSWORD, API_TOKEN, SERVE_FLAGS, STARTUP_TIMEOUT_S, SlipwayServer, require_binary, server_env
from deploykit import Api, free_port_range, server_flags

# Apart from the other modules' ranges (see test_api_docs.py and test_security_*.py).
APP_PORT_RANGE = (4000, 4999)

ZERO_TRAFFIC = {
    "requests": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
    "requests_total": 0,
    "bytes_in": 0,
    "bytes_out": 0,
    "upstream_errors": 0,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("accesslog")
    low, high = free_port_range(4, APP_PORT_RANGE)
    started = SlipwayServer.start(
        require_binary(),
        data_dir=work / "data",
        flags=[*SERVE_FLAGS, *server_flags(low, high)],
        env=server_env(),
        cwd=work,
        stdout_path=work / "server.log",
        stderr_path=work / "server.log",
        startup_timeout=STARTUP_TIMEOUT_S,
    )
    try:
        yield started
    finally:
        if started.running:
            started.assert_clean_stop()


@pytest.fixture
def app(server):
    """An app with no deployment (nothing is cloned or built): the edge has never served it."""
    api = Api(server)
    name = f"access-{secrets.token_hex(3)}"
    api.create(name, "https://example.com/o/web.git", deploy=False)
    yield name
    api.delete(name)


def test_no_requests_yet_is_an_empty_array(server, app):
    resp = Api(server).request("GET", f"/api/apps/{app}/requests")
    assert resp.status == 200, resp.body[:300]
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == []
    assert Api(server).expect(200, "GET", f"/api/apps/{app}/requests?limit=1") == []
    assert Api(server).expect(200, "GET", f"/api/apps/{app}/requests?limit=200") == []


def test_app_json_has_zero_traffic_in_every_class(server, app):
    api = Api(server)
    shown = api.app(app)
    assert shown["traffic"] == ZERO_TRAFFIC
    # In the documented place: right after deploy_key.
    keys = list(shown)
    assert keys[keys.index("deploy_key") + 1] == "traffic", keys
    assert list(shown["traffic"]) == list(ZERO_TRAFFIC)
    assert list(shown["traffic"]["requests"]) == ["1xx", "2xx", "3xx", "4xx", "5xx"]
    listed = [a for a in api.expect(200, "GET", "/api/apps") if a["name"] == app]
    assert [a["traffic"] for a in listed] == [ZERO_TRAFFIC]


def test_unknown_app_is_404(server):
    resp = Api(server).request("GET", "/api/apps/no-such-app/requests")
    assert resp.status == 404
    assert resp.json()["error"] == {"code": "not_found", "message": "no app named no-such-app"}


@pytest.mark.parametrize("query, message", [
    ("limit=0", "limit must be between 1 and 200"),
    ("limit=201", "limit must be between 1 and 200"),
    ("limit=ten", "limit must be between 1 and 200"),
])
def test_limit_out_of_range_is_400(server, app, query, message):
    resp = Api(server).request("GET", f"/api/apps/{app}/requests?{query}")
    assert resp.status == 400, resp.body[:300]
    assert resp.json()["error"] == {"code": "invalid_limit", "message": message}


def test_requests_need_the_token_and_a_known_host(server, app):
    path = f"/api/apps/{app}/requests"
    missing = server.request("GET", path)
    assert missing.status == 401
    assert missing.headers.get("www-authenticate") == "Bearer"
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = server.request("GET", path, headers={"Authorization": "Bearer not-the-token-0123456789"})
    assert wrong.status == 401
    # Before the token: another host name is refused whatever it carries.
    other = server.request("GET", path, headers={"Authorization": f"Bearer {API_TOKEN}", "Host": "evil.example"})
    assert other.status == 421
    # Nothing about the app leaks in a refusal.
    for resp in (missing, wrong, other):
        assert app not in resp.body.decode()


def test_app_page_shows_the_empty_recent_requests_card(server, app):
    login = server.request("POST", "/login", headers={"Content-Type": "application/x-www-form-urlencoded"},
                           body=urllib.parse.urlencode({"password": ADMIN_PASSWORD}).encode(), timeout=20.0)
    assert login.status == 303, login.status
    cookie = re.match(r"slipway_session=([^;]+)", login.headers.get("set-cookie", "")).group(1)
    resp = server.request("GET", f"/apps/{app}", headers={"Cookie": f"slipway_session={cookie}"}, timeout=20.0)
    assert resp.status == 200
    html = resp.body.decode()
    assert '<section class="card" id="requests">' in html
    assert "<h2>Recent requests</h2>" in html
    assert '<p class="muted" id="traffic">No requests through the HTTP edge since the server started.</p>' in html
    assert 'id="recent-requests"' not in html, "no table without requests"


def test_access_directory_is_private(server):
    access = Path(server.data_dir) / "access"
    assert access.is_dir()
    assert stat.S_IMODE(os.stat(access).st_mode) == 0o700
    # No request went through the edge, so no app has a file yet.
    assert list(access.iterdir()) == []


def test_deleted_app_answers_404(server):
    api = Api(server)
    name = f"access-{secrets.token_hex(3)}"
    api.create(name, "https://example.com/o/web.git", deploy=False)
    assert api.expect(200, "GET", f"/api/apps/{name}/requests") == []
    api.delete(name)
    assert api.request("GET", f"/api/apps/{name}/requests").status == 404
