"""End-to-end tests of the deploy pipeline: the real binary, real git, the real Docker engine.

The app under deployment is busybox httpd serving index.html, built FROM the
local base image slipway-test-base:latest (scripts/test-env.sh makes it; no
registry is reachable, so nothing is ever pulled). Each test makes its own
git repository and its own app; one server is shared by the module, and the
tests that must kill or restart a server start their own.

Cleaning up: the servers run with `--container-label slipway.test=1`, and
every app name starts with a prefix unique to this run, so the teardown
removes exactly the containers and images labelled slipway.test=1 whose
slipway.app label starts with that prefix, and nothing else.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from conftest import (
    DEBIAN_DOCKER,
    HttpResult,
    SlipwayServer,
    assert_json_error,
    start_server,
    tail,
)
from deploykit import (
    DRAIN_TIMEOUT_S,
    NO_BODY,
    TEST_LABEL,
    Api,
    containers,
    docker,
    fetch,
    free_port_range,
    images,
    poll,
    remove_docker_objects,
    server_flags,
    try_fetch,
    wait_serving,
)
from gitrepo import (
    DumbHttpRemote,
    GitRepo,
    dockerfile_with_cmd,
    dockerfile_with_run,
    web_app,
)
from loopback import port_is_free

# Apart from deploykit's APP_PORT_RANGE, which the webhook and private-repository tests use.
APP_PORT_RANGE = (20000, 29999)
APP_PORT_COUNT = 12  # the module server's apps; each test makes at most two

# A stopped container: busybox httpd as PID 1 ignores SIGTERM, so `docker stop` waits 10 s for it.
CONTAINER_GONE_TIMEOUT_S = 30.0


# --- The app's public port --------------------------------------------------------------


def assert_serving(port: int, body: str, why: str) -> None:
    seen = try_fetch(port)
    assert seen == (200, body), f"{why}: port {port} should serve {body!r}, got {seen!r}"


@dataclass
class Sample:
    started: float
    ok: bool
    body: str  # the body, or what went wrong


class PortLoad(threading.Thread):
    """GETs / on the app's port in a loop, a new connection each time, recording every result.

    Paced at about 100 requests a second so a long run cannot exhaust the
    ephemeral ports with TIME_WAIT sockets. Stops at stop() or its deadline.
    """

    def __init__(self, port: int, max_seconds: float = 90.0):
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[Sample] = []
        self._halt = threading.Event()
        self._deadline = time.monotonic() + max_seconds

    def run(self) -> None:
        while not self._halt.is_set() and time.monotonic() < self._deadline:
            started = time.monotonic()
            try:
                status, body = fetch(self.port, timeout=5.0)
                ok = status == 200
                self.samples.append(Sample(started, ok, body if ok else f"HTTP {status}: {body[:100]}"))
            except (OSError, http.client.HTTPException) as exc:
                self.samples.append(Sample(started, False, f"{type(exc).__name__}: {exc}"))
            self._halt.wait(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join(15)
        assert not self.is_alive(), "load client did not stop"

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def bodies(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.samples:
            if s.ok:
                counts[s.body] = counts.get(s.body, 0) + 1
        return counts

    def summary(self) -> str:
        failures = self.failures()
        shown = "\n".join(f"  +{s.started - self.samples[0].started:.2f}s {s.body}" for s in failures[:10])
        return f"{len(self.samples)} requests, bodies {self.bodies()}, {len(failures)} failed:\n{shown}"


# --- Docker ------------------------------------------------------------------------------


def deployment_containers(app: str, deployment_id: int, running_only: bool = False) -> list[str]:
    # Deployment ids are per server (per database), so always pair them with the app's name.
    return containers(f"slipway.app={app}", f"slipway.deployment={deployment_id}", running_only=running_only)


def deployment_images(app: str, deployment_id: int) -> list[str]:
    return images(f"slipway.app={app}", f"slipway.deployment={deployment_id}")


def containers_running_command(needle: str) -> list[str]:
    """Containers whose command contains `needle`: a unique RUN line finds the
    legacy builder's intermediate container, which carries no slipway.app label."""
    rows = docker("ps", "-a", "--no-trunc", "--format", "{{.ID}}\t{{.Command}}")
    return [cid for cid, _, cmd in (r.partition("\t") for r in rows.splitlines()) if needle in cmd]


def remove_build_leftovers(needle: str) -> None:
    """Removes containers labelled slipway.test=1 (inherited from the base image) that run `needle`."""
    rows = docker("ps", "-a", "--no-trunc", "--filter", f"label={TEST_LABEL}", "--format", "{{.ID}}\t{{.Command}}",
                  check=False)
    doomed = [cid for cid, _, cmd in (r.partition("\t") for r in rows.splitlines()) if needle in cmd]
    if doomed:
        docker("rm", "-f", "-v", *doomed, check=False)


def inspect(object_id: str) -> dict:
    return json.loads(docker("inspect", object_id))[0]


def wait_no_containers(app: str, deployment_id: int, why: str, timeout: float = CONTAINER_GONE_TIMEOUT_S) -> None:
    def probe():
        left = deployment_containers(app, deployment_id)
        return not left, left

    try:
        poll(probe, timeout, f"no container of {app} deployment {deployment_id}", interval=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{why}: {exc}") from None


# --- Processes on the host ------------------------------------------------------------------


def host_process_args() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, timeout=10).stdout


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live processes (not this one) that contain every needle."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if args and all(n in args for n in needles):
            found.append(f"{entry.name}: {args}")
    return found


def assert_field_error(resp: HttpResult, status: int, fields: str | tuple[str, ...], what: str) -> dict:
    """The API's error shape with `status`, and the message names one of `fields`."""
    assert resp.status == status, f"{what}: expected {status}, got {resp.status}: {resp.body[:300]!r}"
    error = assert_json_error(resp, status)
    names = (fields,) if isinstance(fields, str) else fields
    assert any(n.lower() in error["message"].lower() for n in names), (
        f"{what}: error message should name {' or '.join(names)}: {error!r}"
    )
    return error


