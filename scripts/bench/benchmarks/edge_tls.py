"""10. HTTPS edge: Slipway's HTTPS edge (`--https-port`) against nginx terminating TLS with the same
certificate, in front of the same container, side by side and interleaved: new TLS handshakes per
second, HTTPS requests per second on kept-alive connections, and memory per 1,000 idle TLS clients."""

from __future__ import annotations

import resource
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

from loopback import free_port

from ..docker_cli import docker
from ..harness import DEVNULL, BenchError, Context, Section, check_deadline, log, run, stop_process, wait_listening
from ..keepalive_app import keepalive_repo
from ..measure import fmt_num, median, with_children
from ..server import Slipway
from ..settings import HOST, RUNS
from ..wrk import wrk
from .edge import DOMAIN, IDLE_CONNECTIONS, ResponseReader, idle_rss_per_thousand, nginx_conf, request_bytes


def has_https_edge(binary: Path) -> bool:
    proc = run([str(binary), "--help"], check=False, timeout=10)
    return "--https-port" in (proc.stdout + proc.stderr).decode(errors="replace")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """One self-signed P-256 certificate for DOMAIN, by the openssl command: both sides serve it."""
    cert, key = directory / "edge.crt", directory / "edge.key"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "7", "-subj", f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN}"], timeout=60)
    return cert, key


def client_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    context.set_alpn_protocols(["http/1.1"])
    return context


