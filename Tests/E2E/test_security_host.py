"""End-to-end tests of what Slipway does on its own host (issue 11, items 1, 5 and 9).

- App env reaches the container byte for byte and never the docker client's own environment: an
  app whose env names DOCKER_HOST, LD_PRELOAD, PATH, HOME and DOCKER_CONFIG deploys normally,
  and keeps its values when the supervisor re-creates a container removed behind its back.
- A git token reaches git only in a 0600 file that the environment names: a fake `git` first in
  the server's PATH records the environment of every git run.
- The data directory is Slipway's alone (0700 directories, 0600 files) under umask 022, fresh or
  left with 0644/0755 modes by an older run.
- A git token is refused with an http:// URL to a host that is not loopback (API and dashboard).
- git follows no redirect and fscks what it fetches; an old git is warned about, in the log and
  on the dashboard.

Each test starts its own server on its own data dir, makes its own repositories and apps, and
removes the containers and images it made (all labelled slipway.test=1).
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Optional

import pytest

from conftest import HOST, SERVE_FLAGS, STARTUP_TIMEOUT_S, SlipwayServer, poll, require_binary, server_env, tail
from dashboard_session import form_post, login, page
from deploykit import Api, containers, docker, free_port_range, remove_docker_objects, server_flags
from gitrepo import GitRepo, dockerfile_with_cmd, web_app
from githttp import GitHttpServer

# Apart from the other modules' app ports (10000-39999) and below the kernel's ephemeral ones.
APP_PORT_RANGE = (7000, 7999)
APP_PREFIX = "sechost-"
# The supervisor looks at the containers every 2 s; re-creating one takes a `docker run`.
RECREATE_TIMEOUT_S = 60.0

# The values an app's env must deliver exactly: each would change what the docker client does if
# it reached the client's environment, and the last has what docker's env-file syntax could
# mangle (leading and trailing spaces, '=', '#').
TRICKY_ENV = {
    "DOCKER_HOST": "tcp://127.0.0.1:9",
    "LD_PRELOAD": "/nonexistent.so",
    "DOCKER_CONFIG": "/nonexistent-docker-config",
    "HOME": "/home/app",
    # The container's shell still needs /bin to find env and httpd.
    "PATH": "/bin:/usr/bin:/sbin:/usr/sbin:/opt/app bin",
    "TRICKY": "  lead = and # hash\tand é  ",
}

# The app writes its environment where httpd serves it, then serves.
ENV_APP_DOCKERFILE = dockerfile_with_cmd('["sh", "-c", "env > /www/env.txt; exec httpd -f -p 5000 -h /www"]')


# --- Servers -------------------------------------------------------------------------------


def start(work_dir: Path, *, allow_local: bool = False, data_dir: Optional[Path] = None, path_prefix: Optional[Path] = None,
          log_name: str = "server", append: bool = False) -> SlipwayServer:
    """A server with this module's app ports; `path_prefix` goes first in its PATH (a fake git)."""
    low, high = free_port_range(8, APP_PORT_RANGE)
    env = server_env()
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env.get('PATH', '/usr/bin:/bin')}"
    return SlipwayServer.start(
        require_binary(),
        data_dir=data_dir or (work_dir / "data"),
        flags=[*SERVE_FLAGS, *server_flags(low, high, allow_local=allow_local)],
        env=env,
        cwd=work_dir,
        stdout_path=work_dir / f"{log_name}.log",
        stderr_path=work_dir / f"{log_name}.log",
        append=append,
        startup_timeout=STARTUP_TIMEOUT_S,
    )


def stop(server: SlipwayServer) -> None:
    if server.running:
        server.assert_clean_stop()


@pytest.fixture
def cleanup():
    """Names apps the test makes; removes their containers and images afterwards."""
    made: list[str] = []
    yield made
    problems = [p for name in made for p in remove_docker_objects(name)]
    assert not problems, f"cleanup failed: {problems}"


def app_name(kind: str) -> str:
    return f"{APP_PREFIX}{kind}-{secrets.token_hex(3)}"