def stop_server(server: SlipwayServer) -> None:
    if server.proc.poll() is None:
        server.assert_clean_stop()
    else:
        raise AssertionError(f"server died during the tests with {server.proc.returncode}; "
                             f"stderr tail:\n{tail(server.stderr_text())}")


# --- Fixtures -------------------------------------------------------------------------------


@dataclass
class Pipeline:
    server: SlipwayServer
    api: Api
    work: Path
    prefix: str
    low: int
    high: int

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    def repo(self, suffix: str, body: str = "v1", files: Optional[dict] = None) -> GitRepo:
        return GitRepo.create(self.work / "repos" / suffix, files or web_app(body), message=f"{body}: first version")

    def create(self, repo_url: str, name: str, **settings) -> dict:
        return self.api.create(name, repo_url, **settings)

    def deploy_new(self, repo_url: str, name: str, body: str = "v1", **settings) -> tuple[dict, dict]:
        """Creates an app, waits for its first deployment to succeed and for its port to serve `body`."""
        created = self.create(repo_url, name, **settings)
        first = self.api.latest_deployment(name)
        final = self.api.finish(first["id"], why=f"first deployment of {name}")
        wait_serving(created["port"], body)
        return self.api.app(name), final


@pytest.fixture(scope="module")
def app_prefix():
    """A prefix unique to this run for every app name; the teardown removes what carries it."""
    prefix = f"t{secrets.token_hex(3)}-"
    yield prefix
    problems = remove_docker_objects(prefix)
    assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, app_prefix) -> Pipeline:
    work = tmp_path_factory.mktemp("pipeline")
    low, high = free_port_range(APP_PORT_COUNT, APP_PORT_RANGE)
    server = start_server(work, extra_args=server_flags(low, high, allow_local=True))
    try:
        yield Pipeline(server, Api(server), work, app_prefix, low, high)
    finally:
        stop_server(server)


@dataclass
class MainApp:
    name: str
    repo: GitRepo
    app: dict
    v1: dict  # the first, succeeded deployment
    v1_sha: str
    v2: Optional[dict] = None
    v2_sha: Optional[str] = None


@pytest.fixture(scope="module")
def main_app(pipeline) -> MainApp:
    """The app that deploy, redeploy and rollback work on, in that order."""
    repo = pipeline.repo("main")
    name = pipeline.name("main")
    app, v1 = pipeline.deploy_new(repo.url, name, memory_mb=64, cpus=0.5)
    return MainApp(name, repo, app, v1, repo.head())


def ensure_v2_live(p: Pipeline, m: MainApp) -> None:
    """Brings the main app to v2 when test_redeploy did not (say, when run alone)."""
    if m.v2 is not None and p.api.app(m.name)["live_deployment_id"] == m.v2["id"]:
        return
    if m.v2_sha is None:
        m.v2_sha = m.repo.commit(web_app("v2"), "v2: second version")
    dep = p.api.expect(202, "POST", f"/api/apps/{m.name}/redeploy")
    m.v2 = p.api.finish(dep["id"], why="redeploy to v2 before the rollback")
    wait_serving(m.app["port"], "v2")


# --- Deploy, redeploy, rollback -------------------------------------------------------------


def test_first_deployment_serves_v1(pipeline, main_app):
    api, m = pipeline.api, main_app
    app, dep = m.app, m.v1

    assert pipeline.low <= app["port"] <= pipeline.high, f"port {app['port']} outside {pipeline.low}-{pipeline.high}"
    assert app["url"] == f"http://127.0.0.1:{app['port']}", app
    assert app["status"] == "running", app
    assert app["live_deployment_id"] == dep["id"], (app, dep)
    assert app["repo_url"] == m.repo.url and app["branch"] == "main", app
    assert app["internal_port"] == 5000 and app["health_path"] == "/", app
    assert app["memory_mb"] == 64 and app["cpus"] == 0.5, app
    assert "webhook_secret" not in app, "only the create response may carry the webhook secret"
    assert app["webhook_url"].endswith(f"/hooks/github/{m.name}"), app

    assert dep["commit_sha"] == m.v1_sha, f"commit_sha {dep['commit_sha']!r}, git says {m.v1_sha}"
    assert dep["commit_message"] == m.repo.subject() == "v1: first version", dep
    assert dep["commit_author"] and "T" in dep["commit_author"], dep
    assert dep["live"] is True and dep["app"] == m.name, dep
    assert dep["image"], dep
    assert dep["started_at"] and dep["finished_at"] and isinstance(dep["duration_ms"], int), dep
    assert {"clone", "build", "start", "check", "swap"} <= set(dep["steps"]), f"steps: {dep['steps']!r}"
    assert all(isinstance(ms, int) and ms >= 0 for ms in dep["steps"].values()), dep["steps"]
    assert api.deployments(m.name) == [api.deployment(dep["id"])], "history should hold exactly the first deployment"

    assert_serving(app["port"], "v1", "after the first deployment")

    # The live container: labelled, limited, unprivileged, no host mounts, published on loopback only.
    running = deployment_containers(m.name, dep["id"], running_only=True)
    assert len(running) == 1, f"expected one running container for deployment {dep['id']}, got {running}"
    c = inspect(running[0])
    labels, host = c["Config"]["Labels"] or {}, c["HostConfig"]
    assert labels.get("slipway.test") == "1" and labels.get("slipway.instance"), labels
    assert host["RestartPolicy"]["Name"] == "unless-stopped", host["RestartPolicy"]
    assert host["Privileged"] is False, "container must not be privileged"
    assert not c["Mounts"] and not host.get("Binds"), f"no host mounts expected: {c['Mounts']} {host.get('Binds')}"
    assert host["Memory"] == 64 * 1024 * 1024, f"memory limit {host['Memory']}"
    assert host["NanoCpus"] == 500_000_000, f"cpu limit {host['NanoCpus']}"
    assert host.get("PidsLimit") and host["PidsLimit"] > 0, f"no pids limit: {host.get('PidsLimit')}"
    bindings = [b for bs in (host.get("PortBindings") or {}).values() for b in (bs or [])]
    assert bindings and all(b.get("HostIp") == "127.0.0.1" for b in bindings), f"port bindings: {bindings}"
    for published in (c["NetworkSettings"]["Ports"] or {}).values():
        for b in published or []:
            assert b["HostIp"] == "127.0.0.1", f"published beyond loopback: {b}"

    image_labels = inspect(dep["image"])["Config"]["Labels"] or {}
    assert image_labels.get("slipway.app") == m.name, image_labels
    assert image_labels.get("slipway.deployment") == str(dep["id"]), image_labels
    assert image_labels.get("slipway.test") == "1", image_labels


