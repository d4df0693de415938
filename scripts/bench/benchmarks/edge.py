"""9. HTTP edge: Slipway's edge (`--http-port`, routing by Host) against nginx as an HTTP reverse
proxy, in front of the same container, side by side and interleaved; then redeploys under load."""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from loopback import free_port

from ..docker_cli import docker
from ..harness import DEVNULL, BenchError, Context, Section, check_deadline, log, run, stop_process, wait_listening
from ..http_client import wait_body
from ..keepalive_app import keepalive_repo
from ..measure import fmt_num, median, merged_failures, rss_kb, with_children
from ..server import Slipway
from ..settings import HOST, RUNS
from ..wrk import wrk

DOMAIN = "bench.example"
BIG_MB = 100
IDLE_CONNECTIONS = 1000
REDEPLOYS = 3
LOAD_THREADS = 16


def has_http_edge(binary: Path) -> bool:
    """Whether the binary has the HTTP edge: only then is there a Slipway side to measure."""
    proc = run([str(binary), "--help"], check=False, timeout=10)
    return "--http-port" in (proc.stdout + proc.stderr).decode(errors="replace")


# --- Raw HTTP on loopback, with the Host the edge routes by --------------------------------------


def request_bytes(path: str = "/", close: bool = False) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n").encode()


class ResponseReader:
    """Reads Content-Length responses one after another from a socket (pipelined answers in order)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def read(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body


def wait_edge(port: int, body: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=3) as sock:
                sock.sendall(request_bytes(close=True))
                status, _, got = ResponseReader(sock).read()
                seen = (status, got.decode(errors="replace").strip())
                if seen == (200, body):
                    return
        except OSError as exc:
            seen = repr(exc)
        time.sleep(0.05)
    raise BenchError(f"the edge on {port} did not answer 200 {body!r} for Host {DOMAIN} within {timeout:.0f}s; last: {seen!r}")


# --- nginx as an HTTP reverse proxy -------------------------------------------------------------


def nginx_server(listen: int, upstream: tuple[str, int], tls: Optional[tuple[Path, Path]] = None) -> list[str]:
    """A `server` proxying to `upstream`; with `tls` (certificate, key), over TLS 1.2 and 1.3 as
    Slipway's HTTPS edge serves."""
    return [
        f"    upstream app{listen} {{ server {upstream[0]}:{upstream[1]}; keepalive 32; keepalive_requests 1000000; }}",
        "    server {",
        f"        listen {HOST}:{listen}" + (" ssl;" if tls else ";"),
        f"        server_name {DOMAIN};",
        *([f"        ssl_certificate {tls[0]};", f"        ssl_certificate_key {tls[1]};",
           "        ssl_protocols TLSv1.2 TLSv1.3;"] if tls else []),
        "        location / {",
        f"            proxy_pass http://app{listen};",
        "            proxy_http_version 1.1;",
        '            proxy_set_header Connection "";',
        # The headers Slipway's edge sets, so both send the container the same.
        "            proxy_set_header Host $http_host;",
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        "            proxy_set_header X-Forwarded-Host $host;",
        "            proxy_set_header X-Request-Id $request_id;",
        "            add_header X-Request-Id $request_id;",
        # Stream, as Slipway's edge does, rather than spool a large answer to a temp file (which
        # nginx's workers, running as another user, could not write in this work directory).
        "            proxy_max_temp_file_size 0;",
        "        }",
        "    }",
    ]


