#!/usr/bin/env python3
"""Slipway's benchmark suite: `make bench` builds the release binary and runs this; it writes BENCHMARKS.md.

Seven benchmarks, each compared side by side within one run, every measurement repeated RUNS
times (default 5) with the sides interleaved, and reported from the median:

  deploy    1. deploy overhead: Slipway's pipeline against the same commands by hand, cold and warm
  rollback  2. rollback: POST .../rollback until the previous version answers on the public port
  swap      3. zero-downtime swap: 32 client threads through 5 redeploys, new connections and keep-alive
  webhook   4. webhook acknowledgement latency and throughput, against adnanh/webhook (Debian's webhook)
  forward   5. port forwarder: against a direct connection to the container and nginx's stream proxy
  memory    6. resident memory, idle and with 50 apps and 10,000 deployments
  web       7. dashboard and API latency with 100 apps and 1,000 deployments each

The script reports; it never fails because a target is missed. It exits non-zero only when
something breaks (a deployment fails, a server dies, a tool is missing), after writing what it has.

Environment:
  SLIPWAY_BIN    the binary (default .build/release/slipway)
  BENCH_RUNS     runs per measurement (default 5)
  BENCH_ONLY     comma-separated benchmark names from the list above (then the output defaults to
                 /tmp/slipway-bench-partial.md, so a partial run never overwrites BENCHMARKS.md)
  BENCH_OUTPUT   where to write the report
  BENCH_KEEP=1   keep the work directory (server logs, repositories) for a look afterwards

Safety: everything listens on 127.0.0.1. Every container and image made here carries
slipway.test=1: Slipway's through --container-label, the by-hand ones (and the keep-alive test
server's) with an extra slipway.bench=<run id> label. At the end Slipway's apps are deleted through
its API, then whatever still carries this run's labels is removed; nothing else is touched. Every
load loop is bounded both in requests and in time. Python standard library only; wrk, webhook and
nginx are Debian packages (installed with apt-get when missing and running as root).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "Tests" / "E2E"))
# The end-to-end tests' git helpers and test app, so the benchmark deploys exactly what the tests do.
from gitrepo import BASE_IMAGE, GitRepo, dockerfile_with_run, web_app  # noqa: E402
from loopback import free_port  # noqa: E402
import loopback  # noqa: E402

SLIPWAY_BIN = Path(os.environ.get("SLIPWAY_BIN", REPO_ROOT / ".build" / "release" / "slipway")).resolve()
# The servers run a copy of the binary (and of Templates/ beside it, where it looks for them) taken at
# the start, so a rebuild in the checkout during the run cannot change what is measured half-way.
RUN_BIN = SLIPWAY_BIN
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ONLY = [n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()]
ANALYSIS = REPO_ROOT / "scripts" / "bench-analysis.md"
OUTPUT = Path(os.environ.get("BENCH_OUTPUT") or (REPO_ROOT / "BENCHMARKS.md" if not ONLY else "/tmp/slipway-bench-partial.md"))
KEEP = os.environ.get("BENCH_KEEP") == "1"

HOST = "127.0.0.1"
TEST_LABEL = "slipway.test=1"
RUN_ID = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
BENCH_LABEL = f"slipway.bench={RUN_ID}"
API_TOKEN = "bench-token-" + secrets.token_hex(12)
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(12)
# App ports come from below the kernel's ephemeral range (32768-60999 by default), so no outgoing
# connection can be holding one; the end-to-end tests use 30000-39999.
APP_PORT_POOL = (20000, 29999)
# Hard ceiling for the whole run: a stuck step must not run forever.
GLOBAL_DEADLINE = time.monotonic() + 45 * 60

# Every Slipway instance this run started (its containers and images carry slipway.instance=<id>).
INSTANCES: list[str] = []
FINISHED = {"succeeded", "failed", "cancelled", "superseded", "interrupted"}
DEVNULL = subprocess.DEVNULL


class BenchError(Exception):
    """Something broke: the run is reported as failed (a missed target never raises this)."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def check_deadline() -> None:
    if time.monotonic() > GLOBAL_DEADLINE:
        raise BenchError("the benchmark run passed its 45-minute ceiling")


# --- Processes, ports, statistics ------------------------------------------------------------


def run(argv: list[str], timeout: float = 120, check: bool = True, env: Optional[dict] = None,
        cwd: Optional[Path] = None, input: Optional[bytes] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, cwd=cwd,
                          input=input, stdin=None if input is not None else DEVNULL)
    if check and proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:6])}... exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-800:]}{proc.stdout.decode(errors='replace')[-400:]}")
    return proc


def out(argv: list[str], timeout: float = 60) -> str:
    return run(argv, timeout=timeout).stdout.decode(errors="replace").strip()


def try_out(argv: list[str], timeout: float = 60) -> str:
    try:
        return run(argv, timeout=timeout, check=False).stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        return "(unavailable)"








def stop_process(proc: subprocess.Popen, log_file: Any, sig: int) -> None:
    """Sends `sig` to a tool the script started, kills it after 10 s, and closes its log."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log_file.close()


def wait_listening(port: int, timeout: float, what: str, proc: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} did not listen on {port} within {timeout:.0f}s")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.2f} ms"


def fmt_num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def verdict(met: Optional[bool]) -> str:
    return "n/a" if met is None else ("**met**" if met else "**missed**")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            fields[name] = int(value.split()[0])
    return fields


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB from /proc/<pid>/status."""
    fields = proc_status_kb(pid)
    return fields["VmRSS"], fields["VmHWM"]


# --- HTTP ---------------------------------------------------------------------------------------