def test_redeploy_swaps_to_v2_without_a_failed_request(pipeline, main_app):
    api, m = pipeline.api, main_app
    port = m.app["port"]
    m.v2_sha = m.repo.commit(web_app("v2"), "v2: second version")

    load = PortLoad(port)
    load.start()
    done_at = None
    try:
        dep = api.expect(202, "POST", f"/api/apps/{m.name}/redeploy")
        assert dep["trigger"] == "redeploy" and dep["app"] == m.name, dep
        final = api.wait_deployment(dep["id"])
        done_at = time.monotonic()
        # Keep going past the drain period and the old container's stop: new
        # connections must never reach it, nor fail while it goes away.
        end = done_at + DRAIN_TIMEOUT_S + 2.0
        while time.monotonic() < end and load.is_alive():
            time.sleep(0.05)
    finally:
        load.stop()

    api.assert_status(final, "succeeded", "redeploy to v2")
    m.v2 = final
    print("load during the redeploy:", load.summary())
    assert final["commit_sha"] == m.v2_sha and final["commit_message"] == "v2: second version", final
    assert not load.failures(), "requests failed during the swap: " + load.summary()
    bodies = load.bodies()
    assert set(bodies) <= {"v1", "v2"}, "unexpected bodies: " + load.summary()
    assert bodies.get("v1", 0) > 0, "the load never saw v1: it did not run during the deployment? " + load.summary()
    late = [s for s in load.samples if s.started > done_at and s.body != "v2"]
    assert not late, f"requests started after the deployment succeeded must get v2: {late[:5]}"
    assert bodies.get("v2", 0) > 0, load.summary()

    assert_serving(port, "v2", "after the redeploy")
    app = api.app(m.name)
    assert app["port"] == port and app["live_deployment_id"] == final["id"] and app["status"] == "running", app
    assert api.deployment(m.v1["id"])["live"] is False
    assert final["live"] is True
    history = [d["id"] for d in api.deployments(m.name, limit=2)]
    assert history == [final["id"], m.v1["id"]], f"newest first expected: {history}"
    wait_no_containers(m.name, m.v1["id"], "the old container must be stopped and removed after the drain")
    assert len(deployment_containers(m.name, final["id"], running_only=True)) == 1


def test_rollback_serves_v1_again_without_a_build(pipeline, main_app):
    api, m = pipeline.api, main_app
    ensure_v2_live(pipeline, m)
    port = m.app["port"]

    dep = api.expect(202, "POST", f"/api/apps/{m.name}/rollback")
    assert dep["trigger"] == "rollback", dep
    assert dep["source_deployment_id"] == m.v1["id"], f"default rollback target should be the v1 deployment: {dep}"
    final = api.finish(dep["id"], why="rollback to v1")

    wait_serving(port, "v1", timeout=5)
    assert final["source_deployment_id"] == m.v1["id"], final
    assert final["image"] == m.v1["image"], f"rollback must reuse the v1 image {m.v1['image']!r}: {final['image']!r}"
    steps = set(final["steps"])
    assert "clone" not in steps and "build" not in steps, f"a rollback neither clones nor builds: {final['steps']}"
    assert {"check", "swap"} <= steps, f"a rollback still checks and swaps: {final['steps']}"
    log = api.log(final["id"])
    assert "docker build" not in log, "rollback log shows a build:\n" + tail(log, 40)
    assert "docker build" in api.log(m.v1["id"]), "control: a normal deployment's log shows its docker build"
    assert api.app(m.name)["live_deployment_id"] == final["id"]
    assert api.deployment(m.v2["id"])["live"] is False


# --- Failures keep the old version serving ---------------------------------------------------


def test_failed_deployments_keep_the_old_version_serving(pipeline):
    """One app, four failing versions in turn, with a client checking the port all along."""
    api = pipeline.api
    repo = pipeline.repo("fail")
    name = pipeline.name("fail")
    app, v1 = pipeline.deploy_new(repo.url, name)
    port = app["port"]

    # (what, files, the error says (exactly, or a word of it), a line the deployment log must show)
    variants = [
        ("broken build (RUN false)", web_app("bad", dockerfile_with_run("false")), ("build",), None),
        ("container exits at once",
         web_app("bad", dockerfile_with_cmd('["sh", "-c", "echo dying-at-once; exit 3"]')), ("exit",), "dying-at-once"),
        ("never healthy (nothing listens)", web_app("bad", dockerfile_with_cmd('["sleep", "1000"]')), ("health",), None),
        ("no Dockerfile", web_app("bad", dockerfile=None), "no Dockerfile at the repository root", None),
    ]
    # Wording is checked after all four ran, so one vague message does not hide the other cases.
    unclear: list[str] = []
    load = PortLoad(port, max_seconds=180)
    load.start()
    try:
        for what, files, says, log_marker in variants:
            repo.commit(files, f"broken: {what}")
            dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
            final = api.finish(dep["id"], "failed", why=what)
            assert final["error"], f"{what}: a failed deployment says why\n" + api.describe(final)
            if isinstance(says, str):
                if final["error"] != says:
                    unclear.append(f"{what}: error {final['error']!r}, expected exactly {says!r}")
            elif not any(w in final["error"].lower() for w in says):
                unclear.append(f"{what}: the error should say why (mention {' or '.join(says)}): {final['error']!r}")
            if log_marker is not None:
                log = api.log(final["id"])
                assert log_marker in log, f"{what}: the container's last output belongs in the log:\n{tail(log, 40)}"
            assert final["live"] is False, final
            assert_serving(port, "v1", f"after the failed deployment ({what})")
            current = api.app(name)
            assert current["live_deployment_id"] == v1["id"], f"{what}: live deployment changed: {current}"
            wait_no_containers(name, final["id"], f"{what}: the failed deployment's container must be removed",
                               timeout=15)
            assert load.is_alive(), "load client stopped early"
    finally:
        load.stop()
    print("load during the failed deployments:", load.summary())
    assert not load.failures(), "the old version must keep serving through failed deployments: " + load.summary()
    assert set(load.bodies()) == {"v1"}, load.summary()
    assert len(deployment_containers(name, v1["id"], running_only=True)) == 1, "the v1 container must still run"
    assert not unclear, "failed deployments whose error does not say why:\n" + "\n".join(unclear)


