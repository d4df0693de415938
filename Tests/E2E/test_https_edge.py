"""The HTTPS edge (`--https-port`) with certificates uploaded for an app's domains: the real binary,
a real container behind it, and real TLS clients (Python's ssl module and curl) that verify the
chain. ACME comes later (issue 13); these are the parts that do not need a CA.

One server with `--http-port` and `--https-port` serves the module's app (the edge test app of
test_edge_apps.py) at tls.edge.test and *.tlsw.test. The certificates are self-signed, made with
the openssl command for each test, and trusted by the clients as their own roots.

Cleaning up: the server runs with `--container-label slipway.test=1` and the app's name starts
with a prefix unique to this run; the teardown removes exactly what carries both.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import socket
import ssl
import stat
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import HOST, RawResponse, parse_status_line, poll, start_server
from dashboard_session import form_post, login, page
from deploykit import DRAIN_TIMEOUT_S, HEALTH_TIMEOUT_S, TEST_LABEL, Api, remove_docker_objects
from loopback import free_port
from test_edge_apps import Wire, app_repo, compile_edgeapp, masked_frame, read_frame, stop_server, websocket_accept

DOMAIN = "tls.edge.test"
WILDCARD = "*.tlsw.test"
TIMEOUT_S = 10.0


@dataclass
class Pair:
    chain: str
    key: str
    chain_path: Path


def make_certificate(work: Path, *names: str, days: int = 30) -> Pair:
    """A self-signed P-256 certificate for `names`, by the openssl command."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("the openssl command is missing; scripts/test-env.sh installs it", pytrace=False)
    stem = work / f"cert-{secrets.token_hex(4)}"
    san = ",".join(f"DNS:{n}" for n in names)
    proc = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", f"{stem}.key", "-out", f"{stem}.crt", "-days", str(days),
                           "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return Pair(Path(f"{stem}.crt").read_text(), Path(f"{stem}.key").read_text(), Path(f"{stem}.crt"))


@dataclass
class Server:
    api: Api
    http_port: int
    https_port: int
    work: Path
    data_dir: Path
    app: str


def start(work: Path, data_dir: Path) -> tuple[object, int, int]:
    http_port, https_port = free_port(), free_port()
    server = start_server(work, data_dir=data_dir, log_name=f"server-{https_port}", extra_args=[
        "--allow-local-repos", "--app-ports", "off", "--container-label", TEST_LABEL,
        "--health-timeout", str(HEALTH_TIMEOUT_S), "--drain-timeout", str(DRAIN_TIMEOUT_S),
        "--http-port", str(http_port), "--https-port", str(https_port)])
    return server, http_port, https_port


@pytest.fixture(scope="module")
def prefix():
    value = f"t{secrets.token_hex(3)}-"
    yield value
    problems = remove_docker_objects(value)
    assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def server(tmp_path_factory, prefix):
    work = tmp_path_factory.mktemp("https-edge")
    data_dir = work / "data"
    proc, http_port, https_port = start(work, data_dir)
    api = Api(proc)
    holder = {"proc": proc, "http": http_port, "https": https_port}
    try:
        binary = compile_edgeapp(tmp_path_factory.mktemp("edgeapp-bin"))
        name = prefix + "tls"
        repo = app_repo(work / "repos" / name, binary, "tls-v1")
        created = api.create(name, repo.url, domains=[DOMAIN, WILDCARD])
        api.finish(created["deployment_id"], why="the first deployment of the TLS app")
        yield Server(api, http_port, https_port, work, data_dir, name), holder
    finally:
        stop_server(holder["proc"])


