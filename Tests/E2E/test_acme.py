"""Certificates that come by themselves: the real binary against a real ACME CA, offline.

Debian's `pebble` (an RFC 8555 test CA) and `pebble-challtestsrv` (its fake DNS) run on loopback
(pebblekit.py), validating HTTP-01 on Slipway's HTTP edge; the domain meant to fail resolves to
127.0.0.2, where nothing listens. Pebble refuses 5 % of good nonces on purpose (`badNonce`), which
the client must retry.

Cleaning up: pebble and the fake DNS are stopped at the end; the server runs with
`--container-label slipway.test=1` and the app's name starts with a prefix unique to this run.
"""

from __future__ import annotations

import secrets
import socket
import ssl
import threading
import urllib.parse
from pathlib import Path

import pytest

from conftest import ADMIN_PASSWORD, HOST, poll, start_server
from deploykit import Api, remove_docker_objects
from loopback import free_port
from pebblekit import CA, acme_server_flags, chromium_dom, curl_get, pebble_ca
from test_edge_apps import app_repo, compile_edgeapp, stop_server
from test_https_edge import https_request, parse, plain

DOMAIN = "acme-a.test"
FAILING = "acme-fail.test"
# The dashboard's own domain (`--dashboard-domain`): its certificate comes from ACME too.
DASHBOARD = "acme-dash.test"
# Added while the CA is down.
LATE = "acme-late.test"
# Slipway's first wait after a failed order (`--acme-retry-seconds`), short for the tests.
RETRY_S = 2
ISSUE_TIMEOUT_S = 120
# Pebble issues certificates valid this long, so the renewal (at a third left) comes 20 s in.
VALIDITY_S = 30


@pytest.fixture(scope="module")
def prefix():
    value = f"a{secrets.token_hex(3)}-"
    yield value
    problems = remove_docker_objects(value)
    assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def edge_ports():
    return free_port(), free_port()


@pytest.fixture(scope="module")
def ca(tmp_path_factory, edge_ports):
    """Pebble and its fake DNS, validating challenges against the module's edge ports; the
    failing domain's address (127.0.0.2) has nothing listening on them."""
    http_port, https_port = edge_ports
    with pebble_ca(tmp_path_factory.mktemp("pebble"), http_port, https_port, VALIDITY_S, {FAILING: "127.0.0.2"}) as authority:
        yield authority


@pytest.fixture(scope="module")
def server(tmp_path_factory, ca: CA, edge_ports, prefix):
    work = tmp_path_factory.mktemp("acme-server")
    http_port, https_port = edge_ports
    proc = start_server(work, extra_args=acme_server_flags(ca, http_port, https_port, RETRY_S, "--dashboard-domain", DASHBOARD))
    try:
        api = Api(proc)
        name = prefix + "acme"
        repo = app_repo(work / "repos" / name, compile_edgeapp(tmp_path_factory.mktemp("edgeapp-bin")), "acme-v1")
        created = api.create(name, repo.url, domains=[DOMAIN, FAILING])
        api.finish(created["deployment_id"], why="the first deployment of the ACME app")
        yield proc, api, name, work
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def pebble_root(ca: CA, tmp_path_factory) -> Path:
    return ca.issuing_root(tmp_path_factory.mktemp("pebble-root"))