# --- Queueing and cancelling ------------------------------------------------------------------


def test_queued_deployment_is_superseded_and_a_running_build_can_be_cancelled(pipeline):
    api = pipeline.api
    repo = pipeline.repo("queue")
    name = pipeline.name("queue")
    app, v1 = pipeline.deploy_new(repo.url, name)
    port = app["port"]

    # A build that takes 5 s (a unique RUN line defeats the layer cache), so
    # the next two requests arrive while it runs.
    repo.commit(web_app("v2", dockerfile_with_run(f"echo {secrets.token_hex(8)} && sleep 5")), "v2: slow build")
    running = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
    api.wait_deployment(running["id"], until={"building"}, timeout=30)
    queued = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
    assert queued["status"] == "queued", f"a deployment posted while another builds is queued: {queued}"
    newest = api.expect(202, "POST", f"/api/apps/{name}/redeploy")

    superseded = api.finish(queued["id"], "superseded", why="the queued deployment, after another request arrived")
    assert "supersed" in api.log(superseded["id"]).lower(), "the superseding is noted in the log"
    assert not superseded.get("steps") or not ({"build", "start"} & set(superseded["steps"])), superseded
    first = api.finish(running["id"], why="the deployment that was building")
    last = api.finish(newest["id"], why="the newest request")
    assert last["status"] == "succeeded" and first["status"] == "succeeded"
    assert [d["id"] for d in api.deployments(name, limit=3)] == [newest["id"], queued["id"], running["id"]]
    wait_serving(port, "v2", timeout=5)
    assert api.app(name)["live_deployment_id"] == newest["id"]

    # Cancel a build while its 30 s RUN step runs.
    run_line = f"echo {secrets.token_hex(8)} && sleep 30"
    try:
        repo.commit(web_app("v3", dockerfile_with_run(run_line)), "v3: very slow")
        doomed = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
        api.wait_deployment(doomed["id"], until={"building"}, timeout=30)
        wait_in_run_step(api, doomed["id"], run_line)
        cancel_running_build(api, name, port, doomed, newest, run_line)
    finally:
        remove_build_leftovers(run_line)


def wait_in_run_step(api: Api, dep_id: int, run_line: str) -> None:
    """Waits until the build runs `run_line`: the log shows the step and, with the
    legacy builder, its intermediate container exists (BuildKit shows none)."""
    api.wait_log(dep_id, run_line)
    deadline = time.monotonic() + 10
    while not containers_running_command(run_line) and time.monotonic() < deadline:
        time.sleep(0.1)


def cancel_running_build(api: Api, name: str, port: int, doomed: dict, live: dict, run_line: str) -> None:
    asked = time.monotonic()
    answer = api.expect(200, "POST", f"/api/deployments/{doomed['id']}/cancel")
    assert answer["id"] == doomed["id"] and answer["status"] in ("building", "cancelled"), answer
    cancelled = api.finish(doomed["id"], "cancelled", why="cancel of a running build", timeout=10)
    took = time.monotonic() - asked
    assert took < 8, f"cancel took {took:.1f}s"
    assert cancelled["live"] is False and cancelled["finished_at"], cancelled
    assert_serving(port, "v2", "after cancelling the v3 build")
    assert api.app(name)["live_deployment_id"] == live["id"]

    def build_gone():
        left = [p for p in processes_mentioning(name) if " build" in p]
        return not left, left

    poll(build_gone, 10, "the cancelled deployment's docker build process to end")
    wait_no_containers(name, doomed["id"], "a cancelled deployment leaves no container", timeout=10)
    poll(lambda: (not (i := deployment_images(name, doomed["id"])), i), 10, "no image of the cancelled deployment")
    poll(lambda: (not (c := containers_running_command(run_line)), c), 15,
         "the cancelled build's RUN container to be gone (the build itself stopped)")


# --- Crash recovery ---------------------------------------------------------------------------


