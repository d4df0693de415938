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
import pty
import select
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
    dep_id = Api(server).deployments(name)[0]["id"]
    followed = client(home, "log", str(dep_id), "-f")
    assert followed.returncode == 0 and f"deployment {dep_id} is live" in followed.stdout, followed.stdout[-500:]
    table = client(home, "deployments", name).stdout.splitlines()
    assert table[0].split() == ["ID", "STATUS", "TRIGGER", "COMMIT", "CREATED"] and table[1].split()[:2] == [str(dep_id), "succeeded"], table

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


def in_terminal(home: Path, *args: str, env: dict, timeout: float = 120) -> tuple[int, str]:
    """Runs the client with its output on a pseudo-terminal; its exit code and what it showed."""
    master, slave = pty.openpty()
    environment = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "TERM": "xterm"} | env
    proc = subprocess.Popen([str(require_binary()), *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=environment)
    os.close(slave)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise AssertionError(f"no output for {timeout} s; so far: {shown[-500:]!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        return proc.wait(timeout=30), shown.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_on_a_terminal_the_wait_shows_steps_as_they_finish_and_completion_names_commands_and_apps(tmp_path, prefix):
    low, high = free_port_range(1, APP_PORTS)
    server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    _started.append(server)
    env = {"SLIPWAY_URL": f"http://127.0.0.1:{server.port}", "SLIPWAY_TOKEN": API_TOKEN}
    home = tmp_path / "home"
    home.mkdir()
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
    name = prefix + "tty"
    Api(server).create(name, repo.url, deploy=False)

    code, shown = in_terminal(home, "deploy", name, "--wait", env=env)
    assert code == 0, shown
    for step in ("clone", "build", "start", "check", "swap"):
        assert f"✓ {step} " in shown, shown
    assert "==> build" not in shown, "a terminal gets the steps, not the log"
    assert shown.rstrip().endswith("succeeded"), shown[-300:]

    # Per-command help, and the completion script (bash) offering commands and the app's name.
    helped = client(home, "help", "deploy")
    assert helped.returncode == 0 and helped.stdout.startswith("slipway deploy APP"), helped.stdout
    assert client(home, "help", "nothing").returncode == 2
    script = client(home, "completion", "bash").stdout
    assert "complete -F _slipway slipway" in script
    bindir = str(require_binary().parent)
    probe = (script + '\nCOMP_WORDS=(slipway dep); COMP_CWORD=1; _slipway; echo "${COMPREPLY[@]}"'
             + f'\nCOMP_WORDS=(slipway deploy {prefix}); COMP_CWORD=2; _slipway; echo "${{COMPREPLY[@]}}"\n')
    completed = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60,
                               env={"PATH": bindir + ":" + os.environ["PATH"], "HOME": str(home)} | env)
    assert completed.stdout.splitlines() == ["deploy deployments", name], completed.stdout + completed.stderr
    assert "compdef _slipway slipway" in client(home, "completion", "zsh").stdout
    assert client(home, "completion", "fish").returncode == 2
    server.assert_clean_stop()
