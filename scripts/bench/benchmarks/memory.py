"""6. Resident memory, idle and with 50 apps and 10,000 deployments."""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..harness import Context, Section, check_deadline
from ..measure import median, proc_status_kb, rss_kb
from ..seeded_history import load_pages_once, seed_history
from ..server import Slipway
from ..settings import RUNS


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


def measure(ctx: Context, sec: Section) -> None:
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