def test_kill_9_mid_build_then_restart_interrupts_it_and_serves_the_old_version(pipeline, tmp_path):
    name = pipeline.name("crash")
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1: first version")
    low, high = free_port_range(3, APP_PORT_RANGE)
    flags = server_flags(low, high, allow_local=True)

    # The module server's live containers: this second server must leave them alone.
    bystanders = {}
    for other in pipeline.api.expect(200, "GET", "/api/apps"):
        if other["live_deployment_id"] and other["status"] == "running":
            ids = deployment_containers(other["name"], other["live_deployment_id"], running_only=True)
            if ids:
                bystanders[other["name"]] = (ids, other["port"])

    run_line = f"echo {secrets.token_hex(8)} && sleep 30"
    first = start_server(tmp_path, extra_args=flags, log_name="server1")
    second: Optional[SlipwayServer] = None
    try:
        p = Pipeline(first, Api(first), tmp_path, pipeline.prefix, low, high)
        app, v1 = p.deploy_new(repo.url, name)
        port = app["port"]

        repo.commit(web_app("v2", dockerfile_with_run(run_line)), "v2: very slow")
        dep = p.api.expect(202, "POST", f"/api/apps/{name}/redeploy")
        p.api.wait_deployment(dep["id"], until={"building"}, timeout=30)
        wait_in_run_step(p.api, dep["id"], run_line)
        first.proc.kill()  # SIGKILL: no chance to clean up
        first.proc.wait(timeout=10)

        second = start_server(tmp_path, data_dir=first.data_dir, extra_args=flags, log_name="server2")
        api = Api(second)

        def interrupted():
            d = api.deployment(dep["id"])
            return d["status"] == "interrupted", d["status"]

        poll(interrupted, 30, f"deployment {dep['id']} to be marked interrupted after the restart")
        wait_serving(port, "v1", timeout=30)
        restored = api.app(name)
        assert restored["live_deployment_id"] == v1["id"] and restored["status"] == "running", restored
        assert api.deployment(dep["id"])["live"] is False
        wait_no_containers(name, dep["id"], "an interrupted deployment leaves no container")

        # The killed server's `docker build` may outlive it; once nothing of
        # it is left, no image of the interrupted deployment may remain.
        poll(lambda: (not (left := processes_mentioning(name, "build")), left), 45,
             "processes the killed server left behind to end", interval=0.5)
        poll(lambda: (not (left := deployment_images(name, dep["id"])), left), 15,
             "no image of the interrupted deployment")
        poll(lambda: (not (c := containers_running_command(run_line)), c), 15,
             "the interrupted build's RUN container to be gone")

        for other, (ids, other_port) in bystanders.items():
            still = deployment_containers(other, pipeline.api.app(other)["live_deployment_id"], running_only=True)
            assert set(ids) <= set(still), f"the second server touched {other}'s container: {ids} -> {still}"
            seen = try_fetch(other_port)
            assert isinstance(seen, tuple) and seen[0] == 200, f"{other} stopped serving on {other_port}: {seen}"

        # Deleting the only app leaves nothing of it in the data dir, the
        # crashed deployment's leftovers included; only top-level files
        # (the database and the like) may stay.
        resp = api.request("DELETE", f"/api/apps/{name}")
        assert resp.status == 204, f"DELETE: {resp.status} {resp.body[:300]!r}"
        left = sorted(str(f.relative_to(second.data_dir)) for f in second.data_dir.rglob("*")
                      if f.is_file() and f.parent != second.data_dir)
        assert not left, f"files left in the data dir after deleting its only app: {left}"
        poll(lambda: (port_is_free(port), try_fetch(port)), 10, f"port {port} to be free after the delete")
    finally:
        try:
            if second is not None:
                stop_server(second)
            elif first.proc.poll() is None:
                stop_server(first)
        finally:
            remove_build_leftovers(run_line)
            problems = remove_docker_objects(name)
            assert not problems, problems


# --- Stop, start, restart, delete -------------------------------------------------------------


def test_stop_start_restart(pipeline):
    api = pipeline.api
    repo = pipeline.repo("ops")
    name = pipeline.name("ops")
    app, v1 = pipeline.deploy_new(repo.url, name)
    port = app["port"]

    stopped = api.expect(200, "POST", f"/api/apps/{name}/stop")
    assert stopped["name"] == name, stopped
    poll(lambda: ((a := api.app(name))["status"] == "stopped", a["status"]), 20, "app status stopped")
    wait_serving(port, None, timeout=10, status=503)
    poll(lambda: (not (r := deployment_containers(name, v1["id"], running_only=True)), r), 20,
         "the container to stop")
    assert api.app(name)["live_deployment_id"] == v1["id"], "stopping keeps the live deployment"

    started = api.expect(200, "POST", f"/api/apps/{name}/start")
    assert started["name"] == name, started
    wait_serving(port, "v1")
    poll(lambda: ((a := api.app(name))["status"] == "running", a["status"]), 20, "app status running after start")

    before = {cid: inspect(cid)["State"]["StartedAt"] for cid in deployment_containers(name, v1["id"], running_only=True)}
    assert len(before) == 1, before
    restarted = api.expect(200, "POST", f"/api/apps/{name}/restart")
    assert restarted["name"] == name, restarted
    wait_serving(port, "v1")

    def fresh_start():
        now = {cid: inspect(cid)["State"]["StartedAt"] for cid in deployment_containers(name, v1["id"], running_only=True)}
        return len(now) == 1 and now != before, now

    poll(fresh_start, 30, "the container to have been restarted")
    poll(lambda: ((a := api.app(name))["status"] == "running", a["status"]), 20, "app status running after restart")


def test_delete_removes_containers_images_and_port(pipeline):
    api = pipeline.api
    repo = pipeline.repo("gone")
    name = pipeline.name("gone")
    app, v1 = pipeline.deploy_new(repo.url, name)
    port = app["port"]
    assert containers(f"slipway.app={name}") and images(f"slipway.app={name}"), "precondition: app has docker objects"

    resp = api.request("DELETE", f"/api/apps/{name}")
    assert resp.status == 204 and resp.body == b"", f"DELETE: {resp.status} {resp.body[:300]!r}"

    assert_json_error(api.request("GET", f"/api/apps/{name}"), 404)
    assert api.request("GET", f"/api/deployments/{v1['id']}").status == 404, "a deleted app's deployments go too"
    assert name not in [a["name"] for a in api.expect(200, "GET", "/api/apps")]
    poll(lambda: (not (c := containers(f"slipway.app={name}")), c), 15, f"no container labelled slipway.app={name}")
    poll(lambda: (not (i := images(f"slipway.app={name}")), i), 15, f"no image labelled slipway.app={name}")
    poll(lambda: (port_is_free(port), try_fetch(port)), 10, f"port {port} to be free")
    left = [str(p) for p in pipeline.server.data_dir.rglob(f"*{name}*")]
    assert not left, f"files named after the deleted app remain in the data dir (mirror?): {left}"


# --- Validation -------------------------------------------------------------------------------

BAD_BRANCHES = ["a..b", "-x", "x.lock", "a b", "", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b",
                "/a", "a/", "a//b", "a.", "a@{b", ".a", "a/.b", "a\tb"]
BAD_ENV = [{"1A": "x"}, {"A-B": "x"}, {"": "x"}, {"A B": "x"}, {"A=B": "x"}, {"OK": "a\nb"}, {"OK": "a\x00b"},
           {"OK": 1}, ["A=b"], "A=b"]
BAD_NAMES = ["Bad_Name", "UPPER", "-lead", "trail-", "a" * 41, "", "a b", "a/b", "a.b", 5]


