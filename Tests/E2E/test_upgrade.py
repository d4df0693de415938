"""Seamless upgrades through the real binary: SIGHUP (systemd's reload) starts the binary as
`serve --takeover`, which takes every listening socket over from the running process through
DATA_DIR/takeover.sock; the old one stops accepting, drains and exits. Checked under load on an
app's port and on the HTTP edge (no request may fail), with systemd's notify protocol (a datagram
socket of the test's own as NOTIFY_SOCKET), with a deployment running when the upgrade starts, and
with a successor that fails to start (the running process must serve on).

Cleaning up: the servers run with `--container-label slipway.test=1`, app names start with a
prefix unique to this run, and `end_of_test` removes what carries that prefix; a successor the
test did not start itself (SIGHUP starts it) is killed by its pid.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import HOST, poll, run_cli, start_server
from deploykit import Api, end_of_test, free_port_range, server_flags
from gitrepo import GitRepo, dockerfile_with_run, web_app
from loopback import free_port
from slipway_process import alive

APP_PORTS = (35000, 35999)
_started: list = []
_successors: list[int] = []


@pytest.fixture
def prefix():
    value = f"u{secrets.token_hex(3)}-"
    yield value
    while _successors:
        pid = _successors.pop()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    end_of_test(value, _started)


@pytest.fixture
def short_dir():
    """A directory with a short path: a Unix socket's path is at most 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="slw-up-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Notifications:
    """systemd's side of sd_notify: a datagram socket whose messages are kept in order."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if text in message:
                    self.messages.remove(message)
                    return message
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError(f"no notification containing {text!r} within {timeout:.0f}s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()


class Load(threading.Thread):
    """Requests on fresh connections, one after another, counting answers that are not the app's."""

    def __init__(self, port: int, host_header: str, body: str):
        super().__init__(daemon=True)
        self.port, self.host_header = port, host_header
        # The app's answers: one body, or several while deployments switch between versions.
        self.accepted = {body}
        self.ok = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
            try:
                conn.request("GET", "/", headers={"Host": self.host_header})
                resp = conn.getresponse()
                text = resp.read().decode(errors="replace")
                if resp.status == 200 and text.strip() in self.accepted:
                    self.ok += 1
                else:
                    self.failures.append(f"{resp.status} {text[:80]!r}")
            except OSError as error:
                self.failures.append(repr(error))
            finally:
                conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(15)


def serve(data_dir: Path, tmp_path: Path, low: int, high: int, edge_port: int, notify: Path | None = None, extra=()):
    env = {"NOTIFY_SOCKET": str(notify)} if notify else {}
    server = start_server(tmp_path, data_dir=data_dir,
                          extra_args=server_flags(low, high, allow_local=True,
                                                  extra=("--http-port", str(edge_port), "--drain-timeout", "5", *extra)),
                          env_extra=env)
    _started.append(server)
    return server


def upgrade(server, notes: Notifications) -> int:
    """SIGHUP, then the successor's pid (from its MAINPID notification) once the old process exited."""
    server.proc.send_signal(signal.SIGHUP)
    message = notes.wait_for("MAINPID=")
    pid = int(message.split("MAINPID=")[1].split()[0])
    _successors.append(pid)
    assert "READY=1" in message, message
    code = server.proc.wait(30)
    assert code == 0, f"the old process exited with {code}"
    return pid


