"""The command-line client (the same `slipway` binary) against a running server: login, create,
deploy --wait (the log as it grows, exit 1 when the deployment fails), apps as a table and as
JSON, env set/unset, open, stop/start, delete, and the exit codes (2 usage, 3 cannot reach or
authenticate).

Cleaning up: the server runs with `--container-label slipway.test=1`, app names start with a
prefix unique to this run, and `end_of_test` removes what carries that prefix; the client's
config file lives in the test's own XDG_CONFIG_HOME.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import API_TOKEN, require_binary, start_server
from deploykit import Api, end_of_test, free_port_range, server_flags, wait_serving
from gitrepo import GitRepo, web_app

APP_PORTS = (35000, 35999)
_started: list = []


@pytest.fixture
def prefix():
    value = f"c{secrets.token_hex(3)}-"
    yield value
    end_of_test(value, _started)


def client(home: Path, *args: str, stdin: str = "", env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")} | (env or {})
    return subprocess.run([str(require_binary()), *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=environment)


def test_the_client_logs_in_creates_deploys_and_waits_with_clear_exit_codes(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORTS)
    server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    _started.append(server)
    url = f"http://127.0.0.1:{server.port}"
    home = tmp_path / "home"
    home.mkdir()

    # Nothing saved yet, and bad usage.
    done = client(home, "apps")
    assert done.returncode == 3 and "slipway login" in done.stderr, done.stderr
    assert client(home, "deploy").returncode == 2
    assert client(home, "frobnicate").returncode == 2
    done = client(home, "login", url, stdin="wrong-token-" + "x" * 30 + "\n")
    assert done.returncode == 3 and "refused the token" in done.stderr, done.stderr
    done = client(home, "login", url, stdin=API_TOKEN + "\n")
    assert done.returncode == 0, done.stderr
    saved = home / "config" / "slipway" / "config"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and json.loads(saved.read_text()) == {"url": url, "token": API_TOKEN}

    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
    name = prefix + "cli"
    done = client(home, "create", repo.url, "--name", name, "--env", "A=1")
    assert done.returncode == 0 and f"created {name}" in done.stdout, done.stdout + done.stderr
    first = Api(server).app(name)
    Api(server).finish(Api(server).deployments(name)[0]["id"], why="the first deployment")

    repo.commit(web_app("v2"), "v2")
    done = client(home, "deploy", name, "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "==> build" in done.stdout and done.stdout.rstrip().endswith("succeeded"), done.stdout[-800:]
    wait_serving(first["port"], "v2")

    apps = client(home, "apps")
    assert apps.returncode == 0 and apps.stdout.splitlines()[0].split() == ["NAME", "STATUS", "URL", "LIVE"], apps.stdout
    assert any(line.split()[:2] == [name, "running"] for line in apps.stdout.splitlines()[1:]), apps.stdout
    listed = json.loads(client(home, "apps", "--json").stdout)
    assert [a["name"] for a in listed] == [name], listed

    assert client(home, "env", name, "set", "B=2", "C=x=y").returncode == 0
    assert client(home, "env", name, "unset", "A").returncode == 0
    assert client(home, "env", name).stdout.split() == ["B", "C"]
    assert client(home, "open", name).stdout.strip() == first["url"]

    # A deployment that fails: the exit code says so, for a CI pipeline.
    repo.commit({"Dockerfile": "FROM slipway-test-base:latest\nRUN exit 3\n", "index.html": "v3\n"}, "v3: broken")
    done = client(home, "redeploy", name, "--wait")
    assert done.returncode == 1 and done.stdout.rstrip().endswith("failed"), done.stdout[-800:]
    done = client(home, "rollback", name, "--wait", "--json")
    assert done.returncode == 0 and json.loads(done.stdout.splitlines()[-1])["status"] == "succeeded", done.stdout[-500:]
    wait_serving(first["port"], "v1")

    assert client(home, "stop", name).returncode == 0 and Api(server).app(name)["status"] == "stopped"
    assert client(home, "start", name).returncode == 0
    # The environment wins over the saved file; an unknown app is the server's 404.
    done = client(home, "deployments", prefix + "nothing", env={"SLIPWAY_URL": url, "SLIPWAY_TOKEN": API_TOKEN})
    assert done.returncode == 1 and "no app named" in done.stderr, done.stderr
    assert client(home, "delete", name).returncode == 0
    server.assert_clean_stop()
