"""2. Rollback: POST .../rollback until the previous version answers on the public port."""

from __future__ import annotations

import time

from gitrepo import GitRepo, web_app

from ..harness import Context, Section, check_deadline, log
from ..http_client import wait_body
from ..measure import fmt_ms, median, steps_text
from ..server import Slipway
from ..settings import RUNS


def measure(ctx: Context, sec: Section) -> None:
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
