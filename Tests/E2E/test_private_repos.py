"""End-to-end tests of private repositories and GitHub commit statuses.

- HTTPS token: a repository served over git's dumb HTTP protocol by a small
  server in this process that answers 401 (WWW-Authenticate: Basic) unless the
  request carries `Authorization: Basic base64("x-access-token:" + TOKEN)`.
- SSH deploy key: a private sshd on a free loopback port, with its own host
  key and authorized_keys, started and killed by the test (needs root and
  openssh-server, which scripts/test-env.sh installs).
- Commit statuses: a fake GitHub REST API in this process recording
  POST /repos/{owner}/{repo}/statuses/{sha}; the server runs with
  --github-api-url pointing at it and --github-host 127.0.0.1.

Secrets (the git token, the GitHub token) are looked for in every API
response, in the deployment logs, in the server's own log and on every
command line `ps -eo args` shows while the deployments run.

One server is shared by the module; each test makes its own repositories,
servers and apps, and deletes the apps (so their containers and images go).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Optional

import pytest

from conftest import HOST, SlipwayServer, start_server, tail
from deploykit import (
    Api,
    PsWatcher,
    free_port_range,
    poll,
    remove_docker_objects,
    server_flags,
    wait_serving,
)
from gitrepo import GitRepo, dockerfile_with_run, run_git, web_app
from githttp import GitHttpServer
from loopback import free_port

SSHD = "/usr/sbin/sshd"
GITHUB_TOKEN = "ghp_test123"
# A failed clone must end by itself, quickly: git must never sit waiting for a password.
FAIL_FAST_S = 30.0
# Commit statuses are posted off the deployment's thread, so they may arrive a little after it ends.
STATUS_TIMEOUT_S = 20.0


# --- A fake GitHub REST API ------------------------------------------------------------------


@dataclass
class ApiCall:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)


class FakeGitHubApi:
    """Records every request; answers 201 {} (or `answer_status`, say 500, for everything)."""

    def __init__(self):
        self.calls: list[ApiCall] = []
        self.answer_status = 201
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer._lock:
                    outer.calls.append(ApiCall(self.command, self.path,
                                               {k.lower(): v for k, v in self.headers.items()}, body))
                    status = outer.answer_status
                reply = b'{"message": "Server Error"}' if status >= 500 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_GET = do_PUT = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{HOST}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def statuses(self, owner: str, repo: str, sha: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls if c.path == f"/repos/{owner}/{repo}/statuses/{sha}"]

    def all_calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self.calls)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


# --- A private sshd ------------------------------------------------------------------------------


class Sshd:
    """/usr/sbin/sshd -D on a free port of 127.0.0.1 with its own host key, config and authorized_keys."""

    def __init__(self, work: Path):
        if not Path(SSHD).is_file():
            pytest.fail(f"{SSHD} not found: install openssh-server (scripts/test-env.sh does)", pytrace=False)
        if os.geteuid() != 0:
            pytest.fail("the deploy-key test runs sshd as root (it logs in as root)", pytrace=False)
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory
        self.host_key = work / "host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "slipway-test-host", "-f", str(self.host_key)],
                       check=True, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        self.authorized_keys = work / "authorized_keys"
        self.authorized_keys.write_text("")
        self.config = work / "sshd_config"
        self.config.write_text("\n".join([
            f"ListenAddress {HOST}",
            f"HostKey {self.host_key}",
            f"PidFile {work / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "LogLevel VERBOSE",
        ]) + "\n")
        self.log_path = work / "sshd.log"
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        for _attempt in range(3):
            self.port = free_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config), "-p", str(self.port)],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_banner():
                return
            self.stop()
        raise AssertionError(f"sshd did not start; its log:\n{tail(self.log_text())}")

    def _wait_banner(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def host_key_body(self) -> str:
        """The base64 part of the host's public key, as known_hosts records it."""
        return Path(f"{self.host_key}.pub").read_text().split()[1]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# --- Fixtures ---------------------------------------------------------------------------------