def tls_answers(port: int, cert: Path, body: str, timeout: float = 60) -> None:
    """Waits until a TLS client, verifying the chain and the name, gets `body` from `port`."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=3) as raw:
                with client_context(cert).wrap_socket(raw, server_hostname=DOMAIN) as sock:
                    sock.sendall(request_bytes(close=True))
                    status, _, got = ResponseReader(sock).read()
                    seen = (status, got.decode(errors="replace").strip())
                    if seen == (200, body):
                        return
        except (OSError, ssl.SSLError) as exc:
            seen = repr(exc)
        time.sleep(0.05)
    raise BenchError(f"HTTPS on {port} did not answer 200 {body!r} for {DOMAIN} within {timeout:.0f}s; last: {seen!r}")


def measure(ctx: Context, sec: Section) -> None:
    if not has_https_edge(ctx.binary):
        sec.target("HTTPS edge against nginx", "not measured: this binary has no --https-port", "≥ nginx's rates", None)
        return
    http_port, https_port = free_port(), free_port()
    s = Slipway(ctx, "edge-tls", app_ports=2,
                extra=("--http-port", str(http_port), "--https-port", str(https_port), "--max-connections", "4096"))
    s.start()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    repo = keepalive_repo(ctx, ctx.work / "edge-tls-repo", "tls v1")
    app = s.create_app("tls", repo.url, deploy=False)
    dep = s.api("POST", "/api/apps/tls/deployments", {"ref": repo.head()}, expect=202)
    s.wait_deployment(dep["id"])
    del app
    live = s.api("GET", "/api/apps/tls", expect=200)["live_deployment_id"]
    ips = docker("inspect", "--type", "container", "--format",
                 "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", f"slipway-tls-{live}").split()
    upstream = (ips[0], 5000) if ips else (HOST, s.live_container_port("tls"))

    cert, key = make_certificate(ctx.work)
    s.api("PATCH", "/api/apps/tls", {"domains": [DOMAIN]}, expect=200)
    s.api("PUT", f"/api/apps/tls/certificates/{DOMAIN}", {"certificate": cert.read_text(), "private_key": key.read_text()}, expect=200)
    tls_answers(https_port, cert, "tls v1")

    ngx_dir = ctx.work / "nginx-https"
    (ngx_dir / "logs").mkdir(parents=True)
    ngx_port = free_port()
    conf = nginx_conf(ngx_dir, {ngx_port: upstream}, tls=(cert, key))
    conf_file = ngx_dir / "nginx.conf"
    conf_file.write_text(conf)
    ngx_log = open(ngx_dir / "logs" / "stderr.log", "wb")
    ngx = subprocess.Popen(["nginx", "-c", str(conf_file), "-p", str(ngx_dir)], stdin=DEVNULL, stdout=ngx_log, stderr=ngx_log)
    ctx.cleanup.add("nginx (https)", lambda: stop_process(ngx, ngx_log, signal.SIGQUIT))
    wait_listening(ngx_port, 10, "nginx", ngx)
    tls_answers(ngx_port, cert, "tls v1")

    port = {"slipway": https_port, "nginx": ngx_port}
    pid = {"slipway": s.proc.pid, "nginx": ngx.pid}
    cpu_pids = {"slipway": [s.proc.pid], "nginx": with_children(ngx.pid)}
    sides = ["slipway", "nginx"]
    tests = {
        "ka": ("HTTPS requests on kept-alive connections (wrk -c8, 40,000 requests)", 8, 40000, ()),
        "new": ("new TLS handshake per request (wrk -c8, Connection: close, 6,000 requests)", 8, 6000, ("Connection: close",)),
    }
    # wrk names DOMAIN in SNI and Host (the URL's host) and connects to loopback (BENCH_CONNECT_HOST).
    connect = {"BENCH_CONNECT_HOST": HOST}
    res: dict[tuple[str, str], list[Any]] = {}
    for i in range(RUNS):
        check_deadline()
        order = sides[i % 2:] + sides[:i % 2]
        for test, (_, conns, n, headers) in tests.items():
            for side in order:
                r = wrk(ctx, f"https://{DOMAIN}:{port[side]}/", conns, n, pid=cpu_pids[side], headers=headers, extra_env=connect)
                res.setdefault((test, side), []).append(r)
        s.assert_alive()
        log(f"https edge run {i + 1}/{RUNS}: " + ", ".join(
            f"{side} {res[('ka', side)][-1]['rps']:.0f} ka/s {res[('new', side)][-1]['rps']:.0f} handshakes/s" for side in order))
    context = client_context(cert)
    idle = {side: idle_rss_per_thousand(port[side], pid[side], side, wrap=lambda sock: context.wrap_socket(sock, server_hostname=DOMAIN))
            for side in sides}

    def med(test: str, side: str, key: str) -> float:
        return median([r[key] for r in res[(test, side)]])

    names = {"slipway": "Slipway HTTPS edge", "nginx": "nginx (ssl, proxy_pass)"}
    rows = []
    for test, (title, *_rest) in tests.items():
        rps = {side: med(test, side, "rps") for side in sides}
        p99 = {side: med(test, side, "p99_us") / 1000 for side in sides}
        cpu = {side: med(test, side, "cpu_us") for side in sides}
        rows.append([title, *(f"{fmt_num(rps[x])} /s, p99 {p99[x]:.3f} ms, {cpu[x]:.0f} µs CPU" for x in sides),
                     f"{rps['slipway'] / rps['nginx']:.2f}"])
        what = "new TLS handshakes/s" if test == "new" else "HTTPS requests/s, keep-alive"
        sec.target(f"HTTPS edge: {what}", f"{fmt_num(rps['slipway'])} vs nginx {fmt_num(rps['nginx'])} ({rps['slipway'] / rps['nginx']:.2f})",
                   "≥ nginx", rps["slipway"] >= rps["nginx"])
    rows.append([f"RSS per 1,000 idle TLS clients ({fmt_num(IDLE_CONNECTIONS)} open)",
                 *(f"{idle[x][0] / 1024:.1f} MB ({idle[x][1] / 1024:.1f} → {idle[x][2] / 1024:.1f} MB)" for x in sides),
                 f"{idle['slipway'][0] / idle['nginx'][0]:.2f}" if idle["nginx"][0] > 0 else "n/a"])
    sec.table(["median of runs", names["slipway"], names["nginx"], "Slipway / nginx"], rows)
    sec.target("HTTPS edge RSS per 1,000 idle TLS clients (reported beside nginx)",
               f"{idle['slipway'][0] / 1024:.1f} MB vs nginx {idle['nginx'][0] / 1024:.1f} MB", "report", None)
    sec.add(f"Both terminate TLS with the same self-signed P-256 certificate for `{DOMAIN}` (made with `openssl req`; "
            "uploaded to Slipway with `PUT /api/apps/tls/certificates/{domain}`) and proxy to the same container, the "
            f"keep-alive C server of benchmark 3, at its address on Docker's bridge ({upstream[0]}:{upstream[1]}); nginx "
            "through an upstream `keepalive` pool. TLS 1.3 is what both agree with wrk (OpenSSL). wrk runs one "
            f"thread, its URL `https://{DOMAIN}:<port>/` so that SNI and Host name the domain, connecting to loopback "
            "(the benchmark's Lua script replaces wrk's name lookup). *New TLS handshake per request* sends "
            "`Connection: close`: every request is a new connection and a full handshake (wrk does not resume "
            "sessions). CPU is per request, over Slipway's process and over nginx's master and workers. The two "
            f"sides alternate who goes first. *RSS per 1,000 idle TLS clients*: {IDLE_CONNECTIONS} Python `ssl` "
            "clients each complete a handshake and one request and stay open; the growth of VmRSS a second later.", "")
    sec.add("nginx ran as `nginx -c nginx.conf -p <dir>` with:", "", "```nginx", conf.replace(str(ctx.work), "$WORK").strip(), "```", "",
            f"Server: `{s.command}`.", "")