def test_api_validation(pipeline, tmp_path):
    api = pipeline.api
    repo = pipeline.repo("valid")
    good = {"repo_url": repo.url, "deploy": False}
    pwned = tmp_path / "pwned"
    apps_before = {a["name"] for a in api.expect(200, "GET", "/api/apps")}

    cases: list[tuple[str, Any, str | tuple[str, ...]]] = [
        ("no repo_url", {"deploy": False}, "repo_url"),
        ("unknown field", {**good, "bogus": 1}, "bogus"),
        ("repo_url not a string", {**good, "repo_url": 5}, "repo_url"),
        ("empty repo_url", {**good, "repo_url": ""}, "repo_url"),
        ("ftp transport", {**good, "repo_url": "ftp://x/y"}, "repo_url"),
        ("ext transport", {**good, "repo_url": f"ext::sh -c touch% {pwned}"}, "repo_url"),
        ("fd transport", {**good, "repo_url": "fd::3"}, "repo_url"),
        ("leading dash", {**good, "repo_url": f"--upload-pack=touch {pwned}"}, "repo_url"),
        ("leading dash url", {**good, "repo_url": "-uhttp://example.com/x.git"}, "repo_url"),
        ("space", {**good, "repo_url": "http://example.com/a b.git"}, "repo_url"),
        ("tab", {**good, "repo_url": "http://example.com/a\tb.git"}, "repo_url"),
        ("newline", {**good, "repo_url": "http://example.com/a\nb.git"}, "repo_url"),
        ("NUL", {**good, "repo_url": "http://example.com/a\x00b.git"}, "repo_url"),
        ("DEL", {**good, "repo_url": "http://example.com/a\x7fb.git"}, "repo_url"),
        ("branch not a string", {**good, "branch": 5}, "branch"),
        ("internal_port 0", {**good, "internal_port": 0}, "internal_port"),
        ("internal_port 65536", {**good, "internal_port": 65536}, "internal_port"),
        ("internal_port string", {**good, "internal_port": "5000"}, "internal_port"),
        ("memory_mb string", {**good, "memory_mb": "lots"}, "memory_mb"),
        ("memory_mb negative", {**good, "memory_mb": -5}, "memory_mb"),
        ("cpus string", {**good, "cpus": "two"}, "cpus"),
        ("cpus negative", {**good, "cpus": -1}, "cpus"),
        ("deploy string", {**good, "deploy": "yes"}, "deploy"),
        ("health_path number", {**good, "health_path": 5}, "health_path"),
    ]
    cases += [(f"branch {b!r}", {**good, "branch": b}, "branch") for b in BAD_BRANCHES]
    cases += [(f"env {e!r}", {**good, "env": e}, "env") for e in BAD_ENV]
    cases += [(f"name {n!r}", {**good, "name": n}, "name") for n in BAD_NAMES]

    for b in BAD_BRANCHES:  # keep the table honest: git itself refuses each of these
        check = subprocess.run(["git", "check-ref-format", "--branch", b], capture_output=True, cwd=tmp_path)
        assert check.returncode != 0, f"git accepts branch {b!r}; it does not belong in BAD_BRANCHES"

    wrong = []
    for what, body, fields in cases:
        resp = api.request("POST", "/api/apps", body)
        try:
            assert_field_error(resp, 400, fields, f"POST /api/apps with {what}")
        except AssertionError as exc:
            wrong.append(str(exc).splitlines()[0])
    for what, raw in [("invalid JSON", b"{not json"), ("a JSON array", b"[]"), ("empty body", b"")]:
        resp = api.request("POST", "/api/apps", raw=raw)
        if resp.status != 400:
            wrong.append(f"POST /api/apps with {what}: expected 400, got {resp.status}: {resp.body[:200]!r}")
    assert not wrong, f"{len(wrong)} of {len(cases) + 3} bad requests were not refused properly:\n" + "\n".join(wrong)
    assert not pwned.exists(), "a refused repo_url still ran a command"
    after = {a["name"] for a in api.expect(200, "GET", "/api/apps")}
    assert after == apps_before, f"refused requests created apps: {sorted(after - apps_before)}"

    # Authentication
    for token, label in [(None, "no token"), ("wrong-token", "a wrong token")]:
        assert api.request("GET", "/api/apps", token=token).status == 401, f"GET /api/apps with {label}"
        resp = api.request("POST", "/api/apps", {**good, "name": pipeline.name("sneaky")}, token=token)
        assert resp.status == 401, f"POST /api/apps with {label}: {resp.status}"
    assert api.request("GET", f"/api/apps/{pipeline.name('sneaky')}").status == 404, "an unauthenticated create"

    # A name taken → 409; the app made without deploying has no deployment.
    name = pipeline.name("dup")
    created = api.expect(201, "POST", "/api/apps", {**good, "name": name})
    assert re.fullmatch(r"[0-9a-f]{64}", created.get("webhook_secret", "")), f"webhook_secret: {created}"
    assert created["status"] == "new" and created["live_deployment_id"] is None, created
    assert api.deployments(name) == [], "deploy: false must not queue a deployment"
    assert "webhook_secret" not in api.app(name)
    assert all("webhook_secret" not in a for a in api.expect(200, "GET", "/api/apps"))
    assert_field_error(api.request("POST", "/api/apps", {**good, "name": name}), 409, "name", "a duplicate name")

    # PATCH: the same checks; valid branch names are accepted and shown.
    for branch in ["feature/x", "release-1.0", "v1.2_rc", "a.b/c-d"]:
        assert api.expect(200, "PATCH", f"/api/apps/{name}", {"branch": branch})["branch"] == branch
    for what, body, fields in [("unknown field", {"bogus": 1}, "bogus"), ("bad branch", {"branch": "a..b"}, "branch"),
                               ("bad env", {"env": {"1A": "x"}}, "env"), ("ftp", {"repo_url": "ftp://x/y"}, "repo_url"),
                               ("bad port", {"internal_port": 0}, "internal_port")]:
        assert_field_error(api.request("PATCH", f"/api/apps/{name}", body), 400, fields, f"PATCH with {what}")
    patched = api.expect(200, "PATCH", f"/api/apps/{name}", {"health_path": "/up", "internal_port": 8080})
    assert patched["health_path"] == "/up" and patched["internal_port"] == 8080, patched

    # Unknown apps and deployments → 404.
    ghost = pipeline.name("ghost")
    for method, path in [("GET", f"/api/apps/{ghost}"), ("PATCH", f"/api/apps/{ghost}"),
                         ("DELETE", f"/api/apps/{ghost}"), ("GET", f"/api/apps/{ghost}/deployments"),
                         ("POST", f"/api/apps/{ghost}/deployments"), ("POST", f"/api/apps/{ghost}/redeploy"),
                         ("POST", f"/api/apps/{ghost}/rollback"), ("POST", f"/api/apps/{ghost}/stop"),
                         ("POST", f"/api/apps/{ghost}/start"), ("POST", f"/api/apps/{ghost}/restart"),
                         ("GET", f"/api/apps/{ghost}/logs"), ("GET", "/api/deployments/987654321"),
                         ("GET", "/api/deployments/987654321/log"), ("POST", "/api/deployments/987654321/cancel")]:
        body = {"health_path": "/"} if method == "PATCH" else NO_BODY
        assert_json_error(api.request(method, path, body), 404)

    assert api.request("DELETE", f"/api/apps/{name}").status == 204


