"""A Slipway server under benchmark: one `slipway serve` on loopback with its own data dir and app
port range, restartable on the same data, with the API calls the benchmarks make and a teardown
that deletes what it deployed."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from typing import Any, Optional

import loopback
from slipway_process import SlipwayProcess, clean_env, tail

from .docker_cli import DOCKER_CLIENT, docker, remove_labelled
from .harness import BenchError, Context, out
from .http_client import http_request
from .settings import ADMIN_PASSWORD, API_TOKEN, APP_PORT_POOL, BENCH_LABEL, FINISHED, HOST, TEST_LABEL

# Every Slipway instance this run started (its containers and images carry slipway.instance=<id>).
INSTANCES: list[str] = []

NO_BODY = object()


class Slipway:
    """One `slipway serve` on loopback with its own data dir and app port range."""

    def __init__(self, ctx: Context, name: str, app_ports: int, extra: tuple[str, ...] = ()):
        self.ctx = ctx
        self.name = name
        self.dir = ctx.work / f"server-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        self.low, self.high = loopback.free_port_range(app_ports, APP_PORT_POOL, error=BenchError)
        # slipway_process adds --host, --port and --data-dir.
        self.flags = ["--app-ports", f"{self.low}-{self.high}", "--allow-local-repos", "--container-label", TEST_LABEL,
                      "--docker", DOCKER_CLIENT, *extra]
        self.process: Optional[SlipwayProcess] = None
        self.port = 0
        self.instance: Optional[str] = None
        # Apps made by seed_history never had a container or image: no need to delete them one by one.
        self.seeded = False
        ctx.cleanup.add(f"slipway server {name}", self.teardown)

    @property
    def command(self) -> str:
        flags = ["--host", HOST, "--data-dir", str(self.data_dir), *self.flags]
        return f"slipway serve --port <free> {' '.join(flags)}".replace(str(self.ctx.work), "$WORK")

    def start(self) -> None:
        """Starts the server (again, after stop(), on the same data); one log, stderr.log, for every start."""
        log_path = self.dir / "stderr.log"
        self.process = SlipwayProcess.start(
            self.ctx.binary,
            data_dir=self.data_dir,
            flags=self.flags,
            env=clean_env({"SLIPWAY_API_TOKEN": API_TOKEN, "SLIPWAY_ADMIN_PASSWORD": ADMIN_PASSWORD}),
            cwd=self.dir,
            stdout_path=log_path,
            stderr_path=log_path,
            append=True,
            startup_timeout=30,
            what=f"slipway {self.name}",
            error=BenchError,
        )
        self.port = self.process.port
        if self.instance is None:
            self.instance = out(["sqlite3", "-readonly", str(self.data_dir / "slipway.db"),
                                 "SELECT value FROM settings WHERE key = 'instance_id'"])
            INSTANCES.append(self.instance)

    def stderr_tail(self, lines: int = 25) -> str:
        try:
            return tail((self.dir / "stderr.log").read_text(errors="replace"), lines)
        except OSError:
            return ""

    @property
    def proc(self) -> Optional[subprocess.Popen]:
        return self.process.proc if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 30 s; raises BenchError unless the server exited 0 by itself."""
        if self.process is None:
            return
        ended = self.process.terminate(timeout=30)
        self.process = None
        if ended.killed:
            raise BenchError(f"slipway {self.name} did not stop within 30s of SIGTERM:\n{self.stderr_tail()}")
        if ended.code != 0:
            raise BenchError(f"slipway {self.name} exited with {ended.code}:\n{self.stderr_tail()}")

    def assert_alive(self) -> None:
        if not self.running:
            raise BenchError(f"slipway {self.name} is not running:\n{self.stderr_tail()}")

    def api(self, method: str, path: str, body: Any = NO_BODY, expect: Optional[int] = None, timeout: float = 60) -> Any:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        data = None
        if body is not NO_BODY:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            status, resp_headers, raw = http_request(self.port, method, path, headers, data, timeout=timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"{method} {path}: {exc}\n{self.stderr_tail()}") from exc
        if expect is not None and status != expect:
            raise BenchError(f"{method} {path}: expected {expect}, got {status}: {raw[:500]!r}\n{self.stderr_tail(10)}")
        if raw and resp_headers.get("content-type", "").startswith("application/json"):
            return json.loads(raw)
        return raw

    def wait_deployment(self, dep_id: int, timeout: float = 180, interval: float = 0.01) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            dep = self.api("GET", f"/api/deployments/{dep_id}", expect=200)
            if dep["status"] in FINISHED:
                if dep["status"] != "succeeded":
                    log_text = self.api("GET", f"/api/deployments/{dep_id}/log")
                    raise BenchError(f"deployment {dep_id} ended {dep['status']}: {dep.get('error')}\n"
                                     f"{log_text.decode(errors='replace')[-1500:] if isinstance(log_text, bytes) else log_text}")
                return dep
            if time.monotonic() > deadline:
                raise BenchError(f"deployment {dep_id} still {dep['status']} after {timeout:.0f}s")
            time.sleep(interval)

    def containers(self, app: str) -> list[str]:
        return docker("ps", "-a", "-q", "--filter", f"label=slipway.instance={self.instance}",
                      "--filter", f"label=slipway.app={app}").split()

    def wait_single_container(self, app: str, timeout: float = 45) -> float:
        """Waits until the app's old containers are gone (drain, stop, remove); returns the seconds waited."""
        started = time.monotonic()
        while len(self.containers(app)) > 1:
            if time.monotonic() - started > timeout:
                raise BenchError(f"app {app} still has {len(self.containers(app))} containers after {timeout:.0f}s")
            time.sleep(0.2)
        return time.monotonic() - started

    def live_container_port(self, app: str, internal: int = 5000) -> int:
        info = self.api("GET", f"/api/apps/{app}", expect=200)
        name = f"slipway-{app}-{info['live_deployment_id']}"
        mapping = docker("port", name, f"{internal}/tcp").splitlines()[0]
        return int(mapping.rsplit(":", 1)[1])

    def create_app(self, name: str, repo_url: str, **settings) -> dict:
        return self.api("POST", "/api/apps", {"repo_url": repo_url, "name": name, **settings}, expect=201)

    def delete_app(self, name: str) -> None:
        self.api("DELETE", f"/api/apps/{name}", expect=204, timeout=90)

    def teardown(self) -> None:
        """Deletes every app through the API (its containers and images go with it), stops the
        server, then removes anything still carrying this instance's label."""
        problems = []
        if self.running and self.seeded:
            self.stop()
        if self.running and not self.seeded:
            try:
                apps = self.api("GET", "/api/apps", expect=200)
                with_docker = [a["name"] for a in apps if a["live_deployment_id"] is not None or a["status"] != "new"]
                for name in with_docker:
                    try:
                        self.delete_app(name)
                    except BenchError as exc:
                        problems.append(str(exc))
            finally:
                try:
                    self.stop()
                except BenchError as exc:
                    problems.append(str(exc))
        if self.instance:
            problems += remove_labelled([TEST_LABEL, f"slipway.instance={self.instance}"])
        if problems:
            raise BenchError("; ".join(problems))


def remove_leftovers() -> list[str]:
    """Whatever a broken clean-up left: containers and images with this run's labels, by hand or Slipway's."""
    problems = remove_labelled([TEST_LABEL, BENCH_LABEL])
    for instance in INSTANCES:
        problems += remove_labelled([TEST_LABEL, f"slipway.instance={instance}"])
    return problems