def test_sighup_hands_every_listening_socket_over_under_load_without_a_failed_request(tmp_path, prefix, short_dir):
    low, high = free_port_range(2, APP_PORTS)
    edge_port = free_port()
    notes = Notifications(short_dir / "notify")
    try:
        server = serve(short_dir / "data", tmp_path, low, high, edge_port, notify=short_dir / "notify")
        assert "READY=1" in notes.wait_for("READY=1"), "a plain start says READY=1 (Type=notify)"
        api = Api(server)
        repo = GitRepo.create(tmp_path / "repo", web_app("v1"))
        name = prefix + "app"
        created = api.create(name, repo.url, domains=["upgrade.test"])
        api.finish(created["deployment_id"], why="the first deployment")
        app_port = api.app(name)["port"]

        loads = [Load(app_port, f"{HOST}:{app_port}", "v1"), Load(edge_port, "upgrade.test", "v1")]
        for load in loads:
            load.start()
        poll(lambda: (all(load.ok >= 20 for load in loads), [load.ok for load in loads]), 30, "load to flow before the upgrade")

        first = upgrade(server, notes)
        assert alive(first) and first != server.proc.pid
        before = [load.ok for load in loads]
        poll(lambda: (all(load.ok >= b + 20 for load, b in zip(loads, before)), [load.ok for load in loads]), 30,
             "load to flow through the successor")

        # The successor can hand over in turn: its own takeover socket is up, its arguments carry
        # --takeover once.
        os.kill(first, signal.SIGHUP)
        message = notes.wait_for("MAINPID=")
        second = int(message.split("MAINPID=")[1].split()[0])
        _successors.append(second)
        poll(lambda: (not alive(first), first), 30, "the first successor to exit")
        with open(f"/proc/{second}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        assert args.count(b"--takeover") == 1, args
        before = [load.ok for load in loads]
        poll(lambda: (all(load.ok >= b + 20 for load, b in zip(loads, before)), [load.ok for load in loads]), 30,
             "load to flow through the second successor")
        for load in loads:
            load.stop()
        for load in loads:
            assert load.failures == [], f"{len(load.failures)} failed requests on port {load.port}: {load.failures[:5]}"

        # Everything else works in the successor: the API, the queue, the supervisor.
        log = (server.stderr_text())
        assert "upgrade: passed" in log and "has taken over" in log, log[-3000:]
        repo.commit(web_app("v2"), "v2")
        dep = api.expect(202, "POST", f"/api/apps/{name}/deployments", {})
        api.finish(dep["id"], why="a deployment after two upgrades")
        poll(lambda: (api.app(name)["status"] == "running", api.app(name)["status"]), 30, "the app to run v2")
        conn = http.client.HTTPConnection(HOST, app_port, timeout=5)
        conn.request("GET", "/")
        assert conn.getresponse().read().decode().strip() == "v2"
        conn.close()
        os.kill(second, signal.SIGTERM)
        poll(lambda: (not alive(second), second), 15, "the second successor to stop on SIGTERM")
    finally:
        notes.close()


def test_an_upgrade_waits_for_a_running_deployment_and_a_failed_successor_leaves_the_server_serving(tmp_path, prefix, short_dir):
    low, high = free_port_range(2, APP_PORTS)
    edge_port = free_port()
    data_dir = short_dir / "data"
    server = serve(data_dir, tmp_path, low, high, edge_port)
    api = Api(server)

    # Nothing to take over on another data directory: a clear error, not a second server.
    lonely = run_cli("serve", "--host", HOST, "--port", str(free_port()), "--data-dir", str(short_dir / "other"),
                     "--takeover", "--app-ports", "off", timeout=20)
    assert lonely.returncode == 1 and "no running Slipway to take over at" in lonely.stderr, lonely.stderr

    # A successor that cannot start (its templates are missing) gets the sockets, fails, and the
    # running server goes on: dashboard connections paused meanwhile are served, deployments run.
    failed = run_cli("serve", "--host", HOST, "--port", str(server.port), "--data-dir", str(data_dir), "--takeover",
                     *server_flags(low, high, allow_local=True, extra=("--http-port", str(edge_port))),
                     "--templates-dir", str(short_dir / "missing"), timeout=60)
    assert failed.returncode == 1, failed.stderr
    assert "took over" in failed.stderr and "start-up failed" in failed.stderr, failed.stderr
    poll(lambda: ("this one serves on" in server.stderr_text(), server.stderr_text()[-1500:]), 15,
         "the running server to say it serves on")
    assert server.request("GET", "/healthz").status == 200

    # A deployment running when the upgrade starts finishes in the old process, not interrupted.
    repo = GitRepo.create(tmp_path / "repo", web_app("slow", dockerfile=dockerfile_with_run("sleep 4")))
    name = prefix + "slow"
    created = api.create(name, repo.url)
    api.wait_deployment(created["deployment_id"], until={"building"}, timeout=60)
    server.proc.send_signal(signal.SIGHUP)
    poll(lambda: ("waiting for 1 running deployments" in server.stderr_text(), server.stderr_text()[-1500:]), 15,
         "the old process to wait for the running deployment")
    assert server.proc.wait(60) == 0
    # The successor (not notified: no NOTIFY_SOCKET here) answers on the same port.
    dep = api.finish(created["deployment_id"], why="a deployment that ran across the upgrade")
    assert dep["status"] == "succeeded"
    successor = [int(p) for p in os.listdir("/proc") if p.isdigit() and alive(int(p))
                 and str(data_dir).encode() in open(f"/proc/{p}/cmdline", "rb").read()]
    _successors.extend(successor)
    assert len(successor) == 1, successor
    poll(lambda: (api.app(name)["status"] == "running", api.app(name)), 30, "the app to run after the upgrade")
    os.kill(successor[0], signal.SIGTERM)
    poll(lambda: (not alive(successor[0]), successor[0]), 15, "the successor to stop on SIGTERM")


def test_a_deployment_queued_when_slipway_is_killed_runs_after_the_restart(tmp_path, prefix):
    low, high = free_port_range(3, APP_PORTS)
    server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True, extra=("--max-builds", "1")))
    _started.append(server)
    api = Api(server)
    slow = GitRepo.create(tmp_path / "slow", web_app("slow", dockerfile=dockerfile_with_run("sleep 30")))
    quick = GitRepo.create(tmp_path / "quick", web_app("quick"))
    running = api.create(prefix + "slow", slow.url)
    api.wait_deployment(running["deployment_id"], until={"building"}, timeout=60)
    waiting = api.create(prefix + "quick", quick.url)
    assert api.deployment(waiting["deployment_id"])["status"] == "queued"
    server.proc.kill()
    server.proc.wait()
    again = start_server(tmp_path, data_dir=server.data_dir, log_name="again",
                         extra_args=server_flags(low, high, allow_local=True, extra=("--max-builds", "1")))
    _started.append(again)
    api = Api(again)
    assert api.wait_deployment(running["deployment_id"], timeout=30)["status"] == "interrupted"
    api.finish(waiting["deployment_id"], why="the deployment that was only queued when Slipway was killed")