def get_raw(port: int, path: str) -> tuple[int, bytes]:
    """GET without stripping the body: trailing spaces are part of what is checked."""
    conn = http.client.HTTPConnection(HOST, port, timeout=3.0)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def served_env(port: int) -> dict[str, str]:
    """The environment the app's container wrote to /www/env.txt."""
    status, body = get_raw(port, "/env.txt")
    assert status == 200, f"GET /env.txt answered {status}: {body[:200]!r}"
    pairs = (line.partition("=") for line in body.decode().split("\n") if line)
    return {name: value for name, _, value in pairs}


def wait_env(port: int, timeout: float = 30.0) -> dict[str, str]:
    def probe():
        try:
            return True, served_env(port)
        except (OSError, http.client.HTTPException, AssertionError) as exc:
            return False, f"{type(exc).__name__}: {exc}"

    return poll(probe, timeout, f"port {port} to serve the app's env.txt")


# --- 1: app env never reaches the docker client ----------------------------------------------


def test_app_env_reaches_the_container_exactly_and_never_the_docker_client(tmp_path: Path, cleanup):
    name = app_name("env")
    cleanup.append(name)
    repo = GitRepo.create(tmp_path / "src", web_app("env app", dockerfile=ENV_APP_DOCKERFILE))
    server = start(tmp_path, allow_local=True)
    try:
        api = Api(server)
        app = api.expect(201, "POST", "/api/apps", {"name": name, "repo_url": repo.url, "env": TRICKY_ENV, "deploy": False})
        dep = api.expect(202, "POST", f"/api/apps/{name}/deployments", {})
        # With the old `--env NAME`, DOCKER_HOST sent the client to port 9 and the run failed.
        api.finish(dep["id"], "succeeded", "an app whose env names DOCKER_HOST and LD_PRELOAD deploys normally")
        seen = wait_env(app["port"])
        for key, value in TRICKY_ENV.items():
            assert seen.get(key) == value, f"the container sees {key}={seen.get(key)!r}, expected {value!r}"
        log = api.log(dep["id"])
        assert "--env-file" in log and "DOCKER_HOST" in log, f"the log names the env file and the variables:\n{tail(log, 20)}"
        assert TRICKY_ENV["TRICKY"] not in log and "tcp://127.0.0.1:9" not in log, "an env value is in the deployment log"
        assert_run_dir_empty(server.data_dir, "after the deployment")

        # Removed behind Slipway's back: the supervisor re-creates it (AppService.ensureRunning),
        # through the same env file.
        (old,) = containers(f"slipway.app={name}", running_only=True)
        docker("rm", "-f", old)

        def recreated():
            now = containers(f"slipway.app={name}", running_only=True)
            return bool(now) and old not in now, now

        poll(recreated, RECREATE_TIMEOUT_S, f"the supervisor to re-create {name}'s container", interval=0.25)
        seen = wait_env(app["port"])
        for key, value in TRICKY_ENV.items():
            assert seen.get(key) == value, f"after re-creation the container sees {key}={seen.get(key)!r}, expected {value!r}"
        assert_run_dir_empty(server.data_dir, "after the re-creation")
        assert "cannot re-create" not in server.stderr_text()
        api.delete(name)
    finally:
        stop(server)


def assert_run_dir_empty(data_dir: Path, when: str) -> None:
    run = data_dir / "run"
    assert run.is_dir(), f"{run} is missing"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700, f"{run} is {oct(stat.S_IMODE(run.stat().st_mode))}"
    assert list(run.iterdir()) == [], f"{when}, files were left in {run}: {list(run.iterdir())}"
    strays = [p for p in data_dir.rglob("env-*") if p.is_file()]
    assert not strays, f"{when}, env files were left in the data dir: {strays}"


# --- Related: a git token never reaches git's environment -------------------------------------


def fake_git(bin_dir: Path, body: str) -> Path:
    """A `git` in `bin_dir` running the sh script `body`; $REAL_GIT is the real one."""
    real = shutil.which("git")
    assert real, "git is not installed"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "git"
    script.write_text(f"#!/bin/sh\nREAL_GIT={real}\n{body}")
    script.chmod(0o755)
    return bin_dir