@dataclass
class Private:
    server: SlipwayServer
    api: Api
    work: Path
    prefix: str
    github: FakeGitHubApi

    def name(self, suffix: str) -> str:
        return self.prefix + suffix


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    prefix = f"p{secrets.token_hex(3)}-"
    work = tmp_path_factory.mktemp("private")
    github = FakeGitHubApi()
    server = None
    try:
        low, high = free_port_range(10)
        server = start_server(work, extra_args=server_flags(
            low, high, extra=["--github-api-url", github.url, "--github-host", HOST]))
        yield Private(server, Api(server), work, prefix, github)
    finally:
        try:
            if server is not None:
                if server.proc.poll() is None:
                    server.assert_clean_stop()
                else:
                    raise AssertionError(f"server died during the tests with {server.proc.returncode}; "
                                         f"stderr tail:\n{tail(server.stderr_text())}")
        finally:
            github.close()
            problems = remove_docker_objects(prefix)
            assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


def assert_secret_nowhere(p: Private, secret: str, what: str, apps: Iterable[str], deployment_ids: Iterable[int]) -> None:
    """`secret` is in no API response about these apps and deployments, no deployment log and not in the server's log."""
    places = {"GET /api/apps": json.dumps(p.api.expect(200, "GET", "/api/apps")),
              "the server's stderr": p.server.stderr_text(),
              "the server's stdout": p.server.stdout_path.read_text(errors="replace")}
    for name in apps:
        places[f"GET /api/apps/{name}"] = json.dumps(p.api.app(name))
        places[f"GET /api/apps/{name}/deployments"] = json.dumps(p.api.deployments(name))
        places[f"GET /api/apps/{name}/deliveries"] = json.dumps(p.api.deliveries(name))
    for dep_id in deployment_ids:
        places[f"GET /api/deployments/{dep_id}"] = json.dumps(p.api.deployment(dep_id))
        places[f"the log of deployment {dep_id}"] = p.api.log(dep_id)
    leaks = [where for where, text in places.items() if secret in text]
    assert not leaks, f"{what} leaked into: {leaks}"
    # The base64 form of the Basic credentials is as secret as the token itself.
    basic = base64.b64encode(f"x-access-token:{secret}".encode()).decode()
    leaks = [where for where, text in places.items() if basic in text]
    assert not leaks, f"{what} (as Basic credentials) leaked into: {leaks}"


# --- HTTPS token ---------------------------------------------------------------------------------


def test_https_git_token_clones_a_private_repository_and_never_shows(private, tmp_path):
    p = private
    token = "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "B")
    repo = GitRepo.create(tmp_path / "work", web_app("private v1"), message="v1: private")
    git = GitHttpServer(tmp_path / "served", token=token)
    with_token, without = p.name("tok"), p.name("notok")
    try:
        git.add(repo, "repo.git")
        url = git.url("repo.git")
        with PsWatcher(token) as ps:
            created = p.api.create(with_token, url, git_token=token)
            assert created.get("has_git_token") is True, f"has_git_token should say the token is set: {created}"
            assert token not in json.dumps(created), "the create response shows the git token"
            good = p.api.finish(created["deployment_id"], why="a deployment of the private repository with its token")
            assert good["commit_sha"] == repo.head(), good
            wait_serving(created["port"], "private v1")

            # Another app on the same repository without a token: git gets 401 and must fail
            # at once, never prompting for a user name or password.
            other = p.api.create(without, url)
            assert other.get("has_git_token") is False, other
            started = time.monotonic()
            bad = p.api.finish(other["deployment_id"], "failed", why="a clone of the private repository without a token",
                               timeout=FAIL_FAST_S)
            took = time.monotonic() - started
        ps.assert_clean("the git token")

        assert took < FAIL_FAST_S, f"the failing clone took {took:.1f}s"
        assert bad["error"] and set(bad["steps"]) == {"clone"}, f"the failure belongs to the clone step: {bad}"
        assert p.api.app(with_token)["has_git_token"] is True
        assert p.api.app(without)["status"] == "failed", p.api.app(without)

        seen = git.seen()
        assert any(ok for _, ok in seen), f"no request to the git server carried the token: {seen[:10]}"
        assert any(not ok for _, ok in seen), f"the tokenless clone never reached the git server: {seen[:10]}"
        assert_secret_nowhere(p, token, "the git token", [with_token, without], [good["id"], bad["id"]])
    finally:
        for name in (with_token, without):
            p.api.delete(name)
        git.close()


# --- SSH deploy key --------------------------------------------------------------------------------


