"""Security of the dashboard and the API, through the real binary (issue 11, round two).

- Logins: an attempt is reserved before its password is checked, so concurrent wrong passwords
  from one address get no more checks than the limit; at most two checks run at once server-wide
  (429 beyond); a throttled address is refused even with the right password.
- API tokens: wrong ones are throttled per address the same way (429, JSON).
- Secrets: a password under 12 characters or a token under 24 stops the start with exit 2;
  generated ones go to a 0600 file in the data directory, never to stderr; the unused
  session_key setting is gone.
- Host names: dashboard, login and API requests for a name the server does not answer to get
  421 (DNS rebinding); /hooks and /healthz do not; Origin is compared with the configured names.
- https: HSTS and a `__Host-` Secure session cookie when --public-url is https.
- Apps on the dashboard's own non-loopback name: a warning at start and on the dashboard.

Every server here is the test's own (several lock 127.0.0.1 out for a minute). Other clients
are other loopback addresses (127.0.0.2, ...), which Linux lets a socket bind as its source.
Nothing here makes anything in Docker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import stat
import subprocess
import threading
import urllib.parse
from pathlib import Path
from typing import Optional

import pytest

from conftest import (
    ADMIN_PASSWORD,
    API_TOKEN,
    HOST,
    HttpResult,
    SlipwayServer,
    assert_json_error,
    require_binary,
    server_env,
    start_server,
    tail,
)
from loopback import free_port_range

# A range no other module uses, for the one app the webhook check makes (it is never deployed).
APP_PORT_RANGE = (5100, 5999)
CREDENTIALS_FILE = "initial-credentials"
HSTS = "max-age=31536000"
# Enough concurrent logins that, with each check taking about 0.14 s, more than two overlap.
CONCURRENT = 24


def request(server: SlipwayServer, method: str, path: str, *, headers: Optional[dict[str, str]] = None,
            body: Optional[bytes] = None, source: Optional[str] = None, timeout: float = 30.0) -> HttpResult:
    return server.request(method, path, headers=headers, body=body, timeout=timeout, source=source)


def log_in(server: SlipwayServer, password: str, *, headers: Optional[dict[str, str]] = None,
           source: Optional[str] = None) -> HttpResult:
    body = urllib.parse.urlencode({"password": password}).encode()
    return request(server, "POST", "/login", body=body, source=source,
                   headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def api_get(server: SlipwayServer, path: str, token: Optional[str], *, headers: Optional[dict[str, str]] = None,
            source: Optional[str] = None) -> HttpResult:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return request(server, "GET", path, headers={**auth, **(headers or {})}, source=source)


def all_at_once(calls: list) -> list:
    """Runs each zero-argument callable on a thread of its own, released together; their results in order."""
    results: list = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # reported by the caller, with the others
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a request did not finish within 60 s"
    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, f"{len(failures)} requests failed: {failures[:3]!r}"
    return results


def text(resp: HttpResult) -> str:
    return resp.body.decode(errors="replace")


def session_cookie(resp: HttpResult) -> tuple[str, list[str]]:
    """(name=value, [attributes lower-cased]) of the Set-Cookie of a login."""
    parts = [p.strip() for p in resp.headers.get("set-cookie", "").split(";")]
    return parts[0], [p.lower() for p in parts[1:]]


def stopped(server: SlipwayServer) -> None:
    """SIGTERM; fails unless the server exits 0 in time."""
    server.assert_clean_stop()


def sqlite(db: Path, sql: str) -> str:
    sqlite3 = shutil.which("sqlite3")
    assert sqlite3, "the sqlite3 command is needed (scripts/test-env.sh installs it)"
    done = subprocess.run([sqlite3, str(db), sql], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"sqlite3 {sql!r}: {done.stderr}"
    return done.stdout


@pytest.fixture
def server(tmp_path: Path):
    """A server of this test's own, with the test secrets."""
    s = start_server(tmp_path)
    try:
        yield s
    finally:
        stopped(s)