def test_git_token_reaches_git_only_through_a_private_file(tmp_path: Path, cleanup):
    token = "ghp_" + secrets.token_hex(12)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    dump = tmp_path / "git-environments.txt"
    # Records each git run's environment, as execve gave it, and the mode of the file it names.
    bin_dir = fake_git(tmp_path / "bin", f"""
if [ "$1" != "--version" ]; then
  {{
    echo "=== $*"
    tr '\\0' '\\n' < /proc/$$/environ
    if [ -n "$GIT_CONFIG_VALUE_0" ]; then echo "credentials-mode $(stat -c %a "$GIT_CONFIG_VALUE_0" 2>&1)"; fi
  }} >> {dump}
fi
exec "$REAL_GIT" "$@"
""")
    name = app_name("token")
    cleanup.append(name)
    git_server = GitHttpServer(tmp_path / "git", token=token)
    server = None
    try:
        git_server.add(GitRepo.create(tmp_path / "src", web_app("private")), "private.git")
        server = start(tmp_path, path_prefix=bin_dir)
        api = Api(server)
        app = api.expect(201, "POST", "/api/apps", {"name": name, "repo_url": git_server.url("private.git"), "git_token": token})
        api.finish(app["deployment_id"], "succeeded", "a private repository over http://127.0.0.1 with a token")
        runs = dump.read_text().split("=== ")[1:]
        assert runs, "the fake git recorded no run: is it first in the server's PATH?"
        fetches = [r for r in runs if " clone " in f" {r.splitlines()[0]} " or " fetch " in f" {r.splitlines()[0]} "]
        assert fetches, f"no clone or fetch among the git runs: {[r.splitlines()[0] for r in runs]}"
        for run in runs:
            command, *environ = run.splitlines()
            leaked = [line.split("=", 1)[0][:40] for line in environ if token in line or basic in line]
            assert not leaked, f"`git {command}` had the token in its environment: {leaked}"
        for run in fetches:
            assert "GIT_CONFIG_KEY_0=include.path" in run and "credentials-mode 600" in run, (
                f"`git {run.splitlines()[0]}` did not get its token from a 0600 file:\n{run}")
        assert_no_secret_files(server.data_dir / "run")
        api.delete(name)
    finally:
        if server is not None:
            stop(server)
        git_server.close()


def assert_no_secret_files(run: Path) -> None:
    assert run.is_dir() and list(run.iterdir()) == [], f"files were left in {run}: {list(run.iterdir())}"


# --- 5: the data directory is Slipway's alone --------------------------------------------------


def wrong_modes(data_dir: Path) -> list[str]:
    """Every path under `data_dir` (itself included) whose mode gives others anything: directories
    must be 0700 and files 0600; in git's mirrors files only lose their group and other bits
    (git keeps objects read-only, 0400, and hook samples executable)."""
    wrong = []
    for path in [data_dir, *sorted(data_dir.rglob("*"))]:
        info = path.lstat()
        mode = stat.S_IMODE(info.st_mode)
        relative = path.relative_to(data_dir)
        in_mirror = relative.parts[:1] == ("repos",)
        if stat.S_ISDIR(info.st_mode):
            ok = mode == 0o700
        elif stat.S_ISREG(info.st_mode):
            ok = mode & 0o077 == 0 if in_mirror else mode == 0o600
        else:
            ok = True  # symlinks and sockets carry no permissions of their own
        if not ok:
            wrong.append(f"{relative} is {oct(mode)}")
    return wrong


def start_with_umask(work_dir: Path, mask: int, **kwargs) -> SlipwayServer:
    """The server inherits this process's umask, as it would a shell's."""
    old = os.umask(mask)
    try:
        return start(work_dir, **kwargs)
    finally:
        os.umask(old)


def make_secrets(api: Api, name: str, repo_url: str) -> None:
    """An app with env, a deploy key and a finished deployment: every kind of file Slipway keeps."""
    api.expect(201, "POST", "/api/apps", {"name": name, "repo_url": repo_url, "env": {"SECRET": "s3cr3t"}, "deploy": False})
    api.expect(201, "POST", f"/api/apps/{name}/deploy-key", {})
    dep = api.expect(202, "POST", f"/api/apps/{name}/deployments", {})
    api.finish(dep["id"], "succeeded")


