"""Helpers shared by the end-to-end tests that deploy apps (pipeline, webhooks, private
repositories, faults).

A thin JSON API client with deadline-bound waits, the app's public port,
Docker objects by label and their cleanup, and a `ps` watcher that looks for
secrets on command lines. Standard library only.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
from typing import Any, Callable, Iterable, Optional

import loopback
from conftest import poll, API_TOKEN, HOST, HttpResult, SlipwayServer, tail

TEST_LABEL = "slipway.test=1"
HEALTH_TIMEOUT_S = 15
DRAIN_TIMEOUT_S = 1
# Below the kernel's ephemeral ports (32768 and up: Docker's published ports, free_port())
# and apart from test_pipeline.py's 20000-29999.
APP_PORT_RANGE = (12000, 19999)

# A whole deployment of the busybox test app (clone, build, start, check, swap).
DEPLOY_TIMEOUT_S = 90.0
SERVE_TIMEOUT_S = 30.0

FINISHED = frozenset({"succeeded", "failed", "cancelled", "superseded", "interrupted", "skipped"})
IN_PROGRESS = frozenset({"queued", "cloning", "building", "starting", "checking"})


def free_port_range(count: int, within: tuple[int, int] = APP_PORT_RANGE) -> tuple[int, int]:
    """`count` consecutive free ports in `within`: APP_PORT_RANGE unless the test module has a
    range of its own."""
    return loopback.free_port_range(count, within)


def server_flags(low: int, high: int, *, allow_local: bool = False, extra: Iterable[str] = ()) -> list[str]:
    flags = ["--app-ports", f"{low}-{high}", "--container-label", TEST_LABEL,
             "--health-timeout", str(HEALTH_TIMEOUT_S), "--drain-timeout", str(DRAIN_TIMEOUT_S), *extra]
    if allow_local:
        flags.insert(0, "--allow-local-repos")
    return flags


# --- The app's public port ----------------------------------------------------------------


def fetch(port: int, path: str = "/", timeout: float = 3.0) -> tuple[int, str]:
    """GET on a new connection to the app's port; (status, body stripped)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace").strip()
    finally:
        conn.close()


def try_fetch(port: int) -> tuple[int, str] | str:
    try:
        return fetch(port)
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"


def wait_serving(port: int, body: Optional[str], timeout: float = SERVE_TIMEOUT_S, status: int = 200) -> None:
    """Polls the port until it answers `status` with `body` (any body when `body` is None)."""
    def probe():
        seen = try_fetch(port)
        return isinstance(seen, tuple) and seen[0] == status and (body is None or seen[1] == body), seen

    poll(probe, timeout, f"port {port} to answer {status} {body!r}")


# --- Docker ------------------------------------------------------------------------------