# docs/API.md, "Environment variables": names of at most 256 bytes, values of at most 32,768.
ENV_NAME_LIMIT = 256
ENV_VALUE_LIMIT = 32 * 1024


def test_env_limits_are_256_byte_names_and_32768_byte_values(pipeline):
    api = pipeline.api
    name = pipeline.name("envmax")
    good = {"repo_url": "https://example.invalid/x.git", "deploy": False}
    largest = {"N" * ENV_NAME_LIMIT: "x", "BIG": "x" * ENV_VALUE_LIMIT}
    created = api.expect(201, "POST", "/api/apps", {**good, "name": name, "env": largest})
    assert sorted(created["env_keys"]) == sorted(largest), created["env_keys"]
    assert api.request("DELETE", f"/api/apps/{name}").status == 204
    for what, env in [("a 257-byte name", {"N" * (ENV_NAME_LIMIT + 1): "x"}),
                      ("a 32,769-byte value", {"BIG": "x" * (ENV_VALUE_LIMIT + 1)})]:
        assert_field_error(api.request("POST", "/api/apps", {**good, "name": name, "env": env}), 400, "env", what)
    assert api.request("GET", f"/api/apps/{name}").status == 404, "a refused env created the app"


# A value over the limit once got the message for a newline or NUL, and a name over it the
# message for a badly formed name; docs/API.md gives the messages that name the limits.
@pytest.mark.parametrize("env, message", [
    pytest.param({"BIG": "x" * (ENV_VALUE_LIMIT + 1)}, "env: the value of BIG must be at most 32768 bytes", id="value"),
    pytest.param({"N" * (ENV_NAME_LIMIT + 1): "x"}, "env: a variable name must be at most 256 bytes", id="name"),
])
def test_env_over_a_limit_is_refused_with_a_message_naming_it(pipeline, env, message):
    body = {"repo_url": "https://example.invalid/x.git", "deploy": False, "name": pipeline.name("envlong"), "env": env}
    error = assert_json_error(pipeline.api.request("POST", "/api/apps", body), 400)
    assert error == {"code": "invalid_env", "message": message}, error


def test_builder_is_buildkit_when_the_client_has_it_and_classic_on_request(pipeline, main_app, tmp_path):
    # The module's server runs Debian's docker client (conftest), which carries BuildKit.
    log = pipeline.api.log(main_app.v1["id"])
    if DEBIAN_DOCKER.exists():
        assert "builder: BuildKit" in log and "DOCKER_BUILDKIT" not in log, log[-2000:]

    name = pipeline.name("classic")
    repo = GitRepo.create(tmp_path / "repo", web_app("classic v1"), message="classic v1")
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = start_server(tmp_path, extra_args=[*server_flags(low, high, allow_local=True), "--builder", "classic"])
    try:
        p = Pipeline(server, Api(server), tmp_path, pipeline.prefix, low, high)
        app, dep = p.deploy_new(repo.url, name, body="classic v1")
        log = p.api.log(dep["id"])
        assert "builder: classic builder (--builder classic)" in log and "--progress" not in log, log[-2000:]
        image_labels = inspect(dep["image"])["Config"]["Labels"] or {}
        assert image_labels.get("slipway.app") == name and image_labels.get("slipway.deployment") == str(dep["id"]), image_labels
        assert_labels_in_one_step(dep["image"], log)
        assert p.api.request("DELETE", f"/api/apps/{name}").status == 204
    finally:
        stop_server(server)


def assert_labels_in_one_step(image: str, log: str) -> None:
    """The classic builder's labels came in one LABEL step (it makes one per --label), and the
    unlabelled image's tag was dropped."""
    assert "adding the labels in one step" in log, log[-2000:]
    steps = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).splitlines()
    ours = [step for step in steps if "slipway.deployment" in step]
    assert len(ours) == 1 and "slipway.app" in ours[0] and "slipway.instance" in ours[0], steps
    assert subprocess.run(["docker", "image", "inspect", image + "-unlabelled"], capture_output=True).returncode != 0


NEWER_DOCKER = Path("/usr/local/bin/docker")


def newer_client_without_buildkit() -> bool:
    if not NEWER_DOCKER.exists():
        return False
    return subprocess.run([str(NEWER_DOCKER), "buildx", "version"], capture_output=True).returncode != 0


@pytest.mark.skipif(not newer_client_without_buildkit(), reason="no docker client 23+ without buildx on this machine")
def test_a_client_without_buildkit_gets_the_classic_builder_with_why_and_no_misleading_notice(pipeline, tmp_path):
    name = pipeline.name("nobuildx")
    repo = GitRepo.create(tmp_path / "repo", web_app("plain v1"), message="plain v1")
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = start_server(tmp_path, extra_args=[*server_flags(low, high, allow_local=True), "--docker", str(NEWER_DOCKER)])
    try:
        p = Pipeline(server, Api(server), tmp_path, pipeline.prefix, low, high)
        app, dep = p.deploy_new(repo.url, name, body="plain v1")
        log = p.api.log(dep["id"])
        assert re.search(r"builder: classic builder \(docker client \S+ has no BuildKit: .*buildx", log), log[-2000:]
        assert "DEPRECATED" not in log and "DOCKER_BUILDKIT=0\n" not in log.replace(" environment-variable", ""), log[-2000:]
        assert_labels_in_one_step(dep["image"], log)
        assert p.api.request("DELETE", f"/api/apps/{name}").status == 204
    finally:
        stop_server(server)