def nginx_conf(ngx_dir: Path, servers: dict[int, tuple[str, int]], tls: Optional[tuple[Path, Path]] = None) -> str:
    """One `server` per listening port, each with its own upstream pool (`servers`: port → upstream);
    with `tls` (certificate, key), each over TLS."""
    temp = {k: ngx_dir / "temp" / k for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    return "\n".join([
        "worker_processes auto;", "daemon off;", "master_process on;", "worker_rlimit_nofile 8192;",
        f"pid {ngx_dir}/nginx.pid;", f"error_log {ngx_dir}/logs/error.log warn;",
        "events { worker_connections 4096; }",
        "http {",
        # An access log as Slipway keeps one, buffered as Slipway's is.
        f"    access_log {ngx_dir}/logs/access.log combined buffer=64k flush=1s;",
        # Debian's nginx has absolute temp paths built in; these keep it inside the work directory.
        *(f"    {k}_temp_path {v};" for k, v in temp.items()),
        # Limits as Slipway's: 75 s idle (--idle-timeout), no cap on requests per connection.
        "    keepalive_timeout 75s;", "    keepalive_requests 1000000;",
        *(line for listen, upstream in servers.items() for line in nginx_server(listen, upstream, tls)),
        "}", ""])


def process_tree_rss_kb(pid: int) -> int:
    """VmRSS of the process and its children (nginx: the master and its workers)."""
    total = rss_kb(pid)[0]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return total + sum(rss_kb(int(c))[0] for c in children)


def idle_rss_per_thousand(port: int, pid: int, what: str,
                          wrap: Callable[[socket.socket], socket.socket] = lambda sock: sock) -> tuple[float, int, int]:
    """Opens IDLE_CONNECTIONS connections (each through `wrap`: TLS for benchmark 10), each after
    one request answered (a kept-alive client between requests); returns (kB per 1,000, RSS
    before, RSS after)."""
    before = process_tree_rss_kb(pid)
    socks: list[socket.socket] = []
    try:
        for i in range(IDLE_CONNECTIONS):
            sock = wrap(socket.create_connection((HOST, port), timeout=10))
            socks.append(sock)
            sock.sendall(request_bytes())
            status, _, _ = ResponseReader(sock).read()
            if status != 200:
                raise BenchError(f"{what}: idle connection {i} was answered {status}")
        time.sleep(1.0)
        after = process_tree_rss_kb(pid)
    finally:
        for sock in socks:
            sock.close()
    return (after - before) * 1000 / IDLE_CONNECTIONS, before, after


def download_seconds(port: int, what: str) -> float:
    proc = run(["curl", "-s", "-o", "/dev/null", "--max-time", "120", "-H", f"Host: {DOMAIN}",
                "-w", "%{http_code} %{size_download} %{time_total}", f"http://{HOST}:{port}/big.bin"], timeout=150)
    code, size, total = proc.stdout.decode().split()
    if code != "200" or int(size) != BIG_MB * 1048576:
        raise BenchError(f"{BIG_MB} MB download through {what}: HTTP {code}, {size} bytes")
    return float(total)


# --- Load through redeploys ---------------------------------------------------------------------


class EdgeLoadClient(threading.Thread):
    """GETs / through the edge until told to stop: on one kept-alive connection, a new connection per
    request, or pipelined (PIPELINE requests written at once, then their answers read in order)."""

    PIPELINE = 4

    def __init__(self, port: int, mode: str, bodies: set[str], halt: threading.Event, max_seconds: float = 180):
        super().__init__(daemon=True)
        self.port, self.mode, self.bodies, self.halt = port, mode, bodies, halt
        self.deadline = time.monotonic() + max_seconds
        self.requests = 0
        self.failures: dict[str, int] = {}
        self.served_by: set[str] = set()

    def run(self) -> None:
        sock: Optional[socket.socket] = None
        reader: Optional[ResponseReader] = None
        batch = self.PIPELINE if self.mode == "pipelined" else 1
        close = self.mode == "new connection per request"
        while not self.halt.is_set() and time.monotonic() < self.deadline:
            try:
                if sock is None:
                    sock = socket.create_connection((HOST, self.port), timeout=10)
                    reader = ResponseReader(sock)
                sock.sendall(request_bytes(close=close) * batch)
                for _ in range(batch):
                    self.requests += 1
                    status, headers, body = reader.read()
                    text = body.decode(errors="replace").strip()
                    if status != 200 or text not in self.bodies:
                        self.fail(f"HTTP {status} {text[:40]!r}")
                    else:
                        self.served_by.add(headers.get("x-served-by", "?"))
                if close or headers.get("connection", "").lower() == "close":
                    sock.close()
                    sock = None
            except (OSError, ValueError, IndexError) as exc:
                self.fail(type(exc).__name__)
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1


def redeploys_under_load(s: Slipway, edge_port: int, sha: dict[int, str], sec: Section) -> list[list[str]]:
    rows = []
    live = 1
    for mode in ("keep-alive", "pipelined", "new connection per request"):
        check_deadline()
        halt = threading.Event()
        clients = [EdgeLoadClient(edge_port, mode, {"edge v1", "edge v2"}, halt) for _ in range(LOAD_THREADS)]
        t0 = time.monotonic()
        for c in clients:
            c.start()
        try:
            time.sleep(1.0)
            for _ in range(REDEPLOYS):
                live = 2 if live == 1 else 1
                dep = s.api("POST", "/api/apps/edge/deployments", {"ref": sha[live]}, expect=202)
                s.wait_deployment(dep["id"], interval=0.05)
            # And a rollback, which switches to the previous deployment's image without a build.
            live = 2 if live == 1 else 1
            dep = s.api("POST", "/api/apps/edge/rollback", expect=202)
            s.wait_deployment(dep["id"], interval=0.05)
            # Until the old containers are drained, stopped and removed, and a second more.
            s.wait_single_container("edge", timeout=60)
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
        containers = len(set().union(*(c.served_by for c in clients)))
        rows.append([mode, fmt_num(requests), fmt_num(failed), fmt_num(requests / elapsed), str(containers),
                     ", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none"])
        sec.target(f"Edge: redeploys and a rollback under load, {mode}", f"{failed} failed of {fmt_num(requests)}", "0 failed", failed == 0)
        log(f"edge redeploys, {mode}: {requests} requests, {failed} failed {failures}")
    return rows


# --- The benchmark ------------------------------------------------------------------------------


def measure(ctx: Context, sec: Section) -> None:
    with_edge = has_http_edge(ctx.binary)
    edge_port = free_port()
    # Room for the idle connections and the load beside them.
    extra = ("--http-port", str(edge_port), "--max-connections", "4096") if with_edge else ()
    s = Slipway(ctx, "edge", app_ports=2, extra=extra)
    s.start()
    # 1,000 idle client sockets in this process, beside wrk's.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    repo = keepalive_repo(ctx, ctx.work / "edge-repo", "edge v1", big_mb=BIG_MB)
    sha = {1: repo.head()}
    sha[2] = repo.commit({"index.html": "edge v2\n"}, "v2")
    app = s.create_app("edge", repo.url, deploy=False)
    dep = s.api("POST", "/api/apps/edge/deployments", {"ref": sha[1]}, expect=202)
    s.wait_deployment(dep["id"])
    if app.get("port"):
        wait_body(app["port"], "edge v1")
    published = s.live_container_port("edge")
    # The container's own address on Docker's bridge: what Slipway's edge dials when the container
    # has one (LiveUpstream's `direct`). The published port goes through Docker's userland proxy,
    # a hop of its own, so nginx is measured against both and the targets use the bridge address:
    # the two proxies on equal terms, as benchmark 5 does.
    live = s.api("GET", "/api/apps/edge", expect=200)["live_deployment_id"]
    ips = docker("inspect", "--type", "container", "--format",
                 "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", f"slipway-edge-{live}").split()
    bridge = (ips[0], 5000) if ips else None

    ngx_dir = ctx.work / "nginx-http"
    (ngx_dir / "logs").mkdir(parents=True)
    ngx_port = free_port()
    ngx_published_port = free_port()
    servers = {ngx_port: bridge or (HOST, published)}
    if bridge:
        servers[ngx_published_port] = (HOST, published)
    conf = nginx_conf(ngx_dir, servers)
    conf_file = ngx_dir / "nginx.conf"
    conf_file.write_text(conf)
    ngx_log = open(ngx_dir / "logs" / "stderr.log", "wb")
    ngx = subprocess.Popen(["nginx", "-c", str(conf_file), "-p", str(ngx_dir)], stdin=DEVNULL, stdout=ngx_log, stderr=ngx_log)
    # SIGQUIT is nginx's graceful stop: the master stops its workers.
    ctx.cleanup.add("nginx (http)", lambda: stop_process(ngx, ngx_log, signal.SIGQUIT))
    for listen in servers:
        wait_listening(listen, 10, "nginx", ngx)
        wait_edge(listen, "edge v1")

    port = {"nginx": ngx_port, "nginx-published": ngx_published_port}
    pid = {"nginx": ngx.pid, "nginx-published": ngx.pid}
    # CPU time is counted over nginx's master and workers, and over Slipway's one process.
    cpu_pids = {"nginx": with_children(ngx.pid), "nginx-published": with_children(ngx.pid)}
    sides = ["nginx"] + (["nginx-published"] if bridge else [])
    if with_edge:
        s.api("PATCH", "/api/apps/edge", {"domains": [DOMAIN]}, expect=200)
        wait_edge(edge_port, "edge v1")
        port["slipway"] = edge_port
        pid["slipway"] = s.proc.pid
        cpu_pids["slipway"] = [s.proc.pid]
        sides = ["slipway", *sides]

    tests = {
        # Runs of a few seconds each: at about a second, the spread from run to run on this
        # shared machine was as large as the difference measured.
        "ka": ("keep-alive clients (wrk -c8, 60,000 requests)", 8, 60000, ()),
        "new": ("new connection per request (wrk -c8, Connection: close, 15,000 requests)", 8, 15000, ("Connection: close",)),
    }
    res: dict[tuple[str, str], list[Any]] = {}
    for i in range(RUNS):
        check_deadline()
        order = sides[i % len(sides):] + sides[:i % len(sides)]
        for test, (_, conns, n, headers) in tests.items():
            for side in order:
                r = wrk(ctx, f"http://{HOST}:{port[side]}/", conns, n, pid=cpu_pids[side],
                        headers=(f"Host: {DOMAIN}", *headers))
                res.setdefault((test, side), []).append(r)
        for side in order:
            res.setdefault(("big", side), []).append(download_seconds(port[side], side))
        s.assert_alive()
        log(f"edge run {i + 1}/{RUNS}: " + ", ".join(
            f"{side} {res[('ka', side)][-1]['rps']:.0f} ka/s {res[('new', side)][-1]['rps']:.0f} new/s "
            f"{res[('big', side)][-1]:.2f} s/{BIG_MB} MB" for side in order))
    # Idle connections last among the side-by-side figures: they leave memory behind.
    idle = {side: idle_rss_per_thousand(port[side], pid[side], side) for side in sides if side != "nginx-published"}

    def med(test: str, side: str, key: str) -> float:
        return median([r[key] for r in res[(test, side)]])

    names = {"slipway": "Slipway edge",
             "nginx": "nginx proxy_pass → bridge address" if bridge else "nginx proxy_pass → published port",
             "nginx-published": "nginx proxy_pass → published port"}
    rows = []
    for test, (title, *_rest) in tests.items():
        rps = {side: med(test, side, "rps") for side in sides}
        p99 = {side: med(test, side, "p99_us") / 1000 for side in sides}
        p50 = {side: med(test, side, "p50_us") / 1000 for side in sides}
        rows.append([title, *(f"{fmt_num(rps[x])} /s, p50 {p50[x]:.3f} ms, p99 {p99[x]:.3f} ms" for x in sides),
                     f"{rps['slipway'] / rps['nginx']:.2f}" if with_edge else "n/a"])
        if with_edge:
            sec.target(f"Edge requests/s, {title.split(' (')[0]}",
                       f"{fmt_num(rps['slipway'])} vs nginx {fmt_num(rps['nginx'])} ({rps['slipway'] / rps['nginx']:.2f})",
                       "≥ nginx", rps["slipway"] >= rps["nginx"])
            sec.target(f"Edge p99, {title.split(' (')[0]}", f"{p99['slipway']:.3f} ms vs nginx {p99['nginx']:.3f} ms",
                       "≤ nginx", p99["slipway"] <= p99["nginx"])
    big = {side: median(res[("big", side)]) for side in sides}
    rows.append([f"{BIG_MB} MB download (curl), seconds", *(f"{big[x]:.2f} s ({BIG_MB / big[x]:.0f} MB/s)" for x in sides),
                 f"{big['nginx'] / big['slipway']:.2f}" if with_edge else "n/a"])
    rows.append([f"RSS per 1,000 idle keep-alive clients ({fmt_num(IDLE_CONNECTIONS)} open)",
                 *(f"{idle[x][0] / 1024:.1f} MB ({idle[x][1] / 1024:.1f} → {idle[x][2] / 1024:.1f} MB)" if x in idle
                   else "(the same nginx)" for x in sides),
                 f"{idle['slipway'][0] / idle['nginx'][0]:.2f}" if with_edge and idle["nginx"][0] > 0 else "n/a"])
    sec.table(["median of runs", *(names[x] for x in sides), f"Slipway / {names['nginx']}"], rows)
    if with_edge:
        sec.target("Edge RSS per 1,000 idle keep-alive clients (reported beside nginx)",
                   f"{idle['slipway'][0] / 1024:.1f} MB vs nginx {idle['nginx'][0] / 1024:.1f} MB", "report", None)
        sec.target(f"Edge {BIG_MB} MB download (reported beside nginx)",
                   f"{big['slipway']:.2f} s vs nginx {big['nginx']:.2f} s", "report", None)
        sec.table(["CPU time per request (user + system)", names["slipway"], names["nginx"]],
                  [[tests[t][0].split(" (")[0], f"{med(t, 'slipway', 'cpu_us'):.0f} µs", f"{med(t, 'nginx', 'cpu_us'):.0f} µs"]
                   for t in tests])
        # Last: the redeploys replace the container nginx was pointed at.
        sec.table(["redeploys and a rollback under load (Slipway edge)", "requests", "failed", "requests/s", "containers that answered",
                   "failures by kind"], redeploys_under_load(s, edge_port, sha, sec))
    else:
        sec.target("Edge against nginx", "not measured: this binary has no --http-port", "≥ nginx's requests/s, p99 ≤ nginx", None)
        sec.add("**Slipway's side was not measured: the binary has no `--http-port` (no HTTP edge).** Only nginx's "
                "figures are shown, for reference.", "")

    sec.add(f"Both proxies stand in front of the same container: the keep-alive C server of benchmark 3 "
            f"(`scripts/bench-keepalive-server.c`), which answers `GET /` with a small page on kept-alive "
            f"connections and `GET /big.bin` with a {BIG_MB} MB file (sendfile). Every request carries "
            f"`Host: {DOMAIN}`, the app's domain (`PATCH /api/apps/edge {{\"domains\": [\"{DOMAIN}\"]}}`), "
            f"which Slipway's edge routes by. "
            + (f"Slipway's edge dials the container's address on Docker's bridge ({bridge[0]}:{bridge[1]}); nginx, "
               "through an upstream `keepalive` pool, proxies to that same address (the column the targets use) "
               f"and, in a second `server`, to the container's published loopback port ({HOST}:{published}), which "
               "Docker's userland proxy serves: one hop more. " if bridge else
               f"The container had no bridge address, so both proxy to its published port ({HOST}:{published}), "
               "nginx through an upstream `keepalive` pool. ")
            + "The order of the two sides rotates "
            "between runs. wrk runs one thread, bounded by its request count and 60 s; *new connection per "
            "request* sends `Connection: close`, so every request opens a connection. The download is one "
            f"`curl` per side per run. *RSS per 1,000 idle keep-alive clients*: {IDLE_CONNECTIONS} connections "
            "each send one request, read its answer and stay open; the figure is the growth of VmRSS (for "
            "nginx, the master's and its workers' summed), a second after the last.",
            "")
    if with_edge:
        sec.add(f"*Redeploys under load*: {LOAD_THREADS} client threads send `GET /` through the edge while "
                f"{REDEPLOYS} deployments alternate the v1 and v2 commits, and until the old containers are drained "
                "and removed: on one kept-alive connection each, pipelined (4 requests written at once, answers read "
                "in order), and with a new connection per request. A request fails on any error or an answer other "
                "than 200 with a v1 or v2 body. nginx cannot follow a redeploy (its upstream is one container's "
                "port), so this part is Slipway's alone.", "")
    sec.add("nginx ran as `nginx -c nginx.conf -p <dir>` (stopped with SIGQUIT afterwards) with:", "",
            "```nginx", conf.replace(str(ctx.work), "$WORK").strip(), "```", "", f"Server: `{s.command}`.", "")
