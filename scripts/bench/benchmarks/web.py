"""7. Dashboard and API latency with 100 apps and 1,000 deployments each."""

from __future__ import annotations

from ..harness import BenchError, Context, Section, check_deadline, log
from ..measure import cpu_seconds, median, percentile, rss_kb
from ..seeded_history import SEED_SQL, WebClient, load_pages_once, seed_history
from ..server import Slipway
from ..settings import RUNS


def measure(ctx: Context, sec: Section) -> None:
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