# --- Secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable, value, minimum", [
    pytest.param("SLIPWAY_ADMIN_PASSWORD", "elevenchars", 12, id="password-11"),
    pytest.param("SLIPWAY_API_TOKEN", "tok-" + "x" * 19, 24, id="token-23"),
])
def test_a_short_secret_stops_the_start_with_exit_2(tmp_path: Path, variable: str, value: str, minimum: int):
    env = {**server_env(), variable: value}
    try:
        done = subprocess.run([str(require_binary()), "serve", "--host", HOST, "--port", "0", "--data-dir", str(tmp_path / "data")],
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{variable} of {len(value)} characters was accepted: the server started and served")
    assert done.returncode == 2, f"exit {done.returncode}; stderr: {done.stderr!r}"
    assert variable in done.stderr and str(minimum) in done.stderr, f"the message names neither: {done.stderr!r}"
    assert value not in done.stderr + done.stdout, "the refused secret was printed"


def test_generated_credentials_go_to_a_0600_file_and_never_to_stderr(tmp_path: Path):
    data = tmp_path / "data"
    first = start_server(tmp_path, data_dir=data, with_secrets=False, log_name="first")
    try:
        path = data / CREDENTIALS_FILE
        assert path.is_file(), f"no {path}; stderr:\n{tail(first.stderr_text())}"
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path} has mode {mode:o}"
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
        assert set(values) == {"SLIPWAY_ADMIN_PASSWORD", "SLIPWAY_API_TOKEN"}, f"the file holds {sorted(values)}"
        password, token = values["SLIPWAY_ADMIN_PASSWORD"], values["SLIPWAY_API_TOKEN"]
        # They are the stored ones.
        assert log_in(first, password).status == 303, "the password in the file does not log in"
        assert api_get(first, "/api/apps", token).status == 200, "the token in the file does not open the API"
    finally:
        stopped(first)
    log = first.stderr_text()
    assert password not in log and token not in log, f"a generated secret is on stderr:\n{log}"
    assert str(path) in log, f"stderr does not say where the credentials are:\n{log}"

    # A second start generates nothing, says nothing of credentials, and leaves the file alone.
    before = path.read_bytes()
    second = start_server(tmp_path, data_dir=data, with_secrets=False, log_name="second")
    stopped(second)
    assert CREDENTIALS_FILE not in second.stderr_text(), f"the second start mentions the file:\n{second.stderr_text()}"
    assert path.read_bytes() == before


def test_the_unused_session_key_is_not_kept(tmp_path: Path):
    data = tmp_path / "data"
    db = data / "slipway.db"
    stopped(start_server(tmp_path, data_dir=data, log_name="first"))
    assert sqlite(db, "SELECT count(*) FROM settings WHERE key = 'session_key'").strip() == "0", "a fresh start stored a session_key"
    # One an older version stored is deleted at the next start.
    sqlite(db, "INSERT INTO settings (key, value) VALUES ('session_key', 'left-by-an-older-version')")
    stopped(start_server(tmp_path, data_dir=data, log_name="second"))
    assert sqlite(db, "SELECT count(*) FROM settings WHERE key = 'session_key'").strip() == "0", "the old session_key is still stored"


# --- Login and token throttles ------------------------------------------------------------------


def test_concurrent_wrong_passwords_from_one_address_get_five_checks(server: SlipwayServer):
    answers = all_at_once([lambda i=i: log_in(server, f"wrong-{i}") for i in range(CONCURRENT)])
    statuses = [a.status for a in answers]
    assert set(statuses) <= {401, 429}, f"answers to concurrent wrong passwords: {statuses}"
    checked = statuses.count(401)
    assert checked <= 5, f"{checked} of {CONCURRENT} concurrent wrong passwords from one address were checked (limit 5)"
    for a in answers:
        if a.status == 429:
            assert a.headers.get("retry-after", "").isdigit(), f"429 without Retry-After: {a.headers}"

    # One at a time, until refused: five checks in all, never more.
    for _ in range(6):
        resp = log_in(server, "wrong-again")
        if resp.status == 429:
            break
        assert resp.status == 401, f"a wrong password: {resp.status}"
        checked += 1
    assert resp.status == 429 and "Too many failed attempts" in text(resp), f"never throttled: {resp.status} {text(resp)[:300]}"
    assert checked == 5, f"{checked} wrong passwords were checked before the throttle (limit 5)"

    # The right password from the throttled address is refused too, unchecked: no session.
    resp = log_in(server, ADMIN_PASSWORD)
    assert resp.status == 429 and "set-cookie" not in resp.headers, f"right password while throttled: {resp.status} {resp.headers}"
    retry = resp.headers.get("retry-after", "")
    assert retry.isdigit() and 1 <= int(retry) <= 60, f"Retry-After {retry!r}"
    # Another address is not throttled.
    assert log_in(server, ADMIN_PASSWORD, source="127.0.0.2").status == 303