def test_data_dir_is_private_under_umask_022(tmp_path: Path, cleanup):
    name = app_name("modes")
    cleanup.append(name)
    repo = GitRepo.create(tmp_path / "src", web_app("modes"))
    server = start_with_umask(tmp_path, 0o022, allow_local=True)
    try:
        make_secrets(Api(server), name, repo.url)
        wrong = wrong_modes(server.data_dir)
        assert not wrong, "under umask 022, the data dir has entries others can read:\n" + "\n".join(wrong)
        Api(server).delete(name)
    finally:
        stop(server)


def test_an_existing_data_dir_is_made_private_at_start(tmp_path: Path, cleanup):
    name = app_name("old")
    cleanup.append(name)
    repo = GitRepo.create(tmp_path / "src", web_app("old modes"))
    server = start_with_umask(tmp_path, 0o022, allow_local=True)
    try:
        make_secrets(Api(server), name, repo.url)
    finally:
        stop(server)
    # What an older Slipway left under umask 022.
    loosened = 0
    for path in [server.data_dir, *server.data_dir.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
            loosened += 1
    assert wrong_modes(server.data_dir), "the set-up did not loosen anything"

    server = start_with_umask(tmp_path, 0o022, allow_local=True, data_dir=server.data_dir, log_name="second", append=False)
    try:
        wrong = wrong_modes(server.data_dir)
        assert not wrong, "after a start on an old data dir, entries others can read remain:\n" + "\n".join(wrong)
        match = re.search(r"data directory: (\d+) entries were open to other users", server.stderr_text())
        assert match, f"the start-up log does not say how many modes were fixed:\n{tail(server.stderr_text(), 15)}"
        # The loosened entries, less the -wal and -shm files a clean stop removes and recreates.
        assert 0 < int(match.group(1)) <= loosened, match.group(0)
        Api(server).delete(name)
    finally:
        stop(server)


# --- 9: tokens over cleartext --------------------------------------------------------------



def assert_refused(resp, code: str, token: str) -> None:
    assert resp.status == 400, f"expected 400 {code}, got {resp.status}: {resp.body[:300]!r}"
    error = resp.json()["error"]
    assert error["code"] == code, error
    assert "http://" in error["message"] and "cleartext" in error["message"], error
    assert token not in resp.body.decode(), "the token is in the error"


def test_git_token_is_refused_with_a_cleartext_url(tmp_path: Path):
    token = "ghp_" + secrets.token_hex(12)
    server = start(tmp_path)
    try:
        api = Api(server)
        remote = "http://example.com/r.git"
        name = app_name("clear")
        assert_refused(api.request("POST", "/api/apps", {"name": name, "repo_url": remote, "git_token": token, "deploy": False}),
                       "invalid_git_token", token)
        assert api.request("GET", f"/api/apps/{name}").status == 404, "the refused app was created"

        # Loopback never leaves the machine; https is encrypted.
        for kind, url in [("v4", "http://127.0.0.1:9/r.git"), ("v6", "http://[::1]:9/r.git"),
                          ("name", "http://localhost:9/r.git"), ("tls", "https://example.com/r.git")]:
            app = api.expect(201, "POST", "/api/apps", {"name": app_name(kind), "repo_url": url, "git_token": token, "deploy": False})
            assert app["has_git_token"], app

        # The URL changed under a stored token.
        assert_refused(api.request("PATCH", f"/api/apps/{app['name']}", {"repo_url": remote}), "invalid_repo_url", token)
        assert api.app(app["name"])["repo_url"] == "https://example.com/r.git", "the refused URL was stored"

        # A token set on an app that has the URL.
        open_app = api.expect(201, "POST", "/api/apps", {"name": app_name("open"), "repo_url": remote, "deploy": False})
        assert_refused(api.request("PATCH", f"/api/apps/{open_app['name']}", {"git_token": token}), "invalid_git_token", token)

        # ... and through the dashboard's credentials form.
        cookie = login(server)
        html = page(server, f"/apps/{open_app['name']}", cookie)
        csrf = re.search(r'name="csrf" value="([^"]+)"', html)
        assert csrf, "no CSRF token on the app page"
        resp = form_post(server, f"/apps/{open_app['name']}/credentials", {"csrf": csrf.group(1), "git_token": token}, cookie)
        body = resp.body.decode()
        assert resp.status == 400 and "cleartext" in body, f"the credentials form took the token: {resp.status} {body[:300]!r}"
        assert token not in body, "the token is echoed on the page"
        assert not api.app(open_app["name"])["has_git_token"], "the form stored the token"
    finally:
        stop(server)


# --- 9: git follows no redirect, and checks what it fetches -------------------------------------


def test_a_redirecting_git_server_is_not_followed(tmp_path: Path, cleanup):
    name = app_name("redirect")
    cleanup.append(name)
    git_server = GitHttpServer(tmp_path / "git", redirects={"/app.git/": "/other.git/"})
    server = None
    try:
        git_server.add(GitRepo.create(tmp_path / "app", web_app("the app")), "app.git")
        git_server.add(GitRepo.create(tmp_path / "other", web_app("SOMETHING ELSE")), "other.git")
        server = start(tmp_path)
        api = Api(server)
        app = api.expect(201, "POST", "/api/apps", {"name": name, "repo_url": git_server.url("app.git")})
        dep = api.finish(app["deployment_id"], "failed", "git must not follow a redirect to another repository")
        assert "redirect" in (dep["error"] or ""), f"the error does not name the redirect: {dep['error']!r}"
        fetched = [p for p in git_server.paths() if p.startswith("/other.git/")]
        assert not fetched, f"git fetched from the repository it was redirected to: {fetched}"
        assert not containers(f"slipway.app={name}"), "something was deployed"
        status, body = get_raw(app["port"], "/")
        assert status == 503 and b"SOMETHING ELSE" not in body, (status, body[:200])
        api.delete(name)
    finally:
        if server is not None:
            stop(server)
        git_server.close()


def test_a_repository_with_a_malformed_object_is_refused(tmp_path: Path, cleanup):
    name = app_name("fsck")
    cleanup.append(name)
    repo = GitRepo.create(tmp_path / "src", web_app("fsck"))
    # A commit without an author's email: git can read it, but fsck calls it an error (missingEmail).
    tree = repo.git("write-tree")
    raw = tmp_path / "commit.txt"
    raw.write_text(f"tree {tree}\nauthor Nobody 1700000000 +0000\ncommitter C <c@example.com> 1700000000 +0000\n\nmalformed\n")
    bad = repo.git("hash-object", "-t", "commit", "-w", "--literally", str(raw))
    repo.git("update-ref", "refs/heads/main", bad)
    server = start(tmp_path, allow_local=True)
    try:
        api = Api(server)
        # file:// makes git use its transport (with fsck), not a local copy.
        app = api.expect(201, "POST", "/api/apps", {"name": name, "repo_url": f"file://{repo.url}"})
        dep = api.finish(app["deployment_id"], "failed", "objects are checked as they are fetched")
        assert "fsck" in (dep["error"] or ""), f"the error does not say fsck refused it: {dep['error']!r}"
        assert not containers(f"slipway.app={name}"), "something was deployed"
        api.delete(name)
    finally:
        stop(server)


# --- 9: an old git is warned about -------------------------------------------------------------


def test_an_old_git_is_warned_about_in_the_log_and_on_the_dashboard(tmp_path: Path):
    bin_dir = fake_git(tmp_path / "bin", """
if [ "$1" = "--version" ]; then echo "git version 2.20.0"; exit 0; fi
exec "$REAL_GIT" "$@"
""")
    server = start(tmp_path, path_prefix=bin_dir)
    try:
        log = server.stderr_text()
        assert re.search(r"WARN git 2\.20\.0 is older than 2\.39", log), f"no warning in the log:\n{tail(log, 10)}"
        cookie = login(server)
        html = page(server, "/", cookie)
        match = re.search(r'<div class="banner warning server-warning" id="warning-git-version">([^<]*)</div>', html)
        assert match and "git 2.20.0 is older than 2.39" in match.group(1), f"no git-version warning on the dashboard:\n{html[:2000]}"
    finally:
        stop(server)


def test_a_current_git_raises_no_warning(tmp_path: Path):
    server = start(tmp_path)
    try:
        assert "git-version" not in server.stderr_text() and "older than 2.39" not in server.stderr_text()
        assert 'id="warning-git-version"' not in page(server, "/", login(server))
    finally:
        stop(server)
