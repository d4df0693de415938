"""11. Upgrades: failed requests on an app's port and on the HTTP edge across a seamless upgrade
(SIGHUP: the binary starts again as `serve --takeover` and takes the listening sockets over),
and across a crash (SIGKILL) and a plain restart."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time

from ..harness import BenchError, Context, Section, check_deadline, log
from ..http_client import wait_body
from ..keepalive_app import keepalive_repo
from ..measure import fmt_num, merged_failures
from ..server import Slipway
from ..settings import HOST
from .swap import LoadClient
from loopback import free_port
from slipway_process import alive

THREADS_PER_TARGET = 4
DOMAIN = "upgrade.bench"


def wait_edge_body(port: int, body: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(HOST, port, timeout=3)
        try:
            conn.request("GET", "/", headers={"Host": DOMAIN})
            resp = conn.getresponse()
            seen = (resp.status, resp.read().decode(errors="replace").strip())
            if seen == (200, body):
                return
        except OSError as exc:
            seen = repr(exc)
        finally:
            conn.close()
        time.sleep(0.05)
    raise BenchError(f"the edge on {port} did not answer 200 {body!r} for Host {DOMAIN} within {timeout:.0f}s; last: {seen!r}")


def successor_pid(data_dir: str, not_pid: int, timeout: float = 30) -> int:
    """The `serve --takeover` process of `data_dir` (SIGHUP starts it; it is not our child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == not_pid:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"--takeover" in args and data_dir.encode() in args:
                return int(entry)
        time.sleep(0.02)
    raise BenchError(f"no successor of the slipway on {data_dir} within {timeout:.0f}s")


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest time between two successful answers within [start, end]."""
    inside = [t for t in sorted(times) if start <= t <= end]
    points = [start, *inside, end]
    return max(b - a for a, b in zip(points, points[1:]))


def under_load(app_port: int, edge_port: int, keepalive: bool, event, settle: float = 1.5):  # noqa: ANN001
    """Runs the load on both targets, calls `event()` after `settle` seconds, keeps the load on
    for `settle` seconds after it returned; returns the clients by target and the event's window."""
    halt = threading.Event()
    t0 = time.monotonic()
    targets = {"app port": (app_port, None), "edge": (edge_port, DOMAIN)}
    clients = {name: [LoadClient(port, keepalive, {"upgrade v1": 1}, halt, max_seconds=120, max_requests=200_000, t0=t0,
                                 host_header=host) for _ in range(THREADS_PER_TARGET)]
               for name, (port, host) in targets.items()}
    for group in clients.values():
        for c in group:
            c.start()
    try:
        time.sleep(settle)
        began = time.monotonic() - t0
        event()
        ended = time.monotonic() - t0
        time.sleep(settle)
    finally:
        halt.set()
        for group in clients.values():
            for c in group:
                c.join(30)
    return clients, began, ended


def measure(ctx: Context, sec: Section) -> None:
    edge_port = free_port()
    s = Slipway(ctx, "upgrade", app_ports=2, extra=("--http-port", str(edge_port)))
    s.start()
    repo = keepalive_repo(ctx, ctx.work / "upgrade-repo", "upgrade v1")
    app = s.create_app("upgrade", repo.url, deploy=False, domains=[DOMAIN])
    dep = s.api("POST", "/api/apps/upgrade/deployments", {}, expect=202)
    s.wait_deployment(dep["id"])
    wait_body(app["port"], "upgrade v1")
    wait_edge_body(edge_port, "upgrade v1")
    data_dir = str(s.data_dir)
    rows = []
    successor = {"pid": 0}

    def kill_successor() -> None:
        if successor["pid"] and alive(successor["pid"]):
            os.kill(successor["pid"], signal.SIGKILL)
    ctx.cleanup.add("the upgrade's successor process", kill_successor)

    def upgrade() -> None:
        old = s.proc
        old.send_signal(signal.SIGHUP)
        successor["pid"] = successor_pid(data_dir, old.pid)
        code = old.wait(60)
        if code != 0:
            raise BenchError(f"the old process exited with {code}:\n{s.stderr_tail()}")

    def crash_and_restart() -> None:
        os.kill(successor["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(successor["pid"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        s.start()

    check_deadline()
    clients, began, ended = under_load(app["port"], edge_port, False, upgrade)
    row_for(rows, "upgrade (SIGHUP)", clients, began, ended)
    # The successor is not the Slipway object's process: the crash below ends it, and a plain
    # start on the same data directory replaces it.
    check_deadline()
    clients, began, ended = under_load(app["port"], edge_port, False, crash_and_restart)
    row_for(rows, "crash (SIGKILL) and restart", clients, began, ended)

    upgrade_failed = sum(int(r[4].replace(",", "")) for r in rows if r[0].startswith("upgrade"))
    crash = [r for r in rows if r[0].startswith("crash")]
    sec.target("Seamless upgrade: failed requests on an app port and the edge", f"{upgrade_failed} failed", "0 failed",
               upgrade_failed == 0)
    sec.target("Crash and restart: the gap on an app port and the edge (reported, no target)",
               "; ".join(f"{r[1]}: {r[4]} failed, longest gap {r[6]}" for r in crash), "report", None)
    sec.add(f"{THREADS_PER_TARGET} Python threads per target (`http.client`, a new connection per request) send "
            f"`GET /` to the app's port, and {THREADS_PER_TARGET} to the HTTP edge with `Host: {DOMAIN}`, for 1.5 s, "
            "then through the event, then 1.5 s more. A request fails on any exception or any answer other than 200 "
            "with the app's body. The app is the keep-alive C server of benchmark 3.",
            "",
            "- **Upgrade**: SIGHUP to the running server (what the systemd unit's reload sends). It starts its own "
            "binary as `serve --takeover`, which receives every listening socket over DATA_DIR/takeover.sock, looks "
            "at Docker once, accepts, and tells the old process, which stops accepting, drains and exits. The "
            "*event* lasts from the signal to the old process's exit.",
            "- **Crash and restart**: SIGKILL to the server, then a plain `slipway serve` on the same data directory "
            "(what systemd's `Restart=always` does, without its back-off); the *event* lasts until the new server "
            "answers `/healthz`. Connections to a port nobody listens on are refused meanwhile.",
            "",
            f"Server: `{s.command}`.", "")
    sec.table(["event", "target", "requests", "requests/s", "failed", "failures by kind", "longest gap between answers",
               "event took"], [r[:3] + [r[3], r[4], r[5], r[6], r[7]] for r in rows])
    log(f"upgrade: {rows}")


def row_for(rows: list, what: str, clients: dict, began: float, ended: float) -> None:
    for target, group in clients.items():
        requests = sum(c.requests for c in group)
        failures = merged_failures(c.failures for c in group)
        failed = sum(failures.values())
        seen = [t for c in group for t, _ in c.seen]
        elapsed = max((t for t in seen), default=1.0)
        gap = longest_gap(seen, began, max(seen, default=ended))
        rows.append([what, target, fmt_num(requests), fmt_num(requests / elapsed), fmt_num(failed),
                     ", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none",
                     f"{gap * 1000:.0f} ms", f"{(ended - began) * 1000:.0f} ms"])