def test_at_most_two_password_checks_run_at_once(server: SlipwayServer):
    """One wrong password from each of many addresses, all at once: no address is over its
    limit, so every 429 is the server-wide limit of two checks at a time."""
    sources = [f"127.0.0.{i}" for i in range(2, 2 + CONCURRENT)]
    answers = all_at_once([lambda s=s: log_in(server, "wrong", source=s) for s in sources])
    statuses = [a.status for a in answers]
    assert set(statuses) <= {401, 429}, f"answers: {statuses}"
    assert statuses.count(401) >= 2, f"fewer than two checks ran: {statuses}"
    busy = [(s, a) for s, a in zip(sources, answers) if a.status == 429]
    assert busy, f"all {CONCURRENT} concurrent checks ran; at most two may run at once: {statuses}"
    for _, a in busy:
        assert "at once" in text(a), f"a 429 that is not the check limit: {text(a)[:300]}"
        assert a.headers.get("retry-after") == "1", f"Retry-After {a.headers.get('retry-after')!r}"
    # A refused attempt was never checked, so it costs its address nothing: five wrong
    # passwords are still checked from it.
    source = busy[0][0]
    for attempt in range(1, 6):
        resp = log_in(server, "wrong", source=source)
        assert resp.status == 401, f"wrong password {attempt} from {source} after a refused one: {resp.status} {text(resp)[:200]}"


def test_wrong_api_tokens_are_throttled_per_address(server: SlipwayServer):
    # No token at all guesses nothing and is not counted.
    for _ in range(10):
        assert_json_error(api_get(server, "/api/apps", None), 401)
    for attempt in range(1, 6):
        resp = api_get(server, "/api/apps", f"wrong-token-{attempt}-0123456789abcdef")
        assert resp.status == 401, f"wrong token {attempt}: {resp.status}"
    for token, what in [("wrong-token-6-0123456789abcdef", "a sixth wrong token"), (API_TOKEN, "the right token")]:
        resp = api_get(server, "/api/apps", token)
        error = assert_json_error(resp, 429)
        assert error["code"] == "too_many_requests", f"{what}: {error}"
        retry = resp.headers.get("retry-after", "")
        assert retry.isdigit() and 1 <= int(retry) <= 60, f"{what}: Retry-After {retry!r}"
        assert API_TOKEN not in text(resp)
    # Another address still gets in.
    assert api_get(server, "/api/apps", API_TOKEN, source="127.0.0.2").status == 200


# --- Host names ---------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_other_host_names_get_421_but_webhooks_and_healthz_do_not(tmp_path: Path):
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = start_server(tmp_path, extra_args=["--public-url", "http://slipway.test:8080", "--app-ports", f"{low}-{high}",
                                                "--container-label", "slipway.test=1"])
    app = "hostcheck-" + secrets.token_hex(3)
    try:
        created = request(server, "POST", "/api/apps", headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
                          body=json.dumps({"name": app, "repo_url": "https://example.com/o/r.git", "deploy": False}).encode())
        assert created.status == 201, f"creating {app}: {created.status} {text(created)[:300]}"
        secret = created.json()["webhook_secret"]

        evil = {"Host": f"evil.example:{server.port}"}
        for method, path in [("GET", "/"), ("GET", "/login"), ("GET", "/deploy")]:
            resp = request(server, method, path, headers=evil)
            assert resp.status == 421, f"{method} {path} with Host evil.example: {resp.status}"
            assert resp.headers.get("content-type", "").startswith("text/plain"), resp.headers
            assert "evil.example" not in text(resp), "the 421 repeats the Host"
        resp = log_in(server, ADMIN_PASSWORD, headers=evil)
        assert resp.status == 421 and "set-cookie" not in resp.headers, f"POST /login with Host evil.example: {resp.status}"
        resp = api_get(server, "/api/apps", API_TOKEN, headers=evil)
        assert assert_json_error(resp, 421)["code"] == "misdirected_request"

        # The configured names: loopback ones (any case, any port) and the public URL's.
        for host in [f"127.0.0.1:{server.port}", f"LOCALHOST:{server.port}", f"[::1]:{server.port}", "slipway.test:8080", "Slipway.Test"]:
            assert request(server, "GET", "/login", headers={"Host": host}).status == 200, f"GET /login with Host {host}"
            assert api_get(server, "/api/apps", API_TOKEN, headers={"Host": host}).status == 200, f"GET /api/apps with Host {host}"

        # GitHub sends the payload URL's host, and a proxy may send any: webhooks are signed instead.
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        resp = request(server, "POST", f"/hooks/github/{app}", body=body, headers={
            **evil, "Content-Type": "application/json", "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": secrets.token_hex(8), "X-Hub-Signature-256": sign(secret, body)})
        assert resp.status == 200, f"a signed ping with Host evil.example: {resp.status} {text(resp)[:300]}"
        assert request(server, "GET", "/healthz", headers=evil).status == 200
    finally:
        try:
            request(server, "DELETE", f"/api/apps/{app}", headers={"Authorization": f"Bearer {API_TOKEN}"})
        finally:
            stopped(server)


