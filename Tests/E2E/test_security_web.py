"""Security of the dashboard and the API, through the real binary (issue 11, round two).

- Secrets: a password under 12 characters or a token under 24 stops the start with exit 2;
  generated ones go to a 0600 file in the data directory, never to stderr; the unused
  session_key setting is gone.

Every server here is the test's own. Nothing here makes anything in Docker.
"""

from __future__ import annotations

import http.client
import shutil
import stat
import subprocess
import urllib.parse
from pathlib import Path
from typing import Optional

import pytest

from conftest import (
    HOST,
    HttpResult,
    SlipwayServer,
    require_binary,
    server_env,
    start_server,
    tail,
)

CREDENTIALS_FILE = "initial-credentials"


def request(server: SlipwayServer, method: str, path: str, *, headers: Optional[dict[str, str]] = None,
            body: Optional[bytes] = None, source: Optional[str] = None, timeout: float = 30.0) -> HttpResult:
    """One request on a fresh connection; `source` is the loopback address to send it from.
    A Host in `headers` replaces the one http.client would send."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return HttpResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def log_in(server: SlipwayServer, password: str, *, headers: Optional[dict[str, str]] = None,
           source: Optional[str] = None) -> HttpResult:
    body = urllib.parse.urlencode({"password": password}).encode()
    return request(server, "POST", "/login", body=body, source=source,
                   headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def api_get(server: SlipwayServer, path: str, token: Optional[str], *, headers: Optional[dict[str, str]] = None,
            source: Optional[str] = None) -> HttpResult:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return request(server, "GET", path, headers={**auth, **(headers or {})}, source=source)


def stopped(server: SlipwayServer) -> None:
    """SIGTERM; fails unless the server exits 0 in time."""
    server.assert_clean_stop()


def sqlite(db: Path, sql: str) -> str:
    sqlite3 = shutil.which("sqlite3")
    assert sqlite3, "the sqlite3 command is needed (scripts/test-env.sh installs it)"
    done = subprocess.run([sqlite3, str(db), sql], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"sqlite3 {sql!r}: {done.stderr}"
    return done.stdout


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