def client_context(trust: Path | None = None, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if trust:
        context.load_verify_locations(cafile=str(trust))
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if maximum:
        # The old versions are off at OpenSSL's default security level; level 0 lets them be offered.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
    context.set_alpn_protocols(["http/1.1"])
    return context


def parse(data: bytes) -> RawResponse:
    """A whole answer read to the close: status, headers, and the body after the head."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    version, status, reason = parse_status_line(lines[0])
    headers = [(n.decode("latin-1").strip(), v.decode("latin-1").strip()) for n, _, v in (line.partition(b":") for line in lines[1:])]
    return RawResponse(version, status, reason, headers, body, data)


def https_get(port: int, name: str, trust: Path, path: str = "/version") -> tuple[RawResponse, tuple[str, str]]:
    """One GET over TLS to the edge, with SNI `name` and the chain verified against `trust`; the
    answer, and the TLS version and ALPN protocol agreed."""
    return https_request(port, name, trust, "GET", path)


def https_request(port: int, name: str, trust: Path, method: str, path: str, headers: dict[str, str] = {},
                  body: bytes = b"") -> tuple[RawResponse, tuple[str, str]]:
    """One request over TLS to the edge, as `https_get`, with `headers` and `body`."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {name}", "Connection: close", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((HOST, port), timeout=TIMEOUT_S) as raw:
        with client_context(trust).wrap_socket(raw, server_hostname=name) as conn:
            agreed = (conn.version(), conn.selected_alpn_protocol())
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    return parse(data), agreed


def handshake_error(port: int, name: str | None, context: ssl.SSLContext) -> str:
    """The TLS error a client meets when it connects with `name`; fails if it connects."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT_S) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=name):
                pass
        except ssl.SSLError as error:
            return str(error)
    raise AssertionError(f"the handshake with {name!r} succeeded")


def upload(srv: Server, domain: str, pair: Pair, status: int = 200):
    return srv.api.expect(status, "PUT", f"/api/apps/{srv.app}/certificates/{domain}",
                          {"certificate": pair.chain, "private_key": pair.key})


def test_an_uploaded_certificate_is_served_by_name_and_the_app_sees_https(server):
    srv, _ = server
    pair = make_certificate(srv.work, DOMAIN)
    shown = upload(srv, DOMAIN, pair)
    assert shown["domain"] == DOMAIN and shown["status"] == "valid" and shown["source"] == "uploaded", shown
    assert shown["issuer"] == DOMAIN and shown["not_after"].endswith("Z"), shown
    app = srv.api.expect(200, "GET", f"/api/apps/{srv.app}")
    assert [c["domain"] for c in app["certificates"]] == [DOMAIN], app["certificates"]
    assert "PRIVATE KEY" not in str(app) and "BEGIN CERTIFICATE" not in str(app)

    response, (version, alpn) = https_get(srv.https_port, DOMAIN, pair.chain_path)
    assert response.status == 200 and response.body == b"tls-v1", response.raw[:300]
    assert version == "TLSv1.3" and alpn == "http/1.1", (version, alpn)
    headers, _ = https_get(srv.https_port, DOMAIN, pair.chain_path, "/headers")
    lines = headers.body.decode("latin-1").split("\r\n")
    assert "X-Forwarded-Proto: https" in lines, lines

    # curl verifies the same chain; the plain edge now sends this domain's clients to HTTPS.
    curl = shutil.which("curl")
    if curl:
        proc = subprocess.run([curl, "-sS", "--max-time", "10", "--cacert", str(pair.chain_path), "--resolve",
                               f"{DOMAIN}:{srv.https_port}:{HOST}", f"https://{DOMAIN}:{srv.https_port}/version"],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 and proc.stdout == "tls-v1", proc.stderr
    with socket.create_connection((HOST, srv.http_port), timeout=TIMEOUT_S) as plain:
        plain.sendall(f"GET /version HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := plain.recv(65536):
            data += chunk
    assert parse(data).header("Location") == f"https://{DOMAIN}:{srv.https_port}/version", data[:300]

    # On disk: the key 0600 in a 0700 directory.
    directory = srv.data_dir / "certificates"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    key_file = directory / f"{DOMAIN}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == pair.key


def test_a_wildcard_certificate_serves_one_label_below_it(server):
    srv, _ = server
    pair = make_certificate(srv.work, WILDCARD)
    upload(srv, WILDCARD, pair)
    response, _ = https_get(srv.https_port, "api.tlsw.test", pair.chain_path)
    assert response.status == 200 and response.body == b"tls-v1", response.raw[:300]


def test_a_client_resumes_its_session_with_the_ticket_it_was_given(server):
    srv, _ = server
    pair = make_certificate(srv.work, DOMAIN)
    upload(srv, DOMAIN, pair)
    context = client_context(pair.chain_path)
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        context.minimum_version = context.maximum_version = version
        session = None
        reused = []
        for _ in range(2):
            with socket.create_connection((HOST, srv.https_port), timeout=TIMEOUT_S) as raw:
                with context.wrap_socket(raw, server_hostname=DOMAIN, session=session) as conn:
                    # TLS 1.3 sends the ticket after the handshake: one exchange brings it in.
                    conn.sendall(f"GET /version HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
                    data = b""
                    while chunk := conn.recv(65536):
                        data += chunk
                    assert parse(data).status == 200, data[:300]
                    reused.append(conn.session_reused)
                    session = conn.session
        assert reused == [False, True], f"{version}: {reused}"


def test_a_websocket_over_https_is_relayed_through_the_tls_session(server):
    srv, _ = server
    pair = make_certificate(srv.work, DOMAIN)
    upload(srv, DOMAIN, pair)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((HOST, srv.https_port), timeout=TIMEOUT_S) as raw:
        with client_context(pair.chain_path).wrap_socket(raw, server_hostname=DOMAIN) as conn:
            conn.sendall((f"GET /ws HTTP/1.1\r\nHost: {DOMAIN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            wire = Wire(conn)
            status, headers = wire.head()
            assert status == 101 and headers.get("sec-websocket-accept") == websocket_accept(key), (status, headers)
            # Frames both ways, one larger than a TLS record (16 KiB) and than the relay's buffer.
            for opcode, payload in [(0x1, "over TLS ✓".encode()), (0x2, os.urandom(70000)), (0x2, os.urandom(10))]:
                conn.sendall(masked_frame(opcode, payload))
                assert read_frame(wire) == (True, opcode, payload), f"echo of a {len(payload)}-byte frame"
            conn.sendall(b"".join(masked_frame(0x1, f"burst {i}".encode()) for i in range(5)))
            assert [read_frame(wire)[2] for _ in range(5)] == [f"burst {i}".encode() for i in range(5)]
            conn.sendall(masked_frame(0x8, struct.pack("!H", 1000) + b"bye"))
            assert read_frame(wire) == (True, 0x8, struct.pack("!H", 1000) + b"bye")
            # The app closes after the close frame; the edge ends the TLS session in turn.
            assert conn.recv(100) == b"", "the connection ends once the app has closed"
    # The access log counts the WebSocket as one 101.
    def logged():
        ws = [r for r in srv.api.expect(200, "GET", f"/api/apps/{srv.app}/requests") if r["path"] == "/ws"]
        return bool(ws) and ws[0]["status"] == 101, ws

    poll(logged, 10, "the WebSocket's access record")


def test_a_name_with_no_certificate_gets_unrecognized_name_and_never_another_apps(server):
    srv, _ = server
    upload(srv, DOMAIN, make_certificate(srv.work, DOMAIN))
    for name in ["unknown.test", "tlsw.test", None]:
        error = handshake_error(srv.https_port, name, client_context())
        assert "UNRECOGNIZED_NAME" in error.upper().replace(" ", "_"), f"{name}: {error}"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls_11_and_older_are_refused(server):
    srv, _ = server
    pair = make_certificate(srv.work, DOMAIN)
    upload(srv, DOMAIN, pair)
    error = handshake_error(srv.https_port, DOMAIN, client_context(maximum=ssl.TLSVersion.TLSv1_1))
    # The client offered TLS 1.1 (its hello says 0x0302); the server's alert says why it ended.
    assert "PROTOCOL_VERSION" in error.upper(), error
    twelve = client_context(pair.chain_path)
    twelve.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((HOST, srv.https_port), timeout=TIMEOUT_S) as raw:
        with twelve.wrap_socket(raw, server_hostname=DOMAIN) as conn:
            assert conn.version() == "TLSv1.2"


def test_bad_uploads_are_refused_with_what_is_wrong_and_nothing_changes(server):
    srv, _ = server
    good = make_certificate(srv.work, DOMAIN)
    upload(srv, DOMAIN, good)
    other = make_certificate(srv.work, DOMAIN)
    for pair, needle in [
        (Pair(good.chain, other.key, good.chain_path), "the private key does not match the certificate"),
        (make_certificate(srv.work, "elsewhere.test"), f"the certificate is not for {DOMAIN} (it names elsewhere.test)"),
        (Pair("not a certificate", good.key, good.chain_path), "the certificate is not a PEM certificate chain"),
        (Pair(good.chain, "not a key", good.chain_path), "the private key is not an unencrypted PEM private key"),
    ]:
        error = upload(srv, DOMAIN, pair, status=400)
        assert needle in error["error"]["message"], error
        assert "PRIVATE KEY" not in str(error), "an error never echoes a key"
    missing = srv.api.expect(404, "PUT", f"/api/apps/{srv.app}/certificates/notmine.test",
                             {"certificate": good.chain, "private_key": good.key})
    assert "has no domain notmine.test" in missing["error"]["message"], missing
    # The good certificate is still the one served.
    response, _ = https_get(srv.https_port, DOMAIN, good.chain_path)
    assert response.status == 200


def test_a_removed_certificate_is_no_longer_served_and_the_rest_survive_a_restart(server):
    srv, holder = server
    pair = make_certificate(srv.work, DOMAIN)
    upload(srv, DOMAIN, pair)
    wildcard = make_certificate(srv.work, WILDCARD)
    upload(srv, WILDCARD, wildcard)
    srv.api.expect(204, "DELETE", f"/api/apps/{srv.app}/certificates/{DOMAIN}")
    srv.api.expect(404, "DELETE", f"/api/apps/{srv.app}/certificates/{DOMAIN}")
    assert "UNRECOGNIZED_NAME" in handshake_error(srv.https_port, DOMAIN, client_context()).upper().replace(" ", "_")
    assert not (srv.data_dir / "certificates" / f"{DOMAIN}.key").exists()

    stop_server(holder["proc"])
    proc, http_port, https_port = start(srv.work, srv.data_dir)
    holder.update(proc=proc, http=http_port, https=https_port)

    def served():
        try:
            response, _ = https_get(https_port, "www.tlsw.test", wildcard.chain_path)
            return response.status == 200 and response.body == b"tls-v1", response.raw[:200]
        except OSError as exc:
            return False, repr(exc)

    poll(served, 30, "the wildcard certificate to be served again after the restart")
    listed = Api(proc).expect(200, "GET", f"/api/apps/{srv.app}/certificates")
    assert [c["domain"] for c in listed] == [WILDCARD], listed


def plain(port: int, host: str, method: str = "GET", target: str = "/version", body: bytes = b"") -> RawResponse:
    """One request to the plain HTTP edge, read to the close."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT_S) as sock:
        head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse(data)


def test_plain_http_to_a_domain_with_a_certificate_goes_to_https_unless_the_app_keeps_it(server):
    srv, holder = server
    api = Api(holder["proc"])
    http_port, https_port = holder["http"], holder["https"]
    assert api.expect(200, "GET", f"/api/apps/{srv.app}")["https_redirect"] is True, "on by default"
    # A name without a certificate is served plainly.
    api.request("DELETE", f"/api/apps/{srv.app}/certificates/{WILDCARD}")
    assert plain(http_port, "www.tlsw.test").status == 200
    pair = make_certificate(srv.work, DOMAIN)
    api.expect(200, "PUT", f"/api/apps/{srv.app}/certificates/{DOMAIN}", {"certificate": pair.chain, "private_key": pair.key})

    where = f"https://{DOMAIN}:{https_port}"
    moved = plain(http_port, f"{DOMAIN}:{http_port}", target="/version?x=1")
    assert moved.status == 301 and moved.header("Location") == f"{where}/version?x=1", moved.raw[:400]
    posted = plain(http_port, DOMAIN, method="POST", target="/echo", body=b"abc")
    assert posted.status == 308 and posted.header("Location") == f"{where}/echo", posted.raw[:400]
    absolute = plain(http_port, "ignored.test", target=f"http://{DOMAIN}/a/b?c")
    assert absolute.status == 301 and absolute.header("Location") == f"{where}/a/b?c", absolute.raw[:400]
    # ACME's challenges stay on plain HTTP: the app answers them (its own answer, not the edge's).
    challenge = plain(http_port, DOMAIN, target="/.well-known/acme-challenge/token-1")
    assert challenge.status != 301 and challenge.header("X-Served-By"), challenge.raw[:400]
    # Followed, the redirect lands on the app over HTTPS.
    followed, _ = https_get(https_port, DOMAIN, pair.chain_path, "/version?x=1")
    assert followed.status == 200 and followed.body == b"tls-v1"

    shown = api.expect(200, "PATCH", f"/api/apps/{srv.app}", {"https_redirect": False})
    assert shown["https_redirect"] is False
    kept = plain(http_port, DOMAIN)
    assert kept.status == 200 and kept.body == b"tls-v1", kept.raw[:400]
    api.expect(200, "PATCH", f"/api/apps/{srv.app}", {"https_redirect": True})
    assert plain(http_port, DOMAIN).status == 301


def test_the_dashboard_uploads_lists_and_removes_a_certificate_and_keeps_plain_http(server):
    srv, holder = server
    proc = holder["proc"]
    cookie = login(proc)
    app_page = page(proc, f"/apps/{srv.app}", cookie)
    csrf = re.search(r'name="csrf" value="([^"]+)"', app_page).group(1)
    assert 'id="certificates"' in app_page and 'name="https_redirect"' in app_page

    # A key that is not the certificate's comes back beside its field, nothing stored.
    good = make_certificate(srv.work, WILDCARD)
    other = make_certificate(srv.work, WILDCARD)
    resp = form_post(proc, f"/apps/{srv.app}/certificates",
                     {"csrf": csrf, "domain": WILDCARD, "certificate": good.chain, "private_key": other.key}, cookie)
    text = resp.body.decode()
    assert resp.status == 400 and 'data-field="private_key"' in text and "does not match the certificate" in text, text[:500]
    assert "PRIVATE KEY" not in text, "the key is never echoed"

    resp = form_post(proc, f"/apps/{srv.app}/certificates",
                     {"csrf": csrf, "domain": WILDCARD, "certificate": good.chain, "private_key": good.key}, cookie)
    assert resp.status == 303, resp.body[:300]
    shown = page(proc, f"/apps/{srv.app}", cookie)
    row = re.search(r'<tr data-certificate="\*\.tlsw\.test">.*?</tr>', shown, re.S)
    assert row and 'data-status="valid"' in row.group(0), shown[shown.find('id="certificates"'):][:1500]
    response, _ = https_get(holder["https"], "x.tlsw.test", good.chain_path)
    assert response.status == 200

    # The settings form's checkbox: unticked keeps plain HTTP for the domains with a certificate.
    resp = form_post(proc, f"/apps/{srv.app}/settings", {"csrf": csrf, "https_redirect_shown": "1"}, cookie)
    assert resp.status == 303, resp.body[:300]
    assert Api(proc).expect(200, "GET", f"/api/apps/{srv.app}")["https_redirect"] is False
    assert plain(holder["http"], "x.tlsw.test").status == 200
    resp = form_post(proc, f"/apps/{srv.app}/settings", {"csrf": csrf, "https_redirect_shown": "1", "https_redirect": "1"}, cookie)
    assert resp.status == 303
    assert plain(holder["http"], "x.tlsw.test").status == 301

    resp = form_post(proc, f"/apps/{srv.app}/certificates/remove", {"csrf": csrf, "domain": WILDCARD}, cookie)
    assert resp.status == 303
    assert 'data-certificate="*.tlsw.test"' not in page(proc, f"/apps/{srv.app}", cookie)
    assert "UNRECOGNIZED_NAME" in handshake_error(holder["https"], "x.tlsw.test", client_context()).upper().replace(" ", "_")


def test_a_certificate_near_its_end_is_shown_expiring_and_warned_about(server):
    srv, holder = server
    proc = holder["proc"]
    api = Api(proc)
    short = make_certificate(srv.work, DOMAIN, days=5)
    shown = api.expect(200, "PUT", f"/api/apps/{srv.app}/certificates/{DOMAIN}", {"certificate": short.chain, "private_key": short.key})
    assert shown["status"] == "expiring", shown
    cookie = login(proc)
    warning = re.search(r'<p class="alert error" id="certificate-warning">(.*?)</p>', page(proc, f"/apps/{srv.app}", cookie))
    assert warning and f"the certificate of {DOMAIN} expires on" in warning.group(1), warning
    long = make_certificate(srv.work, DOMAIN, days=60)
    assert api.expect(200, "PUT", f"/api/apps/{srv.app}/certificates/{DOMAIN}",
                      {"certificate": long.chain, "private_key": long.key})["status"] == "valid"
    assert 'id="certificate-warning"' not in page(proc, f"/apps/{srv.app}", cookie)


def test_hsts_is_sent_over_https_only_for_an_app_that_opts_in(server):
    srv, holder = server
    api = Api(holder["proc"])
    pair = make_certificate(srv.work, DOMAIN)
    api.expect(200, "PUT", f"/api/apps/{srv.app}/certificates/{DOMAIN}", {"certificate": pair.chain, "private_key": pair.key})
    assert api.expect(200, "GET", f"/api/apps/{srv.app}")["hsts"] is False, "off by default"
    response, _ = https_get(holder["https"], DOMAIN, pair.chain_path)
    assert response.header("Strict-Transport-Security") is None, response.raw[:400]

    assert api.expect(200, "PATCH", f"/api/apps/{srv.app}", {"hsts": True, "https_redirect": False})["hsts"] is True
    response, _ = https_get(holder["https"], DOMAIN, pair.chain_path)
    assert response.header("Strict-Transport-Security") == "max-age=31536000", response.raw[:400]
    # Never over plain HTTP (RFC 6797 section 7.2), where it would mean nothing.
    kept = plain(holder["http"], DOMAIN)
    assert kept.status == 200 and kept.header("Strict-Transport-Security") is None, kept.raw[:400]
    api.expect(200, "PATCH", f"/api/apps/{srv.app}", {"hsts": False, "https_redirect": True})


def test_a_certificate_waits_while_its_domain_is_removed_and_serves_again_when_it_is_back(server):
    srv, holder = server
    api = Api(holder["proc"])
    pair = make_certificate(srv.work, DOMAIN)
    api.expect(200, "PUT", f"/api/apps/{srv.app}/certificates/{DOMAIN}", {"certificate": pair.chain, "private_key": pair.key})
    api.expect(200, "PATCH", f"/api/apps/{srv.app}", {"domains": [WILDCARD]})
    try:
        # No app has the name: its certificate is shown to no one, as for any unknown name.
        assert "UNRECOGNIZED_NAME" in handshake_error(holder["https"], DOMAIN, client_context()).upper().replace(" ", "_")
    finally:
        shown = api.expect(200, "PATCH", f"/api/apps/{srv.app}", {"domains": [DOMAIN, WILDCARD]})
    # Back, with the certificate it had: nothing to upload again.
    assert [c["domain"] for c in shown["certificates"]][:1] == [DOMAIN], shown["certificates"]
    response, _ = https_get(holder["https"], DOMAIN, pair.chain_path)
    assert response.status == 200 and response.body == b"tls-v1"