def test_ssh_deploy_key_clones_over_ssh_and_records_the_host_key(private, tmp_path):
    p = private
    name = p.name("ssh")
    sshd = Sshd(tmp_path / "sshd")
    try:
        repo = GitRepo.create(tmp_path / "work", web_app("ssh v1"), message="v1: over ssh")
        bare = tmp_path / "git" / "app.git"
        bare.parent.mkdir(parents=True)
        run_git(bare.parent, "clone", "-q", "--bare", str(repo.path), str(bare))
        url = f"ssh://root@{HOST}:{sshd.port}{bare}"
        created = p.api.create(name, url, deploy=False)
        assert created["deploy_key"] is None, created

        generated = p.api.expect(201, "POST", f"/api/apps/{name}/deploy-key")
        key = generated.get("public_key", "")
        assert re.fullmatch(r"ssh-ed25519 [A-Za-z0-9+/=]+( \S+)?", key), f"public_key: {generated}"
        assert "PRIVATE" not in json.dumps(generated), generated
        assert p.api.app(name)["deploy_key"] == key
        assert p.api.expect(200, "GET", f"/api/apps/{name}/deploy-key") == {"public_key": key}
        private_key = p.server.data_dir / "keys" / f"{name}_ed25519"
        assert private_key.is_file() and private_key.stat().st_mode & 0o077 == 0, (
            f"the private key should be at {private_key}, readable by its owner only")

        # Before the key is authorized the clone is refused, and fails at once (BatchMode: no prompt).
        refused = p.api.expect(202, "POST", f"/api/apps/{name}/deployments")
        refused = p.api.finish(refused["id"], "failed", why="a clone over ssh before the key is authorized",
                               timeout=FAIL_FAST_S)
        assert set(refused["steps"]) == {"clone"}, refused

        sshd.authorized_keys.write_text(key + "\n")
        dep = p.api.expect(202, "POST", f"/api/apps/{name}/deployments")
        final = p.api.finish(dep["id"], why="a clone over ssh with the authorized deploy key")
        assert final["commit_sha"] == repo.head(), final
        wait_serving(created["port"], "ssh v1")

        # Host keys are recorded on first use, in a file of Slipway's own.
        known_hosts = p.server.data_dir / "known_hosts"
        assert known_hosts.is_file(), f"no known_hosts in the data dir {p.server.data_dir}"
        recorded = known_hosts.read_text()
        # ssh may hash the host names (HashKnownHosts); ssh-keygen -F finds them either way.
        found = subprocess.run(["ssh-keygen", "-F", f"[{HOST}]:{sshd.port}", "-f", str(known_hosts)],
                               capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert found.returncode == 0 and sshd.host_key_body() in found.stdout, (
            f"known_hosts should hold the test sshd's host key for [{HOST}]:{sshd.port}:\n{recorded}")
        accepted = [line for line in sshd.log_text().splitlines() if "Accepted publickey for root" in line]
        assert accepted, f"sshd logged no key login:\n{tail(sshd.log_text())}"

        p.api.delete(name)
        assert not private_key.exists(), "deleting the app must delete its private deploy key"
    finally:
        p.api.delete(name)
        sshd.stop()


# --- GitHub commit statuses ------------------------------------------------------------------------


def served_repo(tmp_path: Path, files: dict, message: str, rel: str) -> tuple[GitRepo, GitHttpServer, str]:
    repo = GitRepo.create(tmp_path / "work", files, message=message)
    git = GitHttpServer(tmp_path / "served")
    git.add(repo, rel)
    return repo, git, git.url(rel)


def wait_statuses(p: Private, owner: str, repo: str, sha: str, count: int) -> list:
    def probe():
        calls = p.github.statuses(owner, repo, sha)
        return len(calls) >= count, [(c.method, c.path, c.body[:200]) for c in calls]

    try:
        poll(probe, STATUS_TIMEOUT_S, f"{count} status posts for {owner}/{repo}@{sha[:12]}")
    except AssertionError as exc:
        others = [(c.method, c.path) for c in p.github.all_calls()]
        raise AssertionError(f"{exc}\nall calls to the fake API: {others}\n"
                             f"server stderr tail:\n{tail(p.server.stderr_text(), 15)}") from None
    return p.github.statuses(owner, repo, sha)


def assert_no_more_statuses(p: Private, owner: str, repo: str, sha: str, states: list[str]) -> None:
    """Checked at the end of a test, a while after the last expected status: nothing else was posted."""
    seen = [c.json().get("state") for c in p.github.statuses(owner, repo, sha)]
    assert seen == states, f"statuses posted for {owner}/{repo}@{sha[:12]}: {seen}, expected exactly {states}"


def check_status_call(call: ApiCall, state: str, dep: dict) -> None:
    assert call.method == "POST", call
    assert call.headers.get("authorization") == f"Bearer {GITHUB_TOKEN}", f"Authorization: {call.headers}"
    assert call.headers.get("content-type", "").startswith("application/json"), call.headers
    body = call.json()
    assert body.get("state") == state, f"expected state {state!r}: {body}"
    assert isinstance(body.get("target_url"), str) and body["target_url"].endswith(f"/deployments/{dep['id']}"), body
    assert isinstance(body.get("description"), str) and 0 < len(body["description"]) <= 140, body
    assert isinstance(body.get("context"), str) and body["context"], body


def test_commit_statuses_pending_then_success(private, tmp_path):
    p = private
    name = p.name("status-ok")
    repo, git, url = served_repo(tmp_path, web_app("status v1"), "v1: statuses", "owner1/repo1.git")
    try:
        with PsWatcher(GITHUB_TOKEN) as ps:
            created = p.api.create(name, url, github_token=GITHUB_TOKEN)
            assert created.get("has_github_token") is True and GITHUB_TOKEN not in json.dumps(created), created
            final = p.api.finish(created["deployment_id"], why="a deployment that reports commit statuses")
            calls = wait_statuses(p, "owner1", "repo1", final["commit_sha"], 2)
        ps.assert_clean("the GitHub token")
        assert final["commit_sha"] == repo.head()
        wait_serving(created["port"], "status v1")

        assert [c.json().get("state") for c in calls] == ["pending", "success"], [c.body for c in calls]
        check_status_call(calls[0], "pending", final)
        check_status_call(calls[1], "success", final)
        assert calls[0].json()["context"] == calls[1].json()["context"], "one context for the whole deployment"
        assert p.api.app(name)["has_github_token"] is True
        assert_secret_nowhere(p, GITHUB_TOKEN, "the GitHub token", [name], [final["id"]])
        assert_no_more_statuses(p, "owner1", "repo1", final["commit_sha"], ["pending", "success"])
    finally:
        p.api.delete(name)
        git.close()


def test_commit_statuses_pending_then_failure(private, tmp_path):
    p = private
    name = p.name("status-bad")
    repo, git, url = served_repo(tmp_path, web_app("never served", dockerfile_with_run("false")), "v1: broken build",
                                 "owner1/broken.git")
    try:
        with PsWatcher(GITHUB_TOKEN) as ps:
            created = p.api.create(name, url, github_token=GITHUB_TOKEN)
            failed = p.api.finish(created["deployment_id"], "failed", why="a deployment whose build fails")
            calls = wait_statuses(p, "owner1", "broken", repo.head(), 2)
        ps.assert_clean("the GitHub token")
        assert failed["commit_sha"] == repo.head(), failed
        assert [c.json().get("state") for c in calls] == ["pending", "failure"], [c.body for c in calls]
        check_status_call(calls[0], "pending", failed)
        check_status_call(calls[1], "failure", failed)
        assert_secret_nowhere(p, GITHUB_TOKEN, "the GitHub token", [name], [failed["id"]])
        assert p.api.app(name)["status"] == "failed"
        assert_no_more_statuses(p, "owner1", "broken", repo.head(), ["pending", "failure"])
    finally:
        p.api.delete(name)
        git.close()


def test_a_failing_github_api_does_not_fail_the_deployment(private, tmp_path):
    p = private
    name = p.name("status-500")
    repo, git, url = served_repo(tmp_path, web_app("despite github"), "v1: github is down", "owner1/repo500.git")
    p.github.answer_status = 500
    try:
        with PsWatcher(GITHUB_TOKEN) as ps:
            created = p.api.create(name, url, github_token=GITHUB_TOKEN)
            final = p.api.finish(created["deployment_id"], why="a deployment while the GitHub API answers 500")
            calls = wait_statuses(p, "owner1", "repo500", repo.head(), 2)
        ps.assert_clean("the GitHub token")
        wait_serving(created["port"], "despite github")
        assert [c.json().get("state") for c in calls] == ["pending", "success"], [c.body for c in calls]
        assert p.api.app(name)["live_deployment_id"] == final["id"]
        assert_secret_nowhere(p, GITHUB_TOKEN, "the GitHub token", [name], [final["id"]])
        assert_no_more_statuses(p, "owner1", "repo500", repo.head(), ["pending", "success"])
    finally:
        p.github.answer_status = 201
        p.api.delete(name)
        git.close()
