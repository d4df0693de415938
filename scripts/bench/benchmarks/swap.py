"""3. Zero-downtime swap: 32 client threads through 5 redeploys, new connections and keep-alive."""

from __future__ import annotations

import http.client
import threading
import time
from typing import Optional

from gitrepo import BASE_IMAGE

from ..docker_cli import docker
from ..harness import Context, Section, check_deadline, log
from ..http_client import wait_body
from ..keepalive_app import keepalive_repo
from ..measure import fmt_num, merged_failures
from ..server import Slipway
from ..settings import HOST


class LoadClient(threading.Thread):
    """GETs / in a loop until told to stop, or its request or time budget runs out."""

    def __init__(self, port: int, keepalive: bool, bodies: dict[str, int], halt: threading.Event,
                 max_seconds: float, max_requests: int, t0: float, host_header: Optional[str] = None):
        super().__init__(daemon=True)
        self.port, self.keepalive, self.bodies, self.halt = port, keepalive, bodies, halt
        self.host_header = host_header
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
        if self.host_header:
            headers["Host"] = self.host_header
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


def measure(ctx: Context, sec: Section) -> None:
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
        failures = merged_failures(c.failures for c in clients)
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
