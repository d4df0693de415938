"""5. Port forwarder: against a direct connection to the container and nginx's stream proxy."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

from gitrepo import GitRepo, dockerfile_with_run, web_app
from loopback import free_port

from ..docker_cli import docker
from ..harness import DEVNULL, BenchError, Context, Section, check_deadline, log, run, stop_process, wait_listening
from ..http_client import wait_body
from ..keepalive_app import keepalive_repo
from ..measure import fmt_num, median
from ..server import Slipway
from ..settings import HOST, RUNS
from ..wrk import wrk


def measure(ctx: Context, sec: Section) -> None:
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