def https_version(port: int, root: Path) -> bytes:
    """GET /version over a new TLS connection to the HTTPS edge, the chain verified against `root`."""
    context = ssl.create_default_context(cafile=str(root))
    with socket.create_connection((HOST, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as conn:
            conn.sendall(f"GET /version HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    return data


def certificates(api: Api, app: str) -> dict[str, dict]:
    return {c["domain"]: c for c in api.expect(200, "GET", f"/api/apps/{app}")["certificates"]}


def test_a_domain_gets_a_certificate_by_http_01_that_clients_verify(server, ca: CA, edge_ports, pebble_root: Path):
    proc, api, app, work = server
    http_port, https_port = edge_ports

    def issued():
        shown = certificates(api, app).get(DOMAIN)
        # Pebble's certificates here live 30 s, so they are issued "expiring" (under 14 days left).
        return bool(shown) and shown["status"] == "expiring", shown

    shown = poll(issued, ISSUE_TIMEOUT_S, f"a certificate for {DOMAIN} from pebble")
    assert shown["source"] == "acme" and shown["last_error"] is None and shown["not_after"], shown
    assert "Pebble" in shown["issuer"], shown

    # Pebble's root, which changes at each start, verifies the chain Slipway serves.
    data = https_version(https_port, pebble_root)
    response = parse(data)
    assert response.status == 200 and response.body == b"acme-v1", data[:300]

    # curl and headless Chromium, each trusting pebble's root alone, verify it too.
    url = f"https://{DOMAIN}:{https_port}/version"
    fetched = curl_get(url, pebble_root, DOMAIN, https_port)
    assert fetched.returncode == 0 and fetched.stdout == "acme-v1", (fetched.returncode, fetched.stderr)
    page = chromium_dom(url, pebble_root, DOMAIN, work)
    assert "acme-v1" in page and "ERR_CERT" not in page, page[:500]

    # The account key and the certificate's key are Slipway's alone.
    data_dir = proc.data_dir
    assert oct((data_dir / "acme" / "account.key").stat().st_mode & 0o777) == "0o600"
    assert oct((data_dir / "certificates" / f"{DOMAIN}.key").stat().st_mode & 0o777) == "0o600"
    # Plain HTTP to the domain now goes to HTTPS.
    assert plain(http_port, DOMAIN).status == 301


def test_a_challenge_that_fails_is_shown_with_the_cas_words_and_serving_goes_on(server, edge_ports):
    proc, api, app, _ = server
    http_port, _ = edge_ports

    def failed():
        shown = certificates(api, app).get(FAILING)
        return bool(shown) and shown["status"] == "failed", shown

    shown = poll(failed, ISSUE_TIMEOUT_S, f"the order for {FAILING} to fail")
    assert shown["last_error"] and FAILING in shown["last_error"], shown
    assert shown["not_after"] is None
    # With no certificate, the name is still served on plain HTTP (no redirect to nowhere).
    response = plain(http_port, FAILING)
    assert response.status == 200 and response.body == b"acme-v1", response.raw[:300]


def test_a_certificate_is_renewed_at_a_third_of_its_lifetime_with_no_failed_request(server, edge_ports, pebble_root: Path):
    _, api, app, _ = server
    _, https_port = edge_ports

    def issued():
        shown = certificates(api, app).get(DOMAIN)
        return bool(shown) and shown["status"] in ("valid", "expiring"), shown

    first = poll(issued, ISSUE_TIMEOUT_S, f"a certificate for {DOMAIN}")
    outcomes = {"ok": 0, "failed": []}
    halt = threading.Event()

    def load():
        # New connections, each a new handshake: every one must get the old or the new certificate.
        while not halt.is_set():
            try:
                data = https_version(https_port, pebble_root)
                if parse(data).status == 200:
                    outcomes["ok"] += 1
                else:
                    outcomes["failed"].append(data[:200])
            except (OSError, AssertionError) as exc:
                outcomes["failed"].append(repr(exc))

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        def renewed():
            shown = certificates(api, app).get(DOMAIN)
            return bool(shown) and shown["status"] in ("valid", "expiring") and shown["not_after"] != first["not_after"], shown

        second = poll(renewed, VALIDITY_S * 3, f"the certificate for {DOMAIN} to be renewed")
    finally:
        halt.set()
        worker.join(timeout=30)
    assert second["not_after"] > first["not_after"], (first, second)
    assert outcomes["ok"] > 0 and not outcomes["failed"], outcomes["failed"][:5]


def test_while_the_ca_is_down_orders_fail_and_http_goes_on_then_succeed_when_it_is_back(server, ca: CA, edge_ports):
    _, api, app, _ = server
    http_port, _ = edge_ports
    ca.stop_pebble()
    try:
        api.expect(200, "PATCH", f"/api/apps/{app}", {"domains": [DOMAIN, FAILING, LATE]})

        def failed():
            shown = certificates(api, app).get(LATE)
            return bool(shown) and shown["status"] == "failed", shown

        shown = poll(failed, ISSUE_TIMEOUT_S, f"the order for {LATE} to fail while pebble is down")
        assert "connect" in shown["last_error"].lower() or "refused" in shown["last_error"].lower(), shown
        # Serving goes on: the name answers over HTTP meanwhile.
        response = plain(http_port, LATE)
        assert response.status == 200, response.raw[:300]
    finally:
        ca.start_pebble()

    def issued():
        shown = certificates(api, app).get(LATE)
        return bool(shown) and shown["status"] in ("valid", "expiring"), shown

    shown = poll(issued, ISSUE_TIMEOUT_S, f"{LATE}'s certificate once pebble is back (retried by itself)")
    assert shown["source"] == "acme" and shown["last_error"] is None, shown


def test_the_dashboard_on_its_domain_is_served_over_https_with_a_host_cookie_and_hsts(server, ca: CA, edge_ports, tmp_path):
    proc, api, app, _ = server
    http_port, https_port = edge_ports
    origin = f"https://{DASHBOARD}:{https_port}"
    # Pebble's root as it is now: the test before this one started pebble again, with a new root,
    # and the dashboard's certificate is issued again under it within its short lifetime.
    pebble_root = ca.issuing_root(tmp_path)

    def served():
        try:
            response, _ = https_request(https_port, DASHBOARD, pebble_root, "GET", "/login")
            return response.status == 200, response.status
        except (OSError, ssl.SSLError) as exc:
            return False, repr(exc)

    poll(served, ISSUE_TIMEOUT_S, f"the dashboard at {origin}, its certificate from pebble")
    page, agreed = https_request(https_port, DASHBOARD, pebble_root, "GET", "/login")
    assert agreed[1] == "http/1.1", agreed
    assert page.header("strict-transport-security") == "max-age=31536000", page.headers

    # Logging in over HTTPS sets a __Host- cookie: Secure, Path=/, no Domain.
    form = urllib.parse.urlencode({"password": ADMIN_PASSWORD}).encode()
    logged_in, _ = https_request(https_port, DASHBOARD, pebble_root, "POST", "/login", {
        "Origin": origin, "Content-Type": "application/x-www-form-urlencoded"}, form)
    assert logged_in.status in (302, 303), logged_in.raw[:500]
    cookie = logged_in.header("set-cookie") or ""
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert cookie.startswith("__Host-slipway_session=") and "secure" in attributes and "path=/" in attributes, cookie
    assert not any(a.startswith("domain=") for a in attributes), cookie
    assert logged_in.header("strict-transport-security") == "max-age=31536000", logged_in.headers
    dashboard, _ = https_request(https_port, DASHBOARD, pebble_root, "GET", "/", {"Cookie": cookie.split(";")[0]})
    assert dashboard.status == 200 and app.encode() in dashboard.body, dashboard.raw[:500]

    # Plain HTTP to the dashboard's domain goes to HTTPS; webhook deliveries stay (GitHub does not
    # follow redirects, and each delivery is signed).
    moved = plain(http_port, DASHBOARD, target="/login?next=%2F")
    assert moved.status == 301 and moved.header("location") == f"{origin}/login?next=%2F", moved.raw[:300]
    hook = plain(http_port, DASHBOARD, method="POST", target=f"/hooks/github/{app}", body=b"{}")
    assert hook.status not in (301, 308), hook.raw[:300]