def test_origin_is_compared_with_the_configured_names(server: SlipwayServer):
    here = f"127.0.0.1:{server.port}"
    # Another loopback name of this same server on the same port is a page of its own.
    resp = log_in(server, ADMIN_PASSWORD, headers={"Host": here, "Origin": f"http://localhost:{server.port}"})
    assert resp.status == 303, f"Origin http://localhost:{server.port}: {resp.status} {text(resp)[:200]}"
    # An app on another port of the same name is another origin; so is any other name.
    for origin in [f"http://127.0.0.1:{server.port + 1}", f"http://evil.example:{server.port}", "null"]:
        resp = log_in(server, ADMIN_PASSWORD, headers={"Host": here, "Origin": origin})
        assert resp.status == 403 and "set-cookie" not in resp.headers, f"Origin {origin}: {resp.status}"


# --- https ---------------------------------------------------------------------------------------


def test_an_https_public_url_brings_hsts_and_a_host_prefixed_secure_cookie(tmp_path: Path):
    server = start_server(tmp_path, extra_args=["--public-url", "https://slipway.test"])
    try:
        for what, resp in [("GET /login", request(server, "GET", "/login")),
                           ("GET /api/apps", api_get(server, "/api/apps", API_TOKEN)),
                           ("GET /api/apps without a token (401)", api_get(server, "/api/apps", None))]:
            assert resp.headers.get("strict-transport-security") == HSTS, f"{what}: {resp.status} {resp.headers}"

        resp = log_in(server, ADMIN_PASSWORD)
        assert resp.status == 303, f"login: {resp.status}"
        assert resp.headers.get("strict-transport-security") == HSTS
        pair, attrs = session_cookie(resp)
        assert pair.startswith("__Host-slipway_session="), f"Set-Cookie {resp.headers.get('set-cookie')!r}"
        assert "secure" in attrs and "path=/" in attrs and not any(a.startswith("domain") for a in attrs), attrs
        # The session works under that name, and only under it.
        assert request(server, "GET", "/", headers={"Cookie": pair}).status == 200
        plain = "slipway_session=" + pair.split("=", 1)[1]
        resp = request(server, "GET", "/", headers={"Cookie": plain})
        assert resp.status == 303 and resp.headers.get("location") == "/login", f"the unprefixed name: {resp.status}"
    finally:
        stopped(server)


def test_plain_http_has_no_hsts_and_the_usual_cookie(server: SlipwayServer):
    assert "strict-transport-security" not in request(server, "GET", "/login").headers
    resp = log_in(server, ADMIN_PASSWORD)
    pair, attrs = session_cookie(resp)
    assert resp.status == 303 and pair.startswith("slipway_session=") and "secure" not in attrs, resp.headers
    assert "strict-transport-security" not in resp.headers


# --- Cookies shared with apps --------------------------------------------------------------------


def warning_shown(server: SlipwayServer) -> bool:
    pair, _ = session_cookie(log_in(server, ADMIN_PASSWORD))
    page = request(server, "GET", "/", headers={"Cookie": pair})
    assert page.status == 200, f"GET / logged in: {page.status}"
    return 'id="warning-shared-cookie"' in text(page)


def test_apps_on_the_dashboards_own_name_raise_a_warning_until_apps_host_differs(tmp_path: Path):
    shared = start_server(tmp_path, extra_args=["--public-url", "http://slipway.test", "--apps-host", "slipway.test"], log_name="shared")
    try:
        assert warning_shown(shared), "no shared-cookie warning on the dashboard"
    finally:
        stopped(shared)
    log = shared.stderr_text()
    assert "share the host name slipway.test" in log and "--apps-host" in log, f"no warning at start:\n{tail(log)}"

    apart = start_server(tmp_path, extra_args=["--public-url", "http://slipway.test", "--apps-host", "apps.slipway.test"], log_name="apart")
    try:
        assert not warning_shown(apart), "a warning although the apps have a name of their own"
    finally:
        stopped(apart)
    assert "share the host name" not in apart.stderr_text()
