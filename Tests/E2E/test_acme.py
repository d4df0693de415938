"""Certificates that come by themselves: the real binary against a real ACME CA, offline.

Debian's `pebble` (an RFC 8555 test CA) and `pebble-challtestsrv` (its fake DNS) run on loopback
with ports of this module's choosing (scripts/test-env.sh installs them). Pebble validates HTTP-01
by connecting to the domain's address (127.0.0.1 from the fake DNS, 127.0.0.2 for the domain meant
to fail) on its `httpPort`, which is Slipway's HTTP edge; it refuses 5 % of good nonces on purpose
(`badNonce`), which the client must retry. Its own HTTPS certificate is made here with openssl and
given to Slipway as `--acme-ca-file`; its issuing root, made anew at each start, is fetched from
its management port and trusted by the test's TLS client.

Cleaning up: pebble and the fake DNS are stopped at the end; the server runs with
`--container-label slipway.test=1` and the app's name starts with a prefix unique to this run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import HOST, poll, start_server
from deploykit import DRAIN_TIMEOUT_S, HEALTH_TIMEOUT_S, TEST_LABEL, Api, remove_docker_objects
from loopback import free_port
from test_edge_apps import app_repo, compile_edgeapp, stop_server
from test_https_edge import parse, plain

DOMAIN = "acme-a.test"
FAILING = "acme-fail.test"
# Added while the CA is down.
LATE = "acme-late.test"
# Slipway's first wait after a failed order (`--acme-retry-seconds`), short for the tests.
RETRY_S = 2
ISSUE_TIMEOUT_S = 120
# Pebble issues certificates valid this long, so the renewal (at a third left) comes 20 s in.
VALIDITY_S = 30


@dataclass
class CA:
    directory: str
    ca_file: Path
    management: int
    # Starts pebble (again) on the same ports and configuration; stops it.
    start_pebble: object
    stop_pebble: object


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is missing; scripts/test-env.sh installs it (Debian's pebble package)", pytrace=False)
    return path


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
    """Pebble and its fake DNS, validating challenges against the module's edge ports."""
    work = tmp_path_factory.mktemp("pebble")
    http_port, https_port = edge_ports
    dns, dns_management, listen, management = free_port(), free_port(), free_port(), free_port()
    cert, key = work / "pebble.crt", work / "pebble.key"
    made = subprocess.run([need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", str(key), "-out", str(cert), "-days", "7", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    config = work / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"{HOST}:{listen}", "managementListenAddress": f"{HOST}:{management}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": https_port,
        "ocspResponderURL": "", "externalAccountBindingRequired": False, "certificateValidityPeriod": VALIDITY_S}}))
    logs = []
    dns_log = open(work / "challtestsrv.log", "wb")
    logs.append(dns_log)
    fake_dns = subprocess.Popen([need("pebble-challtestsrv"), "-dns01", f"{HOST}:{dns}", "-http01", "", "-https01", "",
                                 "-tlsalpn01", "", "-management", f"{HOST}:{dns_management}", "-defaultIPv4", HOST,
                                 "-defaultIPv6", ""], stdout=dns_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    pebble_log = open(work / "pebble.log", "ab")
    logs.append(pebble_log)
    pebble: dict[str, subprocess.Popen] = {}
    trust = ssl.create_default_context(cafile=str(cert))

    def start_pebble():
        pebble["proc"] = subprocess.Popen([need("pebble"), "-config", str(config), "-dnsserver", f"{HOST}:{dns}"],
                                          env=dict(os.environ, PEBBLE_VA_NOSLEEP="1"), cwd=work,
                                          stdout=pebble_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        poll(answering, 30, "pebble's directory to answer")

    def stop_pebble():
        stop(pebble["proc"])

    try:

        def answering():
            try:
                with urllib.request.urlopen(f"https://localhost:{listen}/dir", context=trust, timeout=2) as resp:
                    return resp.status == 200, resp.status
            except OSError as exc:
                return False, repr(exc)

        start_pebble()

        def dns_ready():
            try:
                request = urllib.request.Request(f"http://{HOST}:{dns_management}/add-a", method="POST",
                                                 data=json.dumps({"host": FAILING + ".", "addresses": ["127.0.0.2"]}).encode())
                with urllib.request.urlopen(request, timeout=2) as resp:
                    return resp.status == 200, resp.status
            except OSError as exc:
                return False, repr(exc)

        # The failing domain's address has nothing listening on the edge's port.
        poll(dns_ready, 30, "the fake DNS to take the failing domain's record")
        yield CA(f"https://localhost:{listen}/dir", cert, management, start_pebble, stop_pebble)
    finally:
        if "proc" in pebble:
            stop(pebble["proc"])
        stop(fake_dns)
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, ca: CA, edge_ports, prefix):
    work = tmp_path_factory.mktemp("acme-server")
    http_port, https_port = edge_ports
    proc = start_server(work, extra_args=[
        "--allow-local-repos", "--app-ports", "off", "--container-label", TEST_LABEL,
        "--health-timeout", str(HEALTH_TIMEOUT_S), "--drain-timeout", str(DRAIN_TIMEOUT_S),
        "--http-port", str(http_port), "--https-port", str(https_port),
        "--acme-email", "ops@example.com", "--acme-directory", ca.directory, "--acme-ca-file", str(ca.ca_file),
        "--acme-retry-seconds", str(RETRY_S)])
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
    """Pebble's issuing root, made anew at each start: what a client of the apps trusts."""
    with urllib.request.urlopen(f"https://localhost:{ca.management}/roots/0",
                                context=ssl.create_default_context(cafile=str(ca.ca_file)), timeout=10) as resp:
        root = resp.read().decode()
    path = tmp_path_factory.mktemp("pebble-root") / "root.pem"
    path.write_text(root)
    return path


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