def http_request(port: int, method: str, path: str, headers: Optional[dict] = None, body: Optional[bytes] = None,
                 timeout: float = 10.0) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def fetch_body(port: int, path: str = "/", timeout: float = 3.0) -> tuple[int, str] | str:
    try:
        status, _, body = http_request(port, "GET", path, {"Connection": "close"}, timeout=timeout)
        return status, body.decode(errors="replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"


def wait_body(port: int, body: str, timeout: float = 60.0, interval: float = 0.01) -> None:
    """Polls the port with a new connection each time until it answers 200 with `body`."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        seen = fetch_body(port)
        if seen == (200, body):
            return
        time.sleep(interval)
    raise BenchError(f"port {port} did not answer 200 {body!r} within {timeout:.0f}s; last: {seen!r}")


# --- Docker -------------------------------------------------------------------------------------


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    return run(["docker", *args], timeout=timeout, check=check).stdout.decode(errors="replace").strip()


def remove_labelled(labels: list[str]) -> list[str]:
    """Removes containers, then images, carrying every one of `labels` (at least two, one of them
    specific to this run or this Slipway instance, so the shared base image is never matched)."""
    assert len(labels) >= 2 and TEST_LABEL in labels, labels
    filters = [a for label in labels for a in ("--filter", f"label={label}")]
    problems = []
    ids = docker("ps", "-a", "-q", "--no-trunc", *filters, check=False).split()
    if ids:
        proc = run(["docker", "rm", "-f", "-v", *ids], check=False, timeout=180)
        if proc.returncode != 0:
            problems.append(proc.stderr.decode(errors="replace").strip())
    images = list(dict.fromkeys(docker("images", "-q", "--no-trunc", *filters, check=False).split()))
    for image in images:
        proc = run(["docker", "rmi", "-f", image], check=False, timeout=120)
        if proc.returncode != 0 and b"No such image" not in proc.stderr:
            problems.append(proc.stderr.decode(errors="replace").strip())
    return problems


# --- Clean-up -----------------------------------------------------------------------------------


class Cleanup:
    """Clean-up actions, run last-in first-out; every one runs whatever the others do."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, action: Callable[[], None]) -> None:
        self.actions.append((what, action))

    def run_all(self) -> list[str]:
        problems = []
        while self.actions:
            what, action = self.actions.pop()
            try:
                action()
            except Exception as exc:  # keep cleaning up
                problems.append(f"{what}: {exc}")
                log(f"clean-up of {what} failed: {exc}")
        return problems


@dataclass
class Context:
    work: Path
    cleanup: Cleanup
    tools: dict[str, str]
    keepalive_server: Optional[Path] = None


# --- The Slipway server ---------------------------------------------------------------------------

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
        self.flags = ["--host", HOST, "--data-dir", str(self.data_dir), "--app-ports", f"{self.low}-{self.high}",
                      "--allow-local-repos", "--container-label", TEST_LABEL, "--docker", DOCKER_CLIENT, *extra]
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self.instance: Optional[str] = None
        self.starts = 0
        # Apps made by seed_history never had a container or image: no need to delete them one by one.
        self.seeded = False
        ctx.cleanup.add(f"slipway server {name}", self.teardown)

    @property
    def command(self) -> str:
        return f"slipway serve --port <free> {' '.join(self.flags)}".replace(str(self.ctx.work), "$WORK")

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
        env["SLIPWAY_API_TOKEN"] = API_TOKEN
        env["SLIPWAY_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        return env

    def start(self) -> None:
        last = ""
        for _ in range(3):
            self.port = free_port()
            self.starts += 1
            with open(self.dir / "stderr.log", "ab") as err:
                self.proc = subprocess.Popen([str(RUN_BIN), "serve", "--port", str(self.port), *self.flags],
                                             stdin=DEVNULL, stdout=err, stderr=err, env=self.env(), cwd=self.dir)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if http_request(self.port, "GET", "/healthz", timeout=1)[0] == 200:
                        break
                except (OSError, http.client.HTTPException):
                    time.sleep(0.05)
            else:
                last = self.stderr_tail()
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                    raise BenchError(f"slipway {self.name} did not answer /healthz within 30s:\n{last}")
                if "in use" in last.lower():
                    continue
                raise BenchError(f"slipway {self.name} exited during start-up:\n{last}")
            break
        else:
            raise BenchError(f"slipway {self.name} could not bind a port:\n{last}")
        if self.instance is None:
            self.instance = out(["sqlite3", "-readonly", str(self.data_dir / "slipway.db"),
                                 "SELECT value FROM settings WHERE key = 'instance_id'"])
            INSTANCES.append(self.instance)

    def stderr_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join((self.dir / "stderr.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise BenchError(f"slipway {self.name} did not stop within 30s of SIGTERM:\n{self.stderr_tail()}")
        code = self.proc.returncode
        self.proc = None
        if code != 0:
            raise BenchError(f"slipway {self.name} exited with {code}:\n{self.stderr_tail()}")

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


# --- Reporting ----------------------------------------------------------------------------------


@dataclass
class Target:
    number: int
    benchmark: str
    figure: str
    target: str
    met: Optional[bool]


@dataclass
class Section:
    number: int
    title: str
    targets: list[Target] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(str(c) for c in row) + " |")
        self.lines.append("")

    def target(self, benchmark: str, figure: str, target: str, met: Optional[bool]) -> None:
        self.targets.append(Target(self.number, benchmark, figure, target, met))


# --- 1. Deploy overhead ---------------------------------------------------------------------------

RAW_DEPLOY_SCRIPT = r"""#!/usr/bin/env bash
# The deployment by hand that Slipway's pipeline is compared with (bench.py, benchmark 1).
# Usage: raw-deploy.sh cold|warm REPO DIR TAG BODY. Prints: CONTAINER_ID clone=MS build=MS run=MS ready=MS
set -euo pipefail
mode=$1 repo=$2 dir=$3 tag=$4 body=$5
ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
t0=$(ms)
if [ "$mode" = cold ]; then
    git clone --quiet "$repo" "$dir"              # cold: a fresh clone
    rev=HEAD
else
    git -C "$dir" fetch --quiet origin            # warm: fetch into the existing clone
    rev=origin/main
fi
t1=$(ms)
git -C "$dir" archive --format=tar "$rev" \
    | DOCKER_BUILDKIT=$BENCH_BUILDKIT "$BENCH_DOCKER" build $BENCH_PROGRESS --tag "$tag" \
        --label slipway.test=1 --label "$BENCH_LABEL" - >"$dir.build.log" 2>&1
t2=$(ms)
cid=$("$BENCH_DOCKER" run --detach --label slipway.test=1 --label "$BENCH_LABEL" --publish 127.0.0.1::5000 "$tag")
hostport=$("$BENCH_DOCKER" port "$cid" 5000/tcp | head -n 1)
t3=$(ms)
ok=0
for _ in $(seq 3000); do                          # at most 3000 polls (~30 s or more)
    if [ "$(curl -s --max-time 2 "http://$hostport/")" = "$body" ]; then ok=1; break; fi
    sleep 0.01
done
t4=$(ms)
[ "$ok" = 1 ] || { echo "no 200 from $hostport" >&2; echo "$cid"; exit 1; }
echo "$cid clone=$((t1 - t0)) build=$((t2 - t1)) run=$((t3 - t2)) ready=$((t4 - t3))"
"""


def run_raw_deploy(ctx: Context, script: Path, mode: str, repo: str, clone_dir: Path, tag: str, body: str) -> tuple[float, str, dict]:
    env = dict(os.environ, BENCH_LABEL=BENCH_LABEL, BENCH_DOCKER=DOCKER_CLIENT,
               BENCH_BUILDKIT="1" if BUILDER == "BuildKit" else "0",
               BENCH_PROGRESS="--progress plain" if BUILDER == "BuildKit" else "")
    started = time.perf_counter()
    proc = run(["bash", str(script), mode, repo, str(clone_dir), tag, body], timeout=180, check=False, env=env)
    elapsed = time.perf_counter() - started
    text = proc.stdout.decode().strip()
    cid = text.split()[0] if text else ""
    if proc.returncode != 0:
        if cid:
            docker("rm", "-f", cid, check=False)
        raise BenchError(f"raw deploy ({mode}) failed: {proc.stderr.decode(errors='replace')[-800:]}")
    steps = {k: int(v) for k, v in (part.split("=") for part in text.split()[1:])}
    return elapsed, cid, steps


def steps_text(steps_list: list[dict]) -> str:
    keys = list(dict.fromkeys(k for s in steps_list for k in s))
    return ", ".join(f"{k} {median([s.get(k, 0) for s in steps_list]):.0f}" for k in keys)


def bench_deploy(ctx: Context, sec: Section) -> None:
    script = ctx.work / "raw-deploy.sh"
    script.write_text(RAW_DEPLOY_SCRIPT)
    s = Slipway(ctx, "deploy", app_ports=8)
    s.start()

    sec.add("Slipway's wall time runs from the API call (`POST /api/apps` for cold, "
            "`POST /api/apps/{name}/redeploy` for warm) until the deployment is `succeeded` "
            "(polled every 10 ms) and the app's public port has answered 200 with the expected body. "
            "The by-hand side is one bash script, timed as a whole ([`raw-deploy.sh`](#raw-deploysh) below): "
            "`git clone` (cold) or `git fetch` (warm), `git archive | docker build -` with the builder Slipway "
            f"uses ({BUILDER}: `{DOCKER_CLIENT}` with `DOCKER_BUILDKIT={'1' if BUILDER == 'BuildKit' else '0'}`; "
            "the script checks Slipway's deployment log names the same builder), "
            "`docker run -d -p 127.0.0.1::5000`, `docker port`, then `curl` every 10 ms until the first 200.",
            "",
            "- **Cold**: every run deploys a new repository whose Dockerfile has `RUN echo <random> > /build-nonce` "
            "before the `COPY`, so no layer after `FROM` is cached; each side gets its own nonce. Slipway creates "
            "a new app each run (fresh mirror clone); the app is deleted through the API afterwards, untimed.",
            "- **Warm**: the same commit again (all layers cached). Slipway redeploys one app; the by-hand side "
            "fetches into its existing clone. The previous container keeps running during the timed part on both "
            "sides (Slipway's swap needs it; by hand it is removed afterwards), and each run waits, untimed, "
            "until Slipway has stopped and removed the old container (busybox httpd as PID 1 ignores SIGTERM, "
            "so that takes Slipway's 10 s stop grace period), so no run overlaps the previous one's clean-up.",
            f"- Sides alternate which goes first. Server: `{s.command}`.", "")

    # Cold.
    cold = {"slipway": [], "by hand": []}
    cold_steps = {"slipway": [], "by hand": []}
    for i in range(RUNS):
        check_deadline()
        for side in (["slipway", "by hand"] if i % 2 == 0 else ["by hand", "slipway"]):
            nonce = secrets.token_hex(8)
            body = f"cold {side} {i} {nonce}"
            slug = side.replace(" ", "-")
            repo = GitRepo.create(ctx.work / f"cold-{slug}-{i}", web_app(body, dockerfile_with_run(f"echo {nonce} > /build-nonce")))
            if side == "slipway":
                started = time.perf_counter()
                app = s.create_app(f"cold-{i}", repo.url)
                dep = s.wait_deployment(app["deployment_id"])
                wait_body(app["port"], body)
                cold[side].append(time.perf_counter() - started)
                cold_steps[side].append(dep["steps"])
                s.delete_app(f"cold-{i}")
            else:
                elapsed, cid, steps = run_raw_deploy(ctx, script, "cold", repo.url, ctx.work / f"cold-clone-{i}",
                                                     f"slipway-bench/raw-cold:{i}", body)
                cold[side].append(elapsed)
                cold_steps[side].append(steps)
                docker("rm", "-f", cid)
                docker("rmi", f"slipway-bench/raw-cold:{i}")
        log(f"deploy cold run {i + 1}/{RUNS}: slipway {cold['slipway'][-1]:.3f}s, by hand {cold['by hand'][-1]:.3f}s")

    # Warm.
    warm = {"slipway": [], "by hand": []}
    warm_steps = {"slipway": [], "by hand": []}
    warm_waits = []
    repo = GitRepo.create(ctx.work / "warm-repo", web_app("warm body"))
    app = s.create_app("warm", repo.url)
    s.wait_deployment(app["deployment_id"])
    wait_body(app["port"], "warm body")
    build_log = s.api("GET", f"/api/deployments/{app['deployment_id']}/log", expect=200)
    if f"builder: {BUILDER}".encode() not in (build_log if isinstance(build_log, bytes) else json.dumps(build_log).encode()):
        raise BenchError(f"Slipway's deployment log does not name the builder the by-hand side uses ({BUILDER})")
    clone = ctx.work / "warm-clone"
    _, raw_cid, _ = run_raw_deploy(ctx, script, "cold", repo.url, clone, "slipway-bench/raw-warm:0", "warm body")
    raw_tag = "slipway-bench/raw-warm:0"
    for i in range(RUNS):
        check_deadline()
        for side in (["slipway", "by hand"] if i % 2 == 0 else ["by hand", "slipway"]):
            if side == "slipway":
                started = time.perf_counter()
                dep = s.api("POST", "/api/apps/warm/redeploy", expect=202)
                dep = s.wait_deployment(dep["id"])
                wait_body(app["port"], "warm body")
                warm[side].append(time.perf_counter() - started)
                warm_steps[side].append(dep["steps"])
                warm_waits.append(s.wait_single_container("warm"))
            else:
                tag = f"slipway-bench/raw-warm:{i + 1}"
                elapsed, cid, steps = run_raw_deploy(ctx, script, "warm", repo.url, clone, tag, "warm body")
                warm[side].append(elapsed)
                warm_steps[side].append(steps)
                docker("rm", "-f", raw_cid)
                docker("rmi", raw_tag)
                raw_cid, raw_tag = cid, tag
        log(f"deploy warm run {i + 1}/{RUNS}: slipway {warm['slipway'][-1]:.3f}s, by hand {warm['by hand'][-1]:.3f}s")
    docker("rm", "-f", raw_cid)
    docker("rmi", raw_tag)

    rows = []
    for label, data, steps in (("cold", cold, cold_steps), ("warm", warm, warm_steps)):
        ms_s, ms_r = median(data["slipway"]), median(data["by hand"])
        ratio = ms_s / ms_r
        rows.append([label, fmt_ms(ms_s), fmt_ms(ms_r), f"{ratio:.2f}", f"{(ms_s - ms_r) * 1000:+.0f} ms",
                     " / ".join(f"{x:.2f}" for x in data["slipway"]), " / ".join(f"{x:.2f}" for x in data["by hand"])])
        sec.target(f"Deploy overhead, {label}", f"ratio {ratio:.2f} ({fmt_ms(ms_s)} vs {fmt_ms(ms_r)} by hand)",
                   "≤ 1.10", ratio <= 1.10)
    sec.table(["", "Slipway (median)", "by hand (median)", "ratio", "difference", "Slipway runs (s)", "by hand runs (s)"], rows)
    sec.add("Median step times (ms). Slipway's are its own `steps` (the time to reach `succeeded` and the first "
            "200 through the port is on top); by hand, `ready` is from `docker port` to the first 200:", "")
    sec.table(["", "Slipway steps", "by-hand steps"],
              [["cold", steps_text(cold_steps["slipway"]), steps_text(cold_steps["by hand"])],
               ["warm", steps_text(warm_steps["slipway"]), steps_text(warm_steps["by hand"])]])
    for label, data, steps in (("cold", cold, cold_steps), ("warm", warm, warm_steps)):
        def step(side: str, key: str) -> float:
            return median([x.get(key, 0) for x in steps[side]])
        d_clone = step("slipway", "clone") - step("by hand", "clone")
        d_build = step("slipway", "build") - step("by hand", "build")
        d_start = step("slipway", "start") - step("by hand", "run")
        total = (median(data["slipway"]) - median(data["by hand"])) * 1000
        sec.add(f"- {label}: Slipway took {abs(total):.0f} ms {'more' if total >= 0 else 'less'} than by hand; per step "
                f"(median, Slipway minus by hand): clone {d_clone:+.0f} ms, "
                f"build {d_build:+.0f} ms, start (`docker run` and `docker port`) {d_start:+.0f} ms, and "
                f"{total - d_clone - d_build - d_start:+.0f} ms for everything else (health check, swap, the API "
                "calls and polling, against curl's polling by hand).")
    sec.add("")
    sec.add(f"Untimed wait between warm runs for Slipway's old container to be stopped and removed: "
            f"median {median(warm_waits):.1f} s.", "")
    sec.add("<a id=\"raw-deploysh\"></a>`raw-deploy.sh`, the by-hand side (run as "
            "`bash raw-deploy.sh cold|warm REPO DIR TAG BODY`):", "", "```bash", RAW_DEPLOY_SCRIPT.strip(), "```", "")


# --- 2. Rollback --------------------------------------------------------------------------------


def bench_rollback(ctx: Context, sec: Section) -> None:
    s = Slipway(ctx, "rollback", app_ports=2)
    s.start()
    repo = GitRepo.create(ctx.work / "rollback-repo", web_app("rollback v1"))
    app = s.create_app("rb", repo.url)
    s.wait_deployment(app["deployment_id"])
    wait_body(app["port"], "rollback v1")
    repo.commit(web_app("rollback v2"), "v2")
    dep = s.api("POST", "/api/apps/rb/redeploy", expect=202)
    s.wait_deployment(dep["id"])
    wait_body(app["port"], "rollback v2")
    s.wait_single_container("rb")

    times, steps = [], []
    for i in range(RUNS):
        check_deadline()
        expected = "rollback v1" if i % 2 == 0 else "rollback v2"
        started = time.perf_counter()
        dep = s.api("POST", "/api/apps/rb/rollback", expect=202)
        wait_body(app["port"], expected, timeout=60, interval=0.01)
        times.append(time.perf_counter() - started)
        final = s.wait_deployment(dep["id"])
        steps.append(final["steps"])
        s.wait_single_container("rb")
        log(f"rollback run {i + 1}/{RUNS}: {times[-1]:.3f}s")

    m = median(times)
    sec.add("App `rb` has two successful deployments, v1 and v2 (bodies `rollback v1` and `rollback v2`). Each run "
            "calls `POST /api/apps/rb/rollback` (no body: the previous successful deployment) and polls the app's "
            "public port every 10 ms, a new connection each time, until it answers 200 with the other version's "
            "body. Rolling back again goes back to the other version, so the runs alternate v2→v1, v1→v2, ... "
            "Between runs the script waits, untimed, until the old container is gone.",
            f"Server: `{s.command}`.", "")
    sec.table(["median", "runs (s)", "median steps (ms)"],
              [[fmt_ms(m), " / ".join(f"{x:.3f}" for x in times), steps_text(steps)]])
    sec.target("Rollback to the previous version answering", fmt_ms(m), "≤ 1.5 s", m <= 1.5)


# --- 3. Zero-downtime swap ------------------------------------------------------------------------

KEEPALIVE_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
COPY server /server
COPY index.html /www/index.html
EXPOSE 5000
CMD ["/server", "5000", "/www/index.html"]
"""


def keepalive_server(ctx: Context) -> Path:
    """Compiles scripts/bench-keepalive-server.c statically (once per run)."""
    if ctx.keepalive_server is None:
        binary = ctx.work / "bench-keepalive-server"
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise BenchError("no C compiler (cc) to build scripts/bench-keepalive-server.c; apt-get install gcc libc6-dev")
        run([cc, "-O2", "-static", "-o", str(binary), str(REPO_ROOT / "scripts" / "bench-keepalive-server.c")])
        ctx.keepalive_server = binary
    return ctx.keepalive_server


def keepalive_repo(ctx: Context, path: Path, body: str) -> GitRepo:
    path.mkdir(parents=True)
    shutil.copy2(keepalive_server(ctx), path / "server")
    return GitRepo.create(path, {"Dockerfile": KEEPALIVE_DOCKERFILE, "index.html": body + "\n"})


class LoadClient(threading.Thread):
    """GETs / in a loop until told to stop, or its request or time budget runs out."""

    def __init__(self, port: int, keepalive: bool, bodies: dict[str, int], halt: threading.Event,
                 max_seconds: float, max_requests: int, t0: float):
        super().__init__(daemon=True)
        self.port, self.keepalive, self.bodies, self.halt = port, keepalive, bodies, halt
        self.deadline = time.monotonic() + max_seconds
        self.max_requests = max_requests
        self.t0 = t0
        self.requests = 0
        self.failures: dict[str, int] = {}
        self.connections = 0
        self.seen: list[tuple[float, str]] = []  # (seconds since t0, X-Served-By) of each good response
        self.failed_at: list[float] = []
        self.fresh = True
        self.failed_fresh = 0  # failures of a request on a connection opened for it

    def run(self) -> None:
        conn: Optional[http.client.HTTPConnection] = None
        headers = {} if self.keepalive else {"Connection": "close"}
        while not self.halt.is_set() and time.monotonic() < self.deadline and self.requests < self.max_requests:
            self.requests += 1
            self.fresh = conn is None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
                    self.connections += 1
                conn.request("GET", "/", headers=headers)
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace").strip()
                if not self.keepalive:
                    conn.close()
                    conn = None
                if resp.status == 200 and body in self.bodies:
                    self.seen.append((time.monotonic() - self.t0, resp.getheader("X-Served-By", "?")))
                else:
                    self.fail(f"HTTP {resp.status} {body[:40]!r}")
                    if conn is not None:
                        conn.close()
                        conn = None
            except (OSError, http.client.HTTPException) as exc:
                self.fail(type(exc).__name__)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1
        self.failed_at.append(time.monotonic() - self.t0)
        if self.fresh:
            self.failed_fresh += 1


def clusters(times: list[float], gap: float = 1.0) -> list[tuple[float, int]]:
    """Groups sorted times that are less than `gap` apart: (first time, count) per group."""
    groups: list[tuple[float, int]] = []
    last = None
    for t in sorted(times):
        if last is None or t - last > gap:
            groups.append((t, 1))
        else:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        last = t
    return groups


def bench_swap(ctx: Context, sec: Section) -> None:
    s = Slipway(ctx, "swap", app_ports=2)
    s.start()
    repo = keepalive_repo(ctx, ctx.work / "swap-repo", "swap v1")
    sha = {1: repo.head()}
    sha[2] = repo.commit({"index.html": "swap v2\n"}, "v2")
    bodies = {"swap v1": 1, "swap v2": 2}
    app = s.create_app("swap", repo.url, deploy=False)
    dep = s.api("POST", "/api/apps/swap/deployments", {"ref": sha[1]}, expect=202)
    s.wait_deployment(dep["id"])
    wait_body(app["port"], "swap v1")
    live = 1
    threads_n, redeploys = 32, 5
    rows, notes = [], []
    for mode in ("new connection per request", "keep-alive"):
        check_deadline()
        keepalive = mode == "keep-alive"
        halt = threading.Event()
        t0 = time.monotonic()
        clients = [LoadClient(app["port"], keepalive, bodies, halt, max_seconds=120, max_requests=200_000, t0=t0)
                   for _ in range(threads_n)]
        for c in clients:
            c.start()
        swaps = []
        try:
            time.sleep(1.0)
            for _ in range(redeploys):
                live = 2 if live == 1 else 1
                dep = s.api("POST", "/api/apps/swap/deployments", {"ref": sha[live]}, expect=202)
                s.wait_deployment(dep["id"], interval=0.05)
                swaps.append(time.monotonic() - t0)
            # Keep the load on until every old container has been drained, stopped and removed.
            s.wait_single_container("swap", timeout=60)
            time.sleep(1.0)
        finally:
            halt.set()
            for c in clients:
                c.join(30)
        elapsed = time.monotonic() - t0
        s.assert_alive()
        requests = sum(c.requests for c in clients)
        failures: dict[str, int] = {}
        for c in clients:
            for k, v in c.failures.items():
                failures[k] = failures.get(k, 0) + v
        failed = sum(failures.values())
        connections = sum(c.connections for c in clients)
        seen = sorted(x for c in clients for x in c.seen)
        last_swap = swaps[-1]
        final_id = s.api("GET", "/api/apps/swap", expect=200)["live_deployment_id"]
        final_host = docker("inspect", "--format", "{{.Config.Hostname}}", f"slipway-swap-{final_id}")
        stale_after = [t for t, who in seen if t > last_swap and who != final_host]
        last_stale = (max(stale_after) - last_swap) if stale_after else 0.0
        served_by = len({who for _, who in seen})
        failure_groups = clusters([t for c in clients for t in c.failed_at])
        failed_fresh = sum(c.failed_fresh for c in clients)
        rate = failed / requests if requests else float("nan")
        rows.append([mode, fmt_num(requests), fmt_num(failed), f"{rate * 100:.3f} %", fmt_num(requests / elapsed),
                     fmt_num(connections) if keepalive else "one per request", str(served_by),
                     f"{last_stale:.1f} s", ", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none"])
        notes.append((mode, swaps, failed, failure_groups, connections, failed_fresh))
        if keepalive:
            sec.target("Zero-downtime swap, keep-alive clients (reported, no target)",
                       f"{failed} failed of {fmt_num(requests)} ({rate * 100:.3f} %)", "report", None)
        else:
            sec.target("Zero-downtime swap, new connection per request",
                       f"{failed} failed of {fmt_num(requests)}", "0 failed", failed == 0)
        log(f"swap {mode}: {requests} requests, {failed} failed {failures}")

    sec.add("busybox httpd (the test app) closes every connection after one response (`Connection: close`), so it "
            "cannot show what a persistent connection does. This benchmark's app is therefore a 100-line static C "
            "server, [`scripts/bench-keepalive-server.c`](scripts/bench-keepalive-server.c), copied into an image "
            f"`FROM {BASE_IMAGE}`: it answers every request with the body of `/www/index.html` (`swap v1` or "
            "`swap v2`), keeps connections open, and exits on SIGTERM.",
            "",
            f"{threads_n} Python threads (`http.client`) send `GET /` to the app's public port in a loop while "
            f"{redeploys} deployments run back to back (`POST /api/apps/swap/deployments` with the v1 and v2 commits "
            "alternating, each waited for until `succeeded`); the load goes on until every old container is drained, "
            "stopped and removed, plus 1 s. A request fails on any exception or any answer other than 200 with a "
            "v1 or v2 body. In keep-alive mode each thread keeps one connection and, after a failure, opens a new "
            "one (counted in *connections*). Drain period: the default 10 s. Each thread's loop is bounded to "
            "200,000 requests and 120 s.",
            f"Server: `{s.command}`.", "")
    sec.table(["mode", "requests", "failed", "failure rate", "requests/s", "connections", "containers that answered",
               "old container answering after the last swap", "failures by kind"], rows)
    sec.add("*Containers that answered*: distinct `X-Served-By` values seen (the first container plus the five "
            "deployed). *Old container answering after the last swap*: how long after the last deployment "
            "succeeded a response still came from a container other than the final one.", "")
    for mode, swaps, failed, groups, connections, failed_fresh in notes:
        sec.add(f"- {mode}: deployments succeeded at " + ", ".join(f"{t:.1f}" for t in swaps) + " s after the load "
                "started; failed requests " + (", ".join(f"{n} at {t:.1f} s" for t, n in groups) if groups else "none")
                + f"; of them on a newly opened connection: {failed_fresh}.")
    sec.add("")
    ka = [n for n in notes if n[0] == "keep-alive"][0]
    sec.add(
            "**Reading the keep-alive figure.** A kept-alive connection stays on the container it was opened to: "
            "the forwarder sends only *new* connections to the new container. The 32 connections opened before the "
            "first swap keep being answered by the first container through the following redeploys, until its "
            "drain period (10 s) ends; then Slipway stops that container, which closes them. The request each "
            "thread has in flight, or sends next, on a closed connection fails (`RemoteDisconnected`, a reset), "
            "and the reconnect reaches whichever container is current then; if that one is itself replaced later, "
            "its connections go the same way when its own drain ends. So the failures come in bursts of about one "
            "per open connection, 10 s after a swap, and are not a gap in service"
            + (": no request on a newly opened connection failed. " if ka[5] == 0 else
               f" (though {ka[5]} requests on newly opened connections failed too: see above). ")
            + "A client that retries an idempotent request on a fresh connection after its kept-"
            "alive one is closed (as browsers and most HTTP client libraries do) sees no failure at all. "
            f"This run: {ka[2]} failed requests, {ka[4]} connections opened in all by {threads_n} threads.", "")


# --- 4. Webhook acknowledgement -------------------------------------------------------------------

WRK_LUA = r"""-- Generated by scripts/bench.py. Each thread stops after BENCH_REQUESTS responses and says so on
-- stdout (bench.py then ends wrk with SIGINT rather than waiting out -d); done() prints one JSON
-- line, with the time from the first request sent to the last response received. With
-- BENCH_BODY_FILE set it POSTs that body as a GitHub push delivery, each with its own
-- X-GitHub-Delivery id.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local limit = tonumber(os.getenv("BENCH_REQUESTS") or "1000")
local expect = tonumber(os.getenv("BENCH_EXPECT_STATUS") or "200")
local body_file = os.getenv("BENCH_BODY_FILE")
local prefix = os.getenv("BENCH_DELIVERY_PREFIX") or "bench"
local signature = os.getenv("BENCH_SIGNATURE")
local body = nil
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  body = f:read("*a")
  f:close()
end
local threads = {}

-- BENCH_DELAY_MS paces each connection: it waits that long after a response before its next
-- request, so 50 connections with 50 ms offer about 1,000 requests/s in all.
local pace_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pace_ms > 0 then
  function delay()
    return pace_ms
  end
end

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  unexpected = 0
  sent = 0
  first_us = 0
  last_us = 0
  static_request = wrk.format()
  hdrs = { ["Content-Type"] = "application/json", ["X-GitHub-Event"] = "push",
           ["X-Hub-Signature-256"] = signature, ["User-Agent"] = "GitHub-Hookshot/bench" }
end

function request()
  sent = sent + 1
  if first_us == 0 then first_us = now_us() end
  if not body then return static_request end
  hdrs["X-GitHub-Delivery"] = prefix .. "-" .. id .. "-" .. sent
  return wrk.format("POST", wrk.path, hdrs, body)
end

function response(status, headers, b)
  responses = responses + 1
  if status ~= expect then unexpected = unexpected + 1 end
  if responses == limit then
    last_us = now_us()
    io.write("BENCH_THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local r, u, first, last = 0, 0, nil, 0
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    u = u + t:get("unexpected")
    local f, l = t:get("first_us"), t:get("last_us")
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
  end
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"elapsed_us":%d,"wrk_duration_us":%d,"bytes":%d,"p50_us":%d,' ..
    '"p90_us":%d,"p99_us":%d,"max_us":%d,"responses":%d,"unexpected_status":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, (last > 0 and first) and (last - first) or summary.duration, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, r, u,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk(ctx: Context, url: str, connections: int, requests: int, expect: int = 200, max_seconds: int = 60,
        extra_env: Optional[dict] = None, allow_errors: bool = False, pid: Optional[int] = None) -> dict:
    """wrk with one thread and `connections` keep-alive connections, stopped after `requests` responses
    (or `max_seconds`, then it is an error). With `pid`, also the CPU time that process used."""
    script = ctx.work / "bench.lua"
    if not script.exists():
        script.write_text(WRK_LUA)
    env = dict(os.environ, BENCH_REQUESTS=str(requests), BENCH_EXPECT_STATUS=str(expect), **(extra_env or {}))
    cpu_before = cpu_seconds(pid) if pid else 0.0
    cpu_after = cpu_before
    proc = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{max_seconds}s", "--timeout", "10s", "-s", str(script), url],
                            stdin=DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    lines = []
    try:
        # wrk's main thread sleeps for the whole -d even after the worker thread has stopped: once the
        # worker says it is done, SIGINT ends the sleep and wrk prints its summary (with done()'s line).
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            if line.startswith("BENCH_THREAD_DONE"):
                cpu_after = cpu_seconds(pid) if pid else 0.0
                proc.send_signal(signal.SIGINT)
        proc.wait(timeout=max_seconds + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(lines)
    match = re.search(r"^BENCH_JSON (\{.*\})$", text, re.M)
    if not match:
        raise BenchError(f"wrk printed no result for {url}:\n{text[-800:]}")
    result = json.loads(match.group(1))
    if result["responses"] < requests:
        raise BenchError(f"wrk got {result['responses']} of {requests} responses from {url} within {max_seconds}s")
    result["rps"] = result["responses"] / (result["elapsed_us"] / 1e6)
    result["cpu_us"] = (cpu_after - cpu_before) / result["responses"] * 1e6 if pid else float("nan")
    errors = sum(result[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")) + result["unexpected_status"]
    result["errors"] = errors
    if errors and not allow_errors:
        raise BenchError(f"wrk saw errors against {url}: {result}")
    return result


def github_push_payload(ref: str, after: str, before: str) -> bytes:
    """A push payload shaped like GitHub's (about 6 KB), with one commit."""
    owner = {"login": "ada", "id": 1001, "node_id": "MDQ6VXNlcjEwMDE=", "avatar_url": "https://avatars.githubusercontent.com/u/1001?v=4",
             "gravatar_id": "", "url": "https://api.github.com/users/ada", "html_url": "https://github.com/ada",
             "type": "User", "site_admin": False}
    repo = {"id": 424242, "node_id": "R_kgDOGUVcYg", "name": "hello-app", "full_name": "ada/hello-app", "private": False,
            "owner": {**owner, "name": "ada", "email": "ada@example.com"}, "html_url": "https://github.com/ada/hello-app",
            "description": "A small web app deployed with Slipway", "fork": False, "url": "https://github.com/ada/hello-app",
            "created_at": 1732665600, "updated_at": "2026-11-26T23:00:00Z", "pushed_at": 1732665700,
            "git_url": "git://github.com/ada/hello-app.git", "ssh_url": "git@github.com:ada/hello-app.git",
            "clone_url": "https://github.com/ada/hello-app.git", "homepage": None, "size": 12, "stargazers_count": 3,
            "watchers_count": 3, "language": "Dockerfile", "has_issues": True, "has_projects": True, "has_wiki": False,
            "forks_count": 0, "archived": False, "disabled": False, "open_issues_count": 0, "license": None,
            "topics": [], "visibility": "public", "forks": 0, "open_issues": 0, "watchers": 3, "default_branch": "main",
            "stargazers": 3, "master_branch": "main"}
    commit = {"id": after, "tree_id": hashlib.sha1(after.encode()).hexdigest(), "distinct": True,
              "message": "Update the landing page\n\nMore words in the body of the commit message.",
              "timestamp": "2026-11-26T23:41:00Z", "url": f"https://github.com/ada/hello-app/commit/{after}",
              "author": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
              "committer": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
              "added": [], "removed": [], "modified": ["index.html"]}
    payload = {"ref": ref, "before": before, "after": after, "repository": repo,
               "pusher": {"name": "ada", "email": "ada@example.com"}, "sender": owner,
               "created": False, "deleted": False, "forced": False, "base_ref": None,
               "compare": f"https://github.com/ada/hello-app/compare/{before[:12]}...{after[:12]}",
               "commits": [commit], "head_commit": commit}
    return json.dumps(payload, indent=2).encode()


def bench_webhook(ctx: Context, sec: Section) -> None:
    # Accepted deliveries each leave a deployment row behind, and deleting an app costs more the longer
    # its history (see the DELETE figure), so they get a smaller count than the comparison.
    requests_per_run, senders, single_per_run, accepted_per_run = 20000, 50, 1000, 1000
    # The latency target is measured under a stated load below saturation: 50 senders, each
    # pausing 50 ms after every answer, offer about 1,000 deliveries/s.
    paced_per_run, pace_ms = 4000, 50
    s = Slipway(ctx, "webhook", app_ports=2)
    s.start()
    repo = GitRepo.create(ctx.work / "webhook-repo", web_app("webhook app"))
    app = s.create_app("hooked", repo.url, deploy=False)
    secret = app["webhook_secret"]
    before = repo.head()
    # A sha that is not in the repository: an accepted delivery's deployment then fails at its clone
    # step in a few git calls, instead of building an image while the load runs.
    absent = secrets.token_hex(20)
    payloads = {"ignored": github_push_payload("refs/heads/bench-ignored", absent, before),
                "accepted": github_push_payload("refs/heads/main", absent, before)}
    files, sigs = {}, {}
    for kind, payload in payloads.items():
        files[kind] = ctx.work / f"push-{kind}.json"
        files[kind].write_bytes(payload)
        sigs[kind] = "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()

    # adnanh/webhook: the same secret and signature header; a push to main runs /bin/true.
    hooks = [{"id": "hello-app", "execute-command": "/bin/true", "command-working-directory": "/",
              "trigger-rule": {"and": [
                  {"match": {"type": "payload-hmac-sha256", "secret": secret,
                             "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}},
                  {"match": {"type": "value", "value": "refs/heads/main",
                             "parameter": {"source": "payload", "name": "ref"}}}]}}]
    hooks_file = ctx.work / "hooks.json"
    hooks_file.write_text(json.dumps(hooks, indent=2))
    wh_port = free_port()
    wh_log = open(ctx.work / "webhook.log", "wb")
    wh = subprocess.Popen(["webhook", "-hooks", str(hooks_file), "-ip", HOST, "-port", str(wh_port)],
                          stdin=DEVNULL, stdout=wh_log, stderr=wh_log)

    ctx.cleanup.add("webhook server", lambda: stop_process(wh, wh_log, signal.SIGTERM))
    wait_listening(wh_port, 10, "webhook", wh)

    urls = {"slipway": f"http://{HOST}:{s.port}/hooks/github/hooked", "webhook": f"http://{HOST}:{wh_port}/hooks/hello-app"}
    ports = {"slipway": s.port, "webhook": wh_port}
    paths = {"slipway": "/hooks/github/hooked", "webhook": "/hooks/hello-app"}
    expect = {("slipway", "ignored"): 200, ("slipway", "accepted"): 202, ("webhook", "ignored"): 200, ("webhook", "accepted"): 200}

    # Both servers really check the signature and tell the two pushes apart.
    def deliver(server: str, kind: str, sig: str) -> tuple[int, bytes]:
        status, _, body = http_request(ports[server], "POST", paths[server], {
            "Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
            "X-GitHub-Delivery": f"check-{kind}-{secrets.token_hex(6)}"}, payloads[kind])
        return status, body

    bad = "sha256=" + "0" * 64
    checks = [(deliver("slipway", "ignored", sigs["ignored"]), 200, b"ignored"),
              (deliver("slipway", "ignored", bad), 401, b"invalid_signature"),
              (deliver("webhook", "ignored", sigs["ignored"]), 200, b"Hook rules were not satisfied"),
              (deliver("webhook", "ignored", bad), 500, b"Error occurred while evaluating hook rules"),
              (deliver("webhook", "accepted", bad), 500, b"Error occurred while evaluating hook rules"),
              (deliver("webhook", "accepted", sigs["accepted"]), 200, b"")]
    for (status, body), want_status, want in checks:
        if status != want_status or want not in body:
            raise BenchError(f"webhook sanity check: expected {want_status} {want!r}, got {status} {body[:200]!r}")

    def wait_idle() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            deps = s.api("GET", "/api/apps/hooked/deployments?limit=2", expect=200)
            if all(d["status"] in FINISHED for d in deps):
                return
            time.sleep(0.1)
        raise BenchError("the accepted deliveries' deployments did not settle within 120 s")

    results: dict[tuple[str, str], list[dict]] = {}
    single: dict[str, list[dict]] = {}
    paced: dict[str, list[dict]] = {}
    for kind in ("ignored", "accepted"):
        for i in range(RUNS):
            check_deadline()
            for server in (["slipway", "webhook"] if i % 2 == 0 else ["webhook", "slipway"]):
                env = {"BENCH_BODY_FILE": str(files[kind]), "BENCH_SIGNATURE": sigs[kind],
                       "BENCH_DELIVERY_PREFIX": f"{RUN_ID}-{kind}-{server}-{i}"}
                count = requests_per_run if kind == "ignored" else accepted_per_run
                r = wrk(ctx, urls[server], senders, count, expect=expect[(server, kind)], extra_env=env,
                        pid=s.proc.pid if server == "slipway" else wh.pid)
                results.setdefault((server, kind), []).append(r)
                if kind == "ignored":
                    # The same deliveries one at a time: the acknowledgement latency without queueing.
                    env["BENCH_DELIVERY_PREFIX"] += "-single"
                    r = wrk(ctx, urls[server], 1, single_per_run, expect=expect[(server, kind)], extra_env=env,
                            pid=s.proc.pid if server == "slipway" else wh.pid)
                    single.setdefault(server, []).append(r)
                    # And fifty senders again, paced: the latency under a load both servers carry.
                    env = dict(env, BENCH_DELAY_MS=str(pace_ms), BENCH_DELIVERY_PREFIX=env["BENCH_DELIVERY_PREFIX"] + "-paced")
                    r = wrk(ctx, urls[server], senders, paced_per_run, expect=expect[(server, kind)], extra_env=env,
                            pid=s.proc.pid if server == "slipway" else wh.pid)
                    paced.setdefault(server, []).append(r)
                if kind == "accepted" and server == "slipway":
                    wait_idle()
            s.assert_alive()
            log(f"webhook {kind} run {i + 1}/{RUNS}: slipway {results[('slipway', kind)][-1]['rps']:.0f}/s "
                f"p99 {results[('slipway', kind)][-1]['p99_us'] / 1000:.2f} ms; webhook {results[('webhook', kind)][-1]['rps']:.0f}/s "
                f"p99 {results[('webhook', kind)][-1]['p99_us'] / 1000:.2f} ms")
    db = str(s.data_dir / "slipway.db")
    statuses = dict(tuple(line.split("|")) for line in out(
        ["sqlite3", "-readonly", db, "SELECT status, count(*) FROM deployments GROUP BY status"]).splitlines())
    n_deployments = sum(int(v) for v in statuses.values())
    n_deliveries = int(out(["sqlite3", "-readonly", db, "SELECT count(*) FROM webhook_deliveries"]))
    # Deleting the app takes its whole history with it: timed, since it is the one API call here
    # whose cost grows with the history.
    started = time.perf_counter()
    s.api("DELETE", "/api/apps/hooked", expect=204, timeout=900)
    delete_s = time.perf_counter() - started
    log(f"DELETE /api/apps/hooked ({n_deployments} deployments, {n_deliveries} deliveries): {delete_s:.1f}s")

    def med(server: str, kind: str, key: str) -> float:
        return median([r[key] for r in results[(server, kind)]])

    rows = []
    for kind in ("ignored", "accepted"):
        for server in ("slipway", "webhook"):
            rs = results[(server, kind)]
            rows.append([kind, server, f"{med(server, kind, 'p50_us') / 1000:.2f} ms", f"{med(server, kind, 'p99_us') / 1000:.2f} ms",
                         fmt_num(med(server, kind, "rps")) + "/s", f"{med(server, kind, 'cpu_us'):.0f} µs",
                         " / ".join(fmt_num(r["rps"]) for r in rs), " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in rs)])
    for server in ("slipway", "webhook"):
        rs = paced[server]
        rows.append([f"ignored, {senders} paced senders", server, f"{median([r['p50_us'] for r in rs]) / 1000:.2f} ms",
                     f"{median([r['p99_us'] for r in rs]) / 1000:.2f} ms", fmt_num(median([r['rps'] for r in rs])) + "/s",
                     f"{median([r['cpu_us'] for r in rs]):.0f} µs",
                     " / ".join(fmt_num(r["rps"]) for r in rs), " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in rs)])
    for server in ("slipway", "webhook"):
        rs = single[server]
        rows.append(["ignored, 1 sender", server, f"{median([r['p50_us'] for r in rs]) / 1000:.2f} ms",
                     f"{median([r['p99_us'] for r in rs]) / 1000:.2f} ms", fmt_num(median([r['rps'] for r in rs])) + "/s",
                     f"{median([r['cpu_us'] for r in rs]):.0f} µs",
                     " / ".join(fmt_num(r["rps"]) for r in rs), " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in rs)])
    sec.table(["delivery", "server", "p50 (median of runs)", "p99 (median of runs)", "throughput", "server CPU per delivery",
               "runs: requests/s", "runs: p99 (ms)"], rows)
    p99 = med("slipway", "ignored", "p99_us") / 1000
    ratio = med("slipway", "ignored", "rps") / med("webhook", "ignored", "rps")
    acc_ratio = med("slipway", "accepted", "rps") / med("webhook", "accepted", "rps")
    paced_p99 = median([r["p99_us"] for r in paced["slipway"]]) / 1000
    paced_rate = median([r["rps"] for r in paced["slipway"]])
    sec.target(f"Webhook ack p99, {senders} senders offering ~{fmt_num(round(senders * 1000 / pace_ms, -2))} deliveries/s (ignored branch)",
               f"{paced_p99:.2f} ms at {fmt_num(paced_rate)}/s (webhook: "
               f"{median([r['p99_us'] for r in paced['webhook']]) / 1000:.2f} ms)", "≤ 5 ms", paced_p99 <= 5)
    sec.target(f"Webhook ack p99 at saturation ({senders} senders, no pause; reported, no target)",
               f"{p99:.2f} ms (webhook: {med('webhook', 'ignored', 'p99_us') / 1000:.2f} ms)", "report", None)
    sec.target("Webhook ack latency, one sender at a time (reported, no target)",
               f"p50 {median([r['p50_us'] for r in single['slipway']]) / 1000:.2f} ms, "
               f"p99 {median([r['p99_us'] for r in single['slipway']]) / 1000:.2f} ms "
               f"(webhook: {median([r['p50_us'] for r in single['webhook']]) / 1000:.2f} / "
               f"{median([r['p99_us'] for r in single['webhook']]) / 1000:.2f} ms)", "report", None)
    sec.target("Webhook throughput against adnanh/webhook (ignored branch)",
               f"{fmt_num(med('slipway', 'ignored', 'rps'))}/s vs {fmt_num(med('webhook', 'ignored', 'rps'))}/s (ratio {ratio:.2f})",
               "≥ webhook's (ratio ≥ 1)", ratio >= 1)
    sec.target(f"DELETE /api/apps/hooked afterwards, with {n_deployments:,} deployments and {n_deliveries:,} "
               "deliveries in the database (reported, no target)", f"{delete_s:.1f} s", "report", None)
    sec.target("Webhook, accepted deliveries (reported, no target)",
               f"p99 {med('slipway', 'accepted', 'p99_us') / 1000:.2f} ms, {fmt_num(med('slipway', 'accepted', 'rps'))}/s "
               f"(ratio {acc_ratio:.2f} to webhook running /bin/true)", "report", None)
    sec.add(f"The load generator is **wrk** (`wrk -t1 -c{senders} -d60s --timeout 10s -s bench.lua URL`, one thread, "
            f"{senders} keep-alive connections), with the Lua script below: it stops after a fixed count of "
            f"responses ({requests_per_run:,} per run for the comparison) and gives every delivery its own `X-GitHub-Delivery` id. wrk rather than Python: on two "
            "cores, 50 Python threads measure the GIL and http.client (a few thousand requests/s at most) more "
            "than the servers. wrk's latency is from sending a request to its complete response; the throughput is the "
            "responses over the time from the first request sent to the last response received. *Server CPU per "
            "delivery* is the server process's user+system CPU time during the run divided by the deliveries "
            "(webhook's /bin/true children not included).",
            "",
            f"Both servers get the same ~{len(payloads['ignored']) // 100 / 10:.1f} KB GitHub-shaped push payload and "
            "the same secret, signed with HMAC-SHA256 in `X-Hub-Signature-256`. Before the runs the script checks "
            "that both really verify the signature (a wrong one: Slipway 401, webhook 500) and tell the branches apart.",
            "",
            "- **ignored** (the comparison): a push to `refs/heads/bench-ignored`. Slipway verifies the signature, "
            "parses the payload, records the delivery in SQLite and answers `200 {\"ignored\": ...}`. webhook's "
            "hook has the trigger rule `and: [payload-hmac-sha256 over X-Hub-Signature-256, value refs/heads/main "
            "at payload.ref]`: it verifies the signature, parses, the ref does not match, and it answers "
            "`200 Hook rules were not satisfied.`",
            f"- **accepted**: {accepted_per_run:,} deliveries per run of a push to `refs/heads/main` of a sha the "
            "repository does not have, each delivery with a new id. Slipway claims the delivery, queues a deployment that supersedes the one waiting, and answers "
            "`202`; the deployment that does run fails at its clone step after a few git calls, so no image is "
            "built during the load (the script waits for the queue to settle after each run). webhook runs "
            f"`/bin/true` for each. The app's history afterwards: "
            + ", ".join(f"{int(v):,} {k}" for k, v in sorted(statuses.items())) + " deployments; "
            f"{n_deliveries:,} deliveries recorded. Deleting the app through the API afterwards took {delete_s:.1f} s "
            "(timed, with the server otherwise idle).",
            f"- **ignored, {senders} paced senders** (the latency target): {paced_per_run:,} more deliveries over "
            f"{senders} connections, each waiting {pace_ms} ms after an answer before its next delivery "
            f"(`BENCH_DELAY_MS`, wrk's `delay()`), so about {fmt_num(round(senders * 1000 / pace_ms, -2))} deliveries/s are offered: "
            "a heavy but sustainable load for both servers, where the latency is the server's own and not a queue's.",
            f"- **ignored, 1 sender**: after each 50-sender run, {single_per_run:,} more of the same deliveries "
            "over one connection, one at a time (`-c1`): the time to acknowledge a delivery when none is queued "
            "ahead of it. With 50 senders and no pause between deliveries, the latency is mostly waiting: by "
            "Little's law the mean is 50 divided by the throughput (50 / 5,000 per second = 10 ms), whatever the "
            "server, so no server meets a 5 ms p99 at saturation unless it acknowledges well over 10,000 "
            "deliveries per second; that is why the target is measured paced, and the saturated p99 is reported beside webhook's.",
            "",
            "hooks.json for webhook (`webhook -hooks hooks.json -ip 127.0.0.1 -port P`, no -verbose):", "",
            "```json", json.dumps(hooks, indent=2).replace(secret, "<the app's webhook secret>"), "```", "",
            "bench.lua (also used by benchmark 5 without a body file):", "", "```lua", WRK_LUA.strip(), "```", "",
            f"Server: `{s.command}`.", "")


# --- 5. Port forwarder --------------------------------------------------------------------------


def bench_forward(ctx: Context, sec: Section) -> None:
    s = Slipway(ctx, "forward", app_ports=3)
    s.start()
    big_mb = 100
    bulk_repo = GitRepo.create(ctx.work / "bulk-repo", web_app("bulk app", dockerfile_with_run(
        f"mkdir -p /www && dd if=/dev/zero of=/www/big.bin bs=1048576 count={big_mb} 2>/dev/null")))
    ka_repo = keepalive_repo(ctx, ctx.work / "ka-repo", "keep-alive app")
    bulk = s.create_app("bulk", bulk_repo.url)
    ka = s.create_app("ka", ka_repo.url)
    s.wait_deployment(bulk["deployment_id"])
    s.wait_deployment(ka["deployment_id"])
    wait_body(bulk["port"], "bulk app")
    wait_body(ka["port"], "keep-alive app")
    direct = {"bulk": s.live_container_port("bulk"), "ka": s.live_container_port("ka")}
    # The container's own address on Docker's bridge: what Slipway's forwarder connects to when the
    # container has one (it falls back to the published loopback port otherwise).
    bridge_ip = {}
    for a in ("bulk", "ka"):
        live = s.api("GET", f"/api/apps/{a}", expect=200)["live_deployment_id"]
        ips = docker("inspect", "--type", "container", "--format",
                     "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", f"slipway-{a}-{live}").split()
        bridge_ip[a] = ips[0] if ips else None
    has_bridge = all(bridge_ip.values())
    upstream = {a: (bridge_ip[a], 5000) if has_bridge else (HOST, direct[a]) for a in ("bulk", "ka")}

    # nginx's stream proxy in front of the same upstream as Slipway's forwarder.
    ngx_dir = ctx.work / "nginx"
    (ngx_dir / "logs").mkdir(parents=True)
    ngx_port = {"bulk": free_port(), "ka": free_port()}
    module = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
    conf = "\n".join([
        f"load_module {module};" if module.exists() else "# stream module built in",
        "worker_processes auto;", "daemon off;", "master_process on;",
        f"pid {ngx_dir}/nginx.pid;", f"error_log {ngx_dir}/logs/error.log warn;",
        "events { worker_connections 4096; }",
        "stream {",
        *(f"    server {{ listen {HOST}:{ngx_port[a]}; proxy_pass {upstream[a][0]}:{upstream[a][1]}; }}" for a in ("bulk", "ka")),
        "}", ""])
    conf_file = ngx_dir / "nginx.conf"
    conf_file.write_text(conf)
    ngx_log = open(ngx_dir / "logs" / "stderr.log", "wb")
    ngx = subprocess.Popen(["nginx", "-c", str(conf_file), "-p", str(ngx_dir)], stdin=DEVNULL, stdout=ngx_log, stderr=ngx_log)

    # SIGQUIT is nginx's graceful stop: the master stops its workers.
    ctx.cleanup.add("nginx", lambda: stop_process(ngx, ngx_log, signal.SIGQUIT))
    for a in ngx_port:
        wait_listening(ngx_port[a], 10, "nginx", ngx)

    addr = {"direct": {a: (HOST, direct[a]) for a in direct},
            "slipway": {"bulk": (HOST, bulk["port"]), "ka": (HOST, ka["port"])},
            "nginx": {a: (HOST, ngx_port[a]) for a in ngx_port}}
    paths = ["direct", "slipway", "nginx"]
    if has_bridge:
        addr["bridge"] = {a: (bridge_ip[a], 5000) for a in bridge_ip}
        paths.append("bridge")
    tests = {
        "rps_new": ("requests/s, new connection per request (busybox httpd, wrk -c8, 2,000 requests)", "bulk", 8, 2000, "/index.html"),
        "rps_ka": ("requests/s, keep-alive (C server, wrk -c8, 20,000 requests)", "ka", 8, 20000, "/"),
        "lat_ka": ("latency, keep-alive (C server, wrk -c1, 2,000 requests)", "ka", 1, 2000, "/"),
        "lat_new": ("latency, new connection per request (busybox httpd, wrk -c1, 500 requests)", "bulk", 1, 500, "/index.html"),
    }
    res: dict[tuple[str, str], list[Any]] = {}
    for i in range(RUNS):
        check_deadline()
        order = paths[i % len(paths):] + paths[:i % len(paths)]
        for test, (_, app_name, conns, n, path) in tests.items():
            for p in order:
                host, port = addr[p][app_name]
                r = wrk(ctx, f"http://{host}:{port}{path}", conns, n, pid=s.proc.pid if p == "slipway" else None)
                res.setdefault((test, p), []).append(r)
        for p in order:
            host, port = addr[p]["bulk"]
            proc = run(["curl", "-s", "-o", "/dev/null", "--max-time", "60", "-w", "%{http_code} %{size_download} %{time_total}",
                        f"http://{host}:{port}/big.bin"], timeout=90)
            code, size, total = proc.stdout.decode().split()
            if code != "200" or int(size) != big_mb * 1048576:
                raise BenchError(f"bulk transfer through {p}: HTTP {code}, {size} bytes")
            res.setdefault(("bulk", p), []).append(int(size) / float(total) / 1e6)
        s.assert_alive()
        log(f"forward run {i + 1}/{RUNS}: " + ", ".join(
            f"{p} {res[('rps_ka', p)][-1]['rps']:.0f} ka/s {res[('bulk', p)][-1]:.0f} MB/s" for p in paths))

    def med(test: str, p: str, key: str) -> float:
        return median([r[key] for r in res[(test, p)]])

    names = {"direct": "direct (docker port)", "slipway": "Slipway", "nginx": "nginx stream", "bridge": "bridge address"}
    cols = ["direct", "slipway", "nginx"] + (["bridge"] if has_bridge else [])
    rows = []
    for test in ("rps_new", "rps_ka"):
        v = {p: med(test, p, "rps") for p in cols}
        rows.append([tests[test][0], *(fmt_num(v[p]) for p in cols), f"{v['slipway'] / v['direct']:.2f}",
                     f"{v['slipway'] / v['nginx']:.2f}"])
        sec.target(f"Forwarder {tests[test][0].split(' (')[0]}",
                   f"{v['slipway'] / v['direct']:.2f} of direct, {v['slipway'] / v['nginx']:.2f} of nginx "
                   f"({fmt_num(v['slipway'])} vs {fmt_num(v['direct'])} direct, {fmt_num(v['nginx'])} nginx)",
                   "≥ 0.9 of direct and ≥ nginx", v["slipway"] / v["direct"] >= 0.9 and v["slipway"] >= v["nginx"])
    v = {p: median(res[("bulk", p)]) for p in cols}
    rows.append([f"bulk transfer of a {big_mb} MB file (curl), MB/s", *(fmt_num(v[p]) for p in cols),
                 f"{v['slipway'] / v['direct']:.2f}", f"{v['slipway'] / v['nginx']:.2f}"])
    sec.target(f"Forwarder bulk transfer ({big_mb} MB)", f"{v['slipway'] / v['direct']:.2f} of direct, "
               f"{v['slipway'] / v['nginx']:.2f} of nginx ({fmt_num(v['slipway'])} vs {fmt_num(v['direct'])} direct, "
               f"{fmt_num(v['nginx'])} nginx MB/s)", "≥ 0.9 of direct and ≥ nginx",
               v["slipway"] / v["direct"] >= 0.9 and v["slipway"] >= v["nginx"])
    sec.table(["throughput (median of runs)", *(names[p] for p in cols), "Slipway / direct", "Slipway / nginx"], rows)
    lrows = []
    for test in ("lat_ka", "lat_new"):
        p50 = {p: med(test, p, "p50_us") / 1000 for p in cols}
        p99 = {p: med(test, p, "p99_us") / 1000 for p in cols}
        lrows.append([tests[test][0], *(f"{p50[p]:.3f} / {p99[p]:.3f}" for p in cols),
                      f"{(p50['slipway'] - p50['direct']) * 1000:+.0f} µs", f"{(p50['nginx'] - p50['direct']) * 1000:+.0f} µs"])
    sec.table(["latency, p50 / p99 in ms (median of runs)", *(names[p] for p in cols),
               "Slipway − direct (p50)", "nginx − direct (p50)"], lrows)
    cpu_rows = [[tests[t][0].split(" (")[0], f"{med(t, 'slipway', 'cpu_us'):.0f} µs"] for t in ("rps_new", "rps_ka")]
    sec.table(["through Slipway's forwarder", "Slipway's CPU time per request"], cpu_rows)
    sec.add("*direct (docker port)* is the container's published loopback port (`docker port`), the comparison the "
            "target names; on loopback it is served by Docker's userland proxy (`docker-proxy`). "
            + ("*bridge address* is the container's own address on Docker's bridge network (port 5000), with no "
               "proxy at all. Slipway's forwarder connects to that bridge address (it falls back to the published "
               "port only when the container has none), so nginx was given the same upstream, to compare the two "
               "proxies on equal terms. " if has_bridge else
               "The containers had no bridge address, so Slipway and nginx both forward to the published port. ")
            + "Apps: `bulk` is the busybox test app plus a "
            f"{big_mb} MB file (`RUN dd ... of=/www/big.bin`); busybox httpd closes the connection after every "
            "response, so its request rate is a connection rate. `ka` is the keep-alive C server of benchmark 3, "
            "which shows the relay cost per request on open connections. Every wrk run is bounded by its request "
            "count and 60 s (`wrk -t1 -cN -d60s --timeout 10s -s bench.lua URL`); the order of the paths "
            "rotates between runs. On two cores a proxy's own CPU time is taken from the client, the app and "
            "Docker, so any extra hop shows directly in the request rate.",
            "", "nginx ran as `nginx -c nginx.conf -p <dir>` (stopped with SIGQUIT afterwards) with:", "",
            "```nginx", conf.replace(str(ctx.work), "$WORK").strip(), "```", "", f"Server: `{s.command}`.", "")


# --- 6. Memory and 7. dashboard/API latency: seeded history ---------------------------------------------

SEED_SQL = """
PRAGMA foreign_keys = ON;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {per_app})
INSERT INTO deployments (app_id, status, trigger, ref, commit_sha, commit_message, commit_author, image,
                         delivery_id, error, created_at, started_at, finished_at, steps, log_path)
SELECT a.id,
       CASE WHEN n.i % 10 = 3 THEN 'failed' WHEN n.i % 25 = 7 THEN 'superseded' ELSE 'succeeded' END,
       CASE n.i % 3 WHEN 0 THEN 'webhook' WHEN 1 THEN 'manual' ELSE 'redeploy' END,
       CASE n.i % 3 WHEN 0 THEN lower(hex(randomblob(20))) ELSE NULL END,
       lower(hex(randomblob(20))),
       'Change number ' || n.i || ': update the landing page and its styles',
       'Ada Lovelace <ada@example.com>',
       NULL,
       CASE n.i % 3 WHEN 0 THEN lower(hex(randomblob(16))) ELSE NULL END,
       CASE WHEN n.i % 10 = 3 THEN 'health check failed: GET / did not answer below 500 within 60 s (no answer)' ELSE NULL END,
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ({per_app} - n.i) * 600 + 5)),
       CASE WHEN n.i % 25 = 7 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ({per_app} - n.i) * 600 + 4)) END,
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ({per_app} - n.i) * 600 + 2)),
       CASE WHEN n.i % 25 = 7 THEN '[]' WHEN n.i % 10 = 3 THEN '[["clone",31],["build",912],["start",498],["check",60012]]'
            ELSE '[["clone",27],["build",841],["start",526],["check",1],["swap",0]]' END,
       NULL
FROM n CROSS JOIN apps a
ORDER BY n.i, a.id;
UPDATE deployments SET image = 'slipway/' || (SELECT name FROM apps WHERE apps.id = deployments.app_id) || ':' || id
    WHERE status = 'succeeded' AND image IS NULL;
UPDATE apps SET status = 'stopped',
    live_deployment_id = (SELECT max(id) FROM deployments d WHERE d.app_id = apps.id AND d.status = 'succeeded');
COMMIT;
"""


def seed_history(s: Slipway, apps: int, per_app: int) -> float:
    """Creates `apps` apps through the API (deploy: false), stops the server and inserts `per_app`
    deployment rows for each with sqlite3. Returns the seconds the insert took."""
    s.seeded = True
    for i in range(apps):
        s.create_app(f"app-{i:03d}", f"/srv/git/app-{i:03d}.git", deploy=False, env={"GREETING": "hello"})
    s.stop()
    started = time.monotonic()
    run(["sqlite3", str(s.data_dir / "slipway.db")], input=SEED_SQL.format(per_app=per_app).encode(), timeout=300)
    took = time.monotonic() - started
    count = int(out(["sqlite3", str(s.data_dir / "slipway.db"), "SELECT count(*) FROM deployments"]))
    if count != apps * per_app:
        raise BenchError(f"seeded {count} deployments, expected {apps * per_app}")
    return took


class WebClient:
    """One keep-alive connection to the server, logged in to the dashboard."""

    def __init__(self, s: Slipway):
        self.s = s
        self.conn = http.client.HTTPConnection(HOST, s.port, timeout=30)
        status, headers, _ = self.request("POST", "/login", body=f"password={ADMIN_PASSWORD}".encode(),
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        cookie = headers.get("set-cookie", "")
        if status != 303 or "slipway_session=" not in cookie:
            raise BenchError(f"POST /login: {status} {headers}")
        self.cookie = cookie.split(";", 1)[0]

    def request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None) -> tuple[int, dict, bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def get(self, path: str, auth: str) -> tuple[int, bytes, float]:
        headers = {"Cookie": self.cookie} if auth == "cookie" else {"Authorization": f"Bearer {API_TOKEN}"}
        started = time.perf_counter()
        status, _, data = self.request("GET", path, headers=headers)
        return status, data, time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def load_pages_once(s: Slipway, app: str) -> None:
    web = WebClient(s)
    try:
        for path, auth in (("/", "cookie"), (f"/apps/{app}", "cookie"), ("/api/apps", "token"),
                           (f"/api/apps/{app}/deployments?limit=50", "token")):
            status, data, _ = web.get(path, auth)
            if status != 200:
                raise BenchError(f"GET {path}: {status} {data[:300]!r}")
    finally:
        web.close()


def mapped_files_kb(pid: int) -> list[tuple[int, str]]:
    """Resident kB per mapped file (all its mappings), largest first, from /proc/<pid>/smaps."""
    sizes: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and re.match(r"^[0-9a-f]+-[0-9a-f]+$", parts[0]):
            name = parts[5] if len(parts) > 5 else "[anonymous]"
        elif parts and parts[0] == "Rss:":
            sizes[name] = sizes.get(name, 0) + int(parts[1])
    return sorted(((kb, n) for n, kb in sizes.items() if n.startswith("/") and "/data/" not in n), reverse=True)


def bench_memory(ctx: Context, sec: Section) -> None:
    idle, idle_hwm, idle_anon, idle_file = [], [], [], []
    idle_libs: list[tuple[int, str]] = []
    for i in range(RUNS):
        check_deadline()
        s = Slipway(ctx, f"memory-idle-{i}", app_ports=1)
        s.start()
        time.sleep(2.5)  # past the supervisor's first look at Docker (every 2 s)
        status = proc_status_kb(s.proc.pid)
        idle.append(status["VmRSS"])
        idle_hwm.append(status["VmHWM"])
        idle_anon.append(status["RssAnon"])
        idle_file.append(status["RssFile"])
        if i == 0:
            idle_libs = mapped_files_kb(s.proc.pid)
        s.stop()
    apps, per_app = 50, 200
    s = Slipway(ctx, "memory-loaded", app_ports=apps)
    s.start()
    insert_s = seed_history(s, apps, per_app)
    loaded, loaded_hwm, after_start = [], [], []
    for i in range(RUNS):
        check_deadline()
        s.start()
        time.sleep(2.5)
        after_start.append(rss_kb(s.proc.pid)[0])
        load_pages_once(s, "app-000")
        time.sleep(0.5)
        rss, hwm = rss_kb(s.proc.pid)
        loaded.append(rss)
        loaded_hwm.append(hwm)
        s.stop()
    mb = lambda kb: kb / 1024  # noqa: E731
    m_idle = mb(median(idle))
    sec.table(["state", "VmRSS (median)", "VmHWM (median)", "runs: VmRSS (MB)"], [
        ["idle, right after start (no apps)", f"{m_idle:.1f} MB", f"{mb(median(idle_hwm)):.1f} MB", " / ".join(f"{mb(x):.1f}" for x in idle)],
        [f"{apps} apps and {apps * per_app:,} deployments, after start", f"{mb(median(after_start)):.1f} MB", "",
         " / ".join(f"{mb(x):.1f}" for x in after_start)],
        [f"{apps} apps and {apps * per_app:,} deployments, after loading the dashboard and API once",
         f"{mb(median(loaded)):.1f} MB", f"{mb(median(loaded_hwm)):.1f} MB", " / ".join(f"{mb(x):.1f}" for x in loaded)],
    ])
    sec.add(f"Of the idle VmRSS, {mb(median(idle_anon)):.1f} MB is anonymous memory (heap, stacks: RssAnon) and "
            f"{mb(median(idle_file)):.1f} MB is pages of mapped files (RssFile), which are the executable's and the "
            "shared libraries' code and data as far as they have been touched (the kernel maps file pages in "
            "64 KB batches around each fault). The largest, in the first idle run (kB resident):", "")
    sec.table(["mapped file", "resident"],
              [[f"`{name.replace(str(ctx.work.parent), '$WORK')}`", f"{kb:,} kB"] for kb, name in idle_libs[:10]])
    sec.target("Memory, idle server (VmRSS)", f"{m_idle:.1f} MB", "≤ 20 MB", m_idle <= 20)
    sec.target(f"Memory with {apps} apps and {apps * per_app:,} deployments (reported, no target)",
               f"{mb(median(loaded)):.1f} MB", "report", None)
    sec.add("VmRSS and VmHWM (peak) from `/proc/<pid>/status`, read 2.5 s after `/healthz` first answers (after "
            "the supervisor's first `docker ps`). Idle: a fresh data directory each run. Loaded: "
            f"{apps} apps created through the API with `deploy: false` (each app's port forwarder listens, "
            f"answering 503), the server stopped, {apps * per_app:,} deployment rows ({per_app} per app, 80% "
            f"succeeded) inserted with the sqlite3 CLI in {insert_s:.1f} s (the SQL is under benchmark 7), each app "
            "given a live deployment and the status `stopped` (so no container is started), then the server "
            "restarted once per run; \"after loading\" is after `POST /login`, `GET /`, `GET /apps/app-000`, "
            "`GET /api/apps` and `GET /api/apps/app-000/deployments?limit=50`.",
            f"Server: `{s.command}`.", "")


def bench_web(ctx: Context, sec: Section) -> None:
    apps, per_app, per_run = 100, 1000, 200
    s = Slipway(ctx, "web", app_ports=apps)
    s.start()
    insert_s = seed_history(s, apps, per_app)
    s.start()
    load_pages_once(s, "app-000")
    web = WebClient(s)
    endpoints = [
        ("GET /", lambda i: "/", "cookie"),
        ("GET /apps/{name}", lambda i: f"/apps/app-{i % apps:03d}", "cookie"),
        ("GET /api/apps", lambda i: "/api/apps", "token"),
        ("GET /api/apps/{name}/deployments?limit=50", lambda i: f"/api/apps/app-{i % apps:03d}/deployments?limit=50", "token"),
    ]
    results: dict[str, list[tuple[float, float]]] = {}
    cpu: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    try:
        for r in range(RUNS):
            check_deadline()
            order = endpoints[r % 4:] + endpoints[:r % 4]
            for name, path_of, auth in order:
                for i in range(10):  # warm-up
                    web.get(path_of(i), auth)
                times = []
                cpu_before = cpu_seconds(s.proc.pid)
                for i in range(per_run):
                    status, data, took = web.get(path_of(i), auth)
                    if status != 200:
                        raise BenchError(f"{name}: {status} {data[:300]!r}")
                    times.append(took)
                    sizes[name] = len(data)
                results.setdefault(name, []).append((percentile(times, 50), percentile(times, 99)))
                cpu.setdefault(name, []).append((cpu_seconds(s.proc.pid) - cpu_before) / per_run)
            log(f"web run {r + 1}/{RUNS}: " + ", ".join(f"{n} p99 {results[n][-1][1] * 1000:.1f} ms" for n, _, _ in endpoints))
        rss = rss_kb(s.proc.pid)[0]
    finally:
        web.close()
    rows = []
    for name, _, _ in endpoints:
        p50 = median([x[0] for x in results[name]]) * 1000
        p99 = median([x[1] for x in results[name]]) * 1000
        rows.append([f"`{name}`", f"{p50:.2f} ms", f"{p99:.2f} ms", " / ".join(f"{x[1] * 1000:.1f}" for x in results[name]),
                     f"{median(cpu[name]) * 1000:.1f} ms", f"{sizes[name] / 1024:.0f} KB"])
        sec.target(f"Latency {name} (100 apps × 1,000 deployments)", f"p99 {p99:.2f} ms (p50 {p50:.2f} ms)", "p99 ≤ 20 ms", p99 <= 20)
    sec.table(["request", "p50 (median of runs)", "p99 (median of runs)", "runs: p99 (ms)", "server CPU per request",
               "response size"], rows)
    sec.add(f"{apps} apps (`deploy: false`) with {per_app:,} deployments each ({apps * per_app:,} rows, inserted with "
            f"sqlite3 in {insert_s:.1f} s while the server was stopped). One client, one keep-alive connection "
            f"(Python `http.client`), requests one after another: per run and endpoint 10 warm-up requests, then "
            f"{per_run} timed ones (the app name cycling through all {apps} apps), from sending the request to "
            f"reading the whole response. The dashboard requests carry the session cookie from `POST /login`, "
            f"the API ones the bearer token. *Server CPU per request* is the server process's user+system CPU time "
            f"(`/proc/<pid>/stat`, 10 ms ticks) over the timed requests divided by their number: unlike the "
            f"latency, it does not depend on what else the machine is running. VmRSS of the server at the end: "
            f"{rss / 1024:.1f} MB.",
            "", "The seeding SQL (`{per_app}` is 200 for benchmark 6 and 1000 here; the apps exist already):", "",
            "```sql", SEED_SQL.strip(), "```", "", f"Server: `{s.command}`.", "")


# --- Machine, tools, report -------------------------------------------------------------------------


def machine_info() -> list[tuple[str, str]]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    head = try_out(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = try_out(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"])
    swift = try_out(["swift", "--version"]).splitlines()
    linked = try_out(["ldd", str(RUN_BIN)])
    runtime = "Swift runtime linked statically" if "libswiftCore" not in linked else "Swift runtime in shared libraries"
    return [
        ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Slipway", f"{try_out([str(RUN_BIN), '--version'])}, commit {head}{' with uncommitted changes' if dirty else ''}, "
                    f"release build, {runtime} "
                    f"(`{SLIPWAY_BIN.relative_to(REPO_ROOT) if SLIPWAY_BIN.is_relative_to(REPO_ROOT) else SLIPWAY_BIN}`, "
                    "run from a copy in `$WORK/bin` taken at the start)"),
        ("CPU", f"{cpu}, {os.cpu_count()} CPUs (`nproc`: {try_out(['nproc'])})"),
        ("Memory", mem),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("OS", try_out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"])),
        ("Docker", f"client {try_out(['docker', 'version', '--format', '{{.Client.Version}}'])}, "
                   f"server {try_out(['docker', 'version', '--format', '{{.Server.Version}}'])}, "
                   f"storage driver {try_out(['docker', 'info', '--format', '{{.Driver}}'])}"),
        ("Swift", swift[0] if swift else "unknown"),
        ("git", try_out(["git", "--version"])),
        ("Python", platform.python_version()),
        ("wrk", (try_out(["wrk", "-v"]).splitlines() or ["?"])[0]),
        ("webhook", try_out(["webhook", "-version"])),
        ("nginx", run(["nginx", "-v"], check=False).stderr.decode().strip() if shutil.which("nginx") else "not installed"),
        ("curl", (try_out(["curl", "--version"]).splitlines() or ["?"])[0]),
        ("sqlite3", try_out(["sqlite3", "--version"]).split(" ")[0]),
    ]


def remove_leftovers() -> list[str]:
    """Whatever a broken clean-up left: containers and images with this run's labels, by hand or Slipway's."""
    problems = remove_labelled([TEST_LABEL, BENCH_LABEL])
    for instance in INSTANCES:
        problems += remove_labelled([TEST_LABEL, f"slipway.instance={instance}"])
    return problems


def docker_went_away(text: str) -> bool:
    gone = ("Cannot connect to the Docker daemon", "Docker is unavailable", "the Docker engine is unavailable")
    return any(g in text for g in gone) or run(["docker", "info"], check=False, timeout=60).returncode != 0


def wait_for_docker(timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while run(["docker", "info"], check=False, timeout=60).returncode != 0:
        if time.monotonic() > deadline:
            raise BenchError(f"the Docker engine did not come back within {timeout:.0f}s")
        time.sleep(2)
    time.sleep(5)  # let it settle (containers with restart policies come back first)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# Debian's docker.io client (20.10) builds with BuildKit by itself; a newer client without the buildx
# plugin only has the classic builder. Both sides of benchmark 1 use the same client and builder.
DOCKER_CLIENT = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def client_builder(client: str) -> str:
    """The builder Slipway's --builder auto picks for this client (ImageBuilder.swift)."""
    if run([client, "buildx", "version"], check=False, timeout=30).returncode == 0:
        return "BuildKit"
    version = run([client, "version", "--format", "{{.Client.Version}}"], check=False, timeout=30).stdout.decode().strip()
    parts = [int("".join(ch for ch in p if ch.isdigit()) or -1) for p in version.split(".")[:2]]
    if len(parts) == 2 and ((parts[0] == 18 and parts[1] >= 9) or 19 <= parts[0] < 23):
        return "BuildKit"
    return "classic builder"


BUILDER = "classic builder"


def ensure_tools() -> dict[str, str]:
    """wrk, webhook and nginx (with its stream module) from Debian, installed when missing and root."""
    needed = {"wrk": "wrk", "webhook": "webhook", "nginx": "nginx"}
    missing = [pkg for tool, pkg in needed.items() if not shutil.which(tool)]
    if shutil.which("nginx") and not Path("/usr/lib/nginx/modules/ngx_stream_module.so").exists():
        if "with-stream=dynamic" in run(["nginx", "-V"], check=False).stderr.decode():
            missing.append("libnginx-mod-stream")
    elif "nginx" in missing:
        missing.append("libnginx-mod-stream")
    for tool in ("git", "docker", "curl", "sqlite3", "bash"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is not installed (scripts/test-env.sh installs the test prerequisites)")
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise BenchError(f"missing Debian packages: {' '.join(missing)}; install them with "
                             f"apt-get install -y --no-install-recommends {' '.join(missing)}")
        log(f"installing {' '.join(missing)} with apt-get")
        # No package's service may start (nginx's would listen on port 80): a temporary policy-rc.d
        # says no, unless the machine already has one.
        policy = Path("/usr/sbin/policy-rc.d")
        made_policy = not policy.exists()
        if made_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            if run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=False, timeout=600, env=env).returncode != 0:
                run(["apt-get", "update", "-qq"], timeout=600, env=env)
                run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], timeout=600, env=env)
        finally:
            if made_policy:
                policy.unlink()
    return {}


def preflight() -> None:
    if not SLIPWAY_BIN.is_file():
        raise BenchError(f"no slipway binary at {SLIPWAY_BIN}; build it with `swift build -c release` (or run `make bench`)")
    if run(["docker", "info"], check=False, timeout=60).returncode != 0:
        raise BenchError("the Docker engine is not answering (scripts/test-env.sh starts it)")
    if run(["docker", "image", "inspect", BASE_IMAGE], check=False).returncode != 0:
        raise BenchError(f"the base image {BASE_IMAGE} is missing (scripts/test-env.sh builds it)")
    ensure_tools()


BENCHMARKS: list[tuple[int, str, str, Callable[[Context, Section], None]]] = [
    (1, "deploy", "Deploy overhead", bench_deploy),
    (2, "rollback", "Rollback", bench_rollback),
    (3, "swap", "Zero-downtime swap under load", bench_swap),
    (4, "webhook", "Webhook acknowledgement", bench_webhook),
    (5, "forward", "Port forwarder", bench_forward),
    (6, "memory", "Memory", bench_memory),
    (7, "web", "Dashboard and API latency", bench_web),
]


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(sections: list[Section], machine: list[tuple[str, str]], started: float, load_before: str,
                 problems: list[str], notes: list[str]) -> None:
    total = time.monotonic() - started
    lines = [
        "# Slipway benchmarks", "",
        f"Written by `scripts/bench.py` (`make bench`) on {machine[0][1]}, in {total / 60:.1f} minutes. "
        f"Every comparison ran side by side in the same run, each measurement {RUNS} times with the sides "
        "interleaved; figures are medians of the runs, and ratios are ratios of medians. The script reports "
        "and never fails on a missed target; it fails only when something breaks.", "",
        "To run it again:", "",
        "```sh",
        "make bench      # `make release` (the production build), then scripts/bench.py against it",
        "# against an existing binary, or only some benchmarks (written to /tmp/slipway-bench-partial.md):",
        "SLIPWAY_BIN=.build/release/slipway BENCH_ONLY=webhook,web python3 scripts/bench.py",
        "```", "",
        "It needs what `make test` needs (Docker, git, sqlite3, curl, the `slipway-test-base` image from "
        "`scripts/test-env.sh`) plus Debian's `wrk`, `webhook`, `nginx` and `libnginx-mod-stream`, which it installs "
        "with apt-get when missing and run as root, and `cc` for the keep-alive test server. Everything listens on "
        "127.0.0.1; every container and image it makes is labelled `slipway.test=1` and removed at the end.", "",
        "## Machine", "",
        "| | |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine),
        f"| Load average | {load_before} before the run, {loadavg()} after it |", "",
    ]
    lines += [
        "This is a shared 2-core machine: other test runs may have been using it at the same time (see the load "
        "average), which shows mostly as run-to-run spread; the side-by-side interleaving keeps the comparisons fair.",
        "", "## Results", "",
        "| # | Benchmark | Figure | Target | Verdict |", "|---|---|---|---|---|",
    ]
    for sec in sections:
        for t in sec.targets:
            lines.append(f"| {t.number} | {cell(t.benchmark)} | {cell(t.figure)} | {cell(t.target)} | {verdict(t.met)} |")
        if sec.error:
            lines.append(f"| {sec.number} | {sec.title} | **broke**: {cell(sec.error.splitlines()[0][:200])} | | **error** |")
    lines.append("")
    missed = [t for sec in sections for t in sec.targets if t.met is False]
    if missed:
        lines += ["Missed: " + "; ".join(f"{t.benchmark} ({t.figure}, target {t.target})" for t in missed) + ".", ""]
    if notes:
        lines += ["Notes on this run:", "", *(f"- {cell(n)}" for n in notes), ""]
    if problems:
        lines += ["Problems during the run:", "", *(f"- `{p.strip().splitlines()[0][:300]}`" for p in problems), ""]
    if ANALYSIS.exists() and not ONLY:
        # Written by hand from a profile: what was found and changed, and why a missed target stays missed.
        lines += [ANALYSIS.read_text().rstrip(), ""]
    for sec in sections:
        lines += [f"## {sec.number}. {sec.title}", "", f"*{sec.seconds:.0f} s of the run.*", ""]
        if sec.error:
            lines += ["**This benchmark broke:**", "", "```", sec.error.strip()[-3000:], "```", ""]
        lines += sec.lines
    text = "\n".join(lines).rstrip() + "\n"
    OUTPUT.write_text(text)
    log(f"wrote {OUTPUT}")


def main() -> int:
    started = time.monotonic()
    load_before = loadavg()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    selected = [b for b in BENCHMARKS if not ONLY or b[1] in ONLY]
    unknown = set(ONLY) - {b[1] for b in BENCHMARKS}
    if unknown:
        print(f"unknown benchmark(s) in BENCH_ONLY: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        preflight()
        global BUILDER
        BUILDER = client_builder(DOCKER_CLIENT)
        log(f"docker client {DOCKER_CLIENT}: {BUILDER}")
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    global RUN_BIN
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    (work / "bin").mkdir()
    RUN_BIN = work / "bin" / "slipway"
    shutil.copy2(SLIPWAY_BIN, RUN_BIN)
    shutil.copytree(REPO_ROOT / "Templates", work / "Templates")
    machine = machine_info()
    log(f"work dir {work}; run id {RUN_ID}; {RUNS} runs per measurement; output {OUTPUT}")
    sections: list[Section] = []
    problems: list[str] = []
    notes: list[str] = []
    interrupted = False
    try:
        for number, name, title, fn in selected:
            sec = Section(number, title)
            sections.append(sec)
            cleanup = Cleanup()
            ctx = Context(work=work / name, cleanup=cleanup, tools={})
            ctx.work.mkdir(parents=True)
            log(f"== {number}. {title} (load average {loadavg()})")
            t0 = time.monotonic()
            for attempt in (1, 2):
                try:
                    fn(ctx, sec)
                except KeyboardInterrupt:
                    sec.error = "interrupted"
                    interrupted = True
                except Exception as exc:  # a broken benchmark is reported; the others still run
                    sec.error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
                    log(f"{name} broke: {exc}")
                section_problems = cleanup.run_all()
                # On a shared machine someone else may restart the Docker engine under us: then the
                # benchmark is run once more, from scratch, once the engine answers again.
                if attempt == 1 and sec.error and not interrupted and docker_went_away(sec.error + " ".join(section_problems)):
                    log(f"{name}: the Docker engine went away during the run; waiting for it, then running {name} again")
                    wait_for_docker()
                    section_problems += remove_leftovers()
                    retried = [f"{name}: first attempt broke because the Docker engine became unavailable "
                               f"(restarted by someone else?); ran again. First error: {sec.error.splitlines()[0][:200]}"]
                    sec = Section(number, title)
                    sections[-1] = sec
                    cleanup = Cleanup()
                    ctx = Context(work=work / f"{name}-2", cleanup=cleanup, tools={})
                    ctx.work.mkdir(parents=True)
                    notes += retried
                    continue
                problems += section_problems
                break
            sec.seconds = time.monotonic() - t0
            if interrupted:
                break
    finally:
        # Whatever survived a broken clean-up: containers and images with this run's labels.
        problems += remove_leftovers()
        write_report(sections, machine, started, load_before, problems, notes)
        if KEEP:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    broken = [s for s in sections if s.error]
    return 1 if broken or problems or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