# Each deployment prunes every image beyond --keep-images. `docker rmi` of one already gone
# counted as done, so every later deployment named the same images again.
def test_a_pruned_image_is_named_once_in_the_deployment_logs(tmp_path, app_prefix):
    name = f"{app_prefix}prune"
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
    low, high = free_port_range(1, APP_PORT_RANGE)
    server = start_server(tmp_path, extra_args=[*server_flags(low, high, allow_local=True), "--keep-images", "1"])
    try:
        p = Pipeline(server, Api(server), tmp_path, app_prefix, low, high)
        _, first = p.deploy_new(repo.url, name)
        deployments = [first]
        for _ in range(3):
            dep = p.api.expect(202, "POST", f"/api/apps/{name}/redeploy")
            deployments.append(p.api.finish(dep["id"], why="a redeploy with --keep-images 1"))
        # Pruning follows the swap, after the deployment is marked succeeded.
        last, before_last = deployments[-1], deployments[-2]
        poll(lambda: (f"pruned old image {before_last['image']}" in (log := p.api.log(last["id"])), tail(log, 5)),
             30, f"deployment {last['id']} to prune {before_last['image']}")

        named: dict[str, list[int]] = {}
        for d in deployments:
            for image in re.findall(r"pruned old image (\S+)", p.api.log(d["id"])):
                named.setdefault(image, []).append(d["id"])
        again = {image: ids for image, ids in named.items() if len(ids) > 1}
        assert not again, f"images named as pruned by more than one deployment (image: deployments): {again}"
        assert sorted(named) == sorted(d["image"] for d in deployments[:-1]), (
            f"with --keep-images 1, every image but the live one is pruned once; named: {named}")
        assert p.api.request("DELETE", f"/api/apps/{name}").status == 204
    finally:
        stop_server(server)


def test_local_repos_need_the_flag_and_a_full_port_range_is_409(tmp_path, app_prefix):
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"))
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = start_server(tmp_path, extra_args=server_flags(low, high))
    try:
        api = Api(server)
        for url in [repo.url, f"file://{repo.url}", "./relative/repo", "/srv/repo.git"]:
            assert_field_error(api.request("POST", "/api/apps", {"repo_url": url, "deploy": False}), 400, "repo_url",
                               f"local repository {url!r} without --allow-local-repos")
        for i in (1, 2):
            api.expect(201, "POST", "/api/apps", {"repo_url": "https://example.invalid/x.git",
                                                  "name": f"{app_prefix}full{i}", "deploy": False})
        error = assert_field_error(api.request("POST", "/api/apps", {"repo_url": "https://example.invalid/x.git",
                                                                     "name": f"{app_prefix}full3", "deploy": False}),
                                   409, str(low), "no free port left")
        assert str(high) in error["message"], f"the 409 should name the range {low}-{high}: {error}"
    finally:
        stop_server(server)


# --- Environment variables --------------------------------------------------------------------


def test_env_vars_reach_the_app_but_never_a_command_line_or_the_api(pipeline):
    api = pipeline.api
    secret = f"hello-{secrets.token_hex(6)}"
    cmd = '["sh", "-c", "echo booting-env-app && echo $GREETING > /www/index.html && exec httpd -f -p 5000 -h /www"]'
    repo = pipeline.repo("env", files=web_app("placeholder", dockerfile_with_cmd(cmd)))
    name = pipeline.name("env")

    seen_on_ps: list[str] = []

    def watch_ps():
        if secret in (args := host_process_args()):
            seen_on_ps.extend(line for line in args.splitlines() if secret in line)

    created = pipeline.create(repo.url, name, env={"GREETING": secret})
    assert created["env_keys"] == ["GREETING"] and secret not in json.dumps(created), created
    dep = api.latest_deployment(name)
    final = api.wait_deployment(dep["id"], on_poll=watch_ps)
    api.assert_status(final, "succeeded", "deployment with env vars")
    wait_serving(created["port"], secret)
    watch_ps()
    assert not seen_on_ps, f"an env var value showed on a command line: {seen_on_ps[:3]}"

    app = api.app(name)
    assert app["env_keys"] == ["GREETING"], app
    for what, text in [("GET app", json.dumps(app)), ("GET apps", json.dumps(api.expect(200, "GET", "/api/apps"))),
                       ("deployment", json.dumps(api.deployment(final["id"]))),
                       ("deployment log", api.log(final["id"]))]:
        assert secret not in text, f"the env var value leaked into the {what}"

    logs = api.request("GET", f"/api/apps/{name}/logs?tail=20")
    assert logs.status == 200 and logs.headers.get("content-type", "").startswith("text/plain"), logs
    assert "booting-env-app" in logs.body.decode(errors="replace"), f"runtime logs: {logs.body[:500]!r}"

    patched = api.expect(200, "PATCH", f"/api/apps/{name}", {"env": {"GREETING": secret, "OTHER": "x"}})
    assert sorted(patched["env_keys"]) == ["GREETING", "OTHER"] and secret not in json.dumps(patched), patched


# --- A repository over http (git's dumb protocol) ----------------------------------------------


def test_repository_served_over_dumb_http(pipeline, tmp_path):
    api = pipeline.api
    repo = GitRepo.create(tmp_path / "work", web_app("v1"), message="v1: first version")
    remote = DumbHttpRemote(repo, tmp_path / "served")
    try:
        name = pipeline.name("http")
        app, v1 = pipeline.deploy_new(remote.url, name)
        assert v1["commit_sha"] == repo.head(), v1
        assert app["repo_url"] == remote.url

        sha2 = repo.commit(web_app("v2"), "v2: over http")
        remote.push()
        dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
        final = api.finish(dep["id"], why="redeploy from the http remote")
        assert final["commit_sha"] == sha2, final
        wait_serving(app["port"], "v2", timeout=10)
    finally:
        remote.close()