def _docker(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def docker(*args: str, check: bool = True, timeout: float = 60.0) -> str:
    """`docker ARGS`' standard output, stripped; fails the test when it exits non-zero (unless `check` is off)."""
    proc = _docker(*args, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def _label_filters(labels: Iterable[str]) -> list[str]:
    return [a for label in labels for a in ("--filter", f"label={label}")]


def containers(*labels: str, running_only: bool = False) -> list[str]:
    """Ids of the containers carrying every one of `labels` (docker ANDs label filters)."""
    args = ["ps", "-q", "--no-trunc", *_label_filters(labels)]
    if not running_only:
        args.insert(1, "-a")
    return docker(*args).split()


def images(*labels: str) -> list[str]:
    """Ids of the images carrying every one of `labels`, each once (an image with two tags is listed twice)."""
    return list(dict.fromkeys(docker("images", "-q", "--no-trunc", *_label_filters(labels)).split()))


def remove_docker_objects(app_prefix: str) -> list[str]:
    """Removes containers, then images, then volumes, labelled slipway.test=1 whose slipway.app
    starts with `app_prefix`; returns what could not be removed. Nothing without both labels is
    touched."""
    problems: list[str] = []
    rows = _docker("ps", "-a", "--no-trunc", "--filter", f"label={TEST_LABEL}",
                   "--format", '{{.ID}}\t{{.Label "slipway.app"}}').stdout
    doomed = [cid for cid, _, app in (r.partition("\t") for r in rows.splitlines()) if app.startswith(app_prefix)]
    if doomed:
        proc = _docker("rm", "-f", "-v", *doomed, timeout=120)
        if proc.returncode != 0:
            problems.append(f"docker rm: {proc.stderr.strip()}")
    image_ids = images(TEST_LABEL)
    if image_ids:
        rows = _docker("image", "inspect", "--format", '{{.Id}}\t{{index .Config.Labels "slipway.app"}}',
                       *image_ids).stdout
        for iid, _, app in (r.partition("\t") for r in rows.splitlines()):
            if app.startswith(app_prefix):
                proc = _docker("rmi", "-f", iid)
                if proc.returncode != 0 and "No such image" not in proc.stderr:
                    problems.append(f"docker rmi {iid}: {proc.stderr.strip()}")
    # Volumes last: a container that used one is gone by now.
    rows = _docker("volume", "ls", "--filter", f"label={TEST_LABEL}", "--format", '{{.Name}}\t{{.Label "slipway.app"}}').stdout
    for name, _, app in (r.partition("\t") for r in rows.splitlines()):
        if app.startswith(app_prefix):
            proc = _docker("volume", "rm", "-f", name)
            if proc.returncode != 0:
                problems.append(f"docker volume rm {name}: {proc.stderr.strip()}")
    return problems


def end_of_test(app_prefix: str, started: list) -> None:
    """After a test: kills the servers it started and did not stop (it failed), then removes the
    docker objects of `app_prefix`, failing if any cannot be."""
    while started:
        proc = started.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    problems = remove_docker_objects(app_prefix)
    assert not problems, "cleanup of test containers, images or volumes failed:\n" + "\n".join(problems)


# --- Secrets on command lines -------------------------------------------------------------


class PsWatcher(threading.Thread):
    """Samples `ps -eo args` in a loop until stopped, keeping every line that contains a needle.

    Runs while a deployment does, so the short-lived git, ssh and curl
    processes it spawns have a chance to be seen.
    """

    def __init__(self, *needles: str, max_seconds: float = 120.0, interval: float = 0.02):
        super().__init__(daemon=True)
        self.needles = [n for n in needles if n]
        self.hits: list[str] = []
        self.samples = 0
        self.interval = interval
        self._halt = threading.Event()
        self._deadline = time.monotonic() + max_seconds

    def run(self) -> None:
        while not self._halt.is_set() and time.monotonic() < self._deadline:
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, timeout=10).stdout
            self.samples += 1
            self.hits += [line for line in out.splitlines() if any(n in line for n in self.needles)]
            self._halt.wait(self.interval)

    def __enter__(self) -> "PsWatcher":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._halt.set()
        self.join(15)
        assert not self.is_alive(), "ps watcher did not stop"

    def assert_clean(self, what: str) -> None:
        assert self.samples > 0, "the ps watcher took no sample"
        assert not self.hits, f"{what} appeared on a command line in `ps -eo args`: {self.hits[:3]}"


# --- The JSON API ---------------------------------------------------------------------------

NO_BODY = object()


class Api:
    def __init__(self, server: SlipwayServer):
        self.server = server

    def request(self, method: str, path: str, body: Any = NO_BODY, *, token: Optional[str] = API_TOKEN,
                raw: Optional[bytes] = None, timeout: float = 20.0) -> HttpResult:
        """One API call; `body` is sent as JSON, `raw` as bytes exactly (both as application/json)."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if raw is not None:
            data = raw
            headers["Content-Type"] = "application/json"
        elif body is not NO_BODY:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self.server.request(method, path, headers=headers, body=data, timeout=timeout)

    def expect(self, status: int, method: str, path: str, body: Any = NO_BODY, **kw) -> Any:
        """The request answers `status`; returns the parsed JSON (None for an empty body)."""
        resp = self.request(method, path, body, **kw)
        shown = "" if body is NO_BODY else f" {json.dumps(body)[:300]}"
        assert resp.status == status, (
            f"{method} {path}{shown}: expected {status}, got {resp.status}: {resp.body[:800]!r}\n"
            f"server stderr tail:\n{tail(self.server.stderr_text(), 15)}"
        )
        if not resp.body:
            return None
        ctype = resp.headers.get("content-type", "")
        return resp.json() if ctype.startswith("application/json") else resp.body.decode(errors="replace")

    def create(self, name: str, repo_url: str, **settings) -> dict:
        app = self.expect(201, "POST", "/api/apps", {"repo_url": repo_url, "name": name, **settings})
        assert app["name"] == name, app
        return app

    def delete(self, name: str) -> None:
        resp = self.request("DELETE", f"/api/apps/{name}", timeout=60)
        assert resp.status in (204, 404), f"DELETE /api/apps/{name}: {resp.status} {resp.body[:300]!r}"

    def app(self, name: str) -> dict:
        return self.expect(200, "GET", f"/api/apps/{name}")

    def deployment(self, dep_id: int) -> dict:
        return self.expect(200, "GET", f"/api/deployments/{dep_id}")

    def deployments(self, name: str, limit: int = 50) -> list[dict]:
        return self.expect(200, "GET", f"/api/apps/{name}/deployments?limit={limit}")

    def latest_deployment(self, name: str) -> dict:
        deps = self.deployments(name, limit=1)
        assert isinstance(deps, list) and len(deps) == 1, f"expected one deployment of {name}, got {deps!r}"
        return deps[0]

    def deliveries(self, name: str) -> list[dict]:
        return self.expect(200, "GET", f"/api/apps/{name}/deliveries")

    def log(self, dep_id: int) -> str:
        resp = self.request("GET", f"/api/deployments/{dep_id}/log")
        assert resp.status == 200, f"GET /api/deployments/{dep_id}/log: {resp.status} {resp.body[:300]!r}"
        return resp.body.decode(errors="replace")

    def describe(self, dep: dict) -> str:
        """A deployment with its log and the server's stderr tail, for failure messages."""
        try:
            log = tail(self.log(dep["id"]), 60)
        except Exception as exc:  # a diagnostic only; never hide the real failure
            log = f"(log unavailable: {exc})"
        return (f"deployment {json.dumps(dep, indent=1)}\n--- deployment log (tail) ---\n{log}\n"
                f"--- server stderr (tail) ---\n{tail(self.server.stderr_text(), 20)}")

    def wait_deployment(self, dep_id: int, until: Iterable[str] = FINISHED, timeout: float = DEPLOY_TIMEOUT_S,
                        on_poll: Optional[Callable[[], None]] = None) -> dict:
        """Polls the deployment until its status is in `until`; fails with its log otherwise.

        Reaching a finished status that is not in `until` fails at once.
        """
        wanted = set(until)
        deadline = time.monotonic() + timeout
        while True:
            dep = self.deployment(dep_id)
            if on_poll is not None:
                on_poll()
            if dep["status"] in wanted:
                return dep
            if dep["status"] in FINISHED:
                raise AssertionError(f"deployment {dep_id} ended {dep['status']!r} while waiting for {sorted(wanted)}\n"
                                     + self.describe(dep))
            if time.monotonic() >= deadline:
                raise AssertionError(f"deployment {dep_id} still {dep['status']!r} after {timeout:.0f}s, "
                                     f"waiting for {sorted(wanted)}\n" + self.describe(dep))
            time.sleep(0.1)

    def wait_log(self, dep_id: int, text: str, timeout: float = 30.0) -> None:
        """Waits until the deployment's log contains `text` (say, a RUN line the build has reached)."""
        def probe():
            log = self.log(dep_id)
            return text in log, tail(log, 5)

        try:
            poll(probe, timeout, f"{text!r} in the log of deployment {dep_id}", interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n" + self.describe(self.deployment(dep_id))) from None

    def assert_status(self, dep: dict, status: str, why: str = "") -> None:
        if dep["status"] != status:
            raise AssertionError(f"{why + ': ' if why else ''}deployment {dep['id']} is {dep['status']!r}, "
                                 f"expected {status!r}\n" + self.describe(dep))

    def finish(self, dep_id: int, status: str = "succeeded", why: str = "", timeout: float = DEPLOY_TIMEOUT_S) -> dict:
        """Waits for the deployment to finish and fails unless it ended `status`; returns it."""
        final = self.wait_deployment(dep_id, timeout=timeout)
        self.assert_status(final, status, why)
        return final
