"""12. A deploy to another server's engine over SSH, beside the same deploy on this machine."""

from __future__ import annotations

from gitrepo import GitRepo, web_app
from secondhost import SecondHost, remove_leftovers

from ..harness import BenchError, Context, Section, check_deadline, log
from ..measure import fmt_ms, median, steps_text
from ..server import Slipway
from ..settings import RUNS


def measure(ctx: Context, sec: Section) -> None:
    remove_leftovers()
    second = SecondHost().start()
    ctx.cleanup.add("the second host", second.close)
    s = Slipway(ctx, "remote", app_ports=2)
    s.start()
    created = s.api("POST", "/api/servers", {"name": "h2", "ssh": f"root@{second.address}", "address": second.address}, expect=201)
    second.authorize(created["public_key"])
    ready = s.api("POST", "/api/servers/h2/connect", expect=200)
    repo = GitRepo.create(ctx.work / "remote-repo", web_app("r0"))
    apps = {"local": s.create_app("here", repo.url, deploy=False), "h2": s.create_app("there", repo.url, deploy=False, server="h2")}
    names = {"local": "here", "h2": "there"}
    # A first deployment of each warms the engines' layer caches and Slipway's mirror.
    for where in ("local", "h2"):
        dep = s.api("POST", f"/api/apps/{names[where]}/deployments", {}, expect=202)
        if s.wait_deployment(dep["id"])["status"] != "succeeded":
            raise BenchError(f"the first deployment on {where} failed:\n{s.stderr_tail()}")
    seconds: dict[str, list[float]] = {"local": [], "h2": []}
    steps: dict[str, list[dict]] = {"local": [], "h2": []}
    for run in range(RUNS):
        check_deadline()
        repo.commit(web_app(f"r{run + 1}"), f"r{run + 1}")
        # Side by side: the same commit on each, one after the other, the order alternating.
        for where in (("local", "h2") if run % 2 == 0 else ("h2", "local")):
            dep = s.api("POST", f"/api/apps/{names[where]}/deployments", {}, expect=202)
            done = s.wait_deployment(dep["id"])
            if done["status"] != "succeeded":
                raise BenchError(f"deployment {dep['id']} on {where} failed:\n{s.stderr_tail()}")
            seconds[where].append(done["duration_ms"] / 1000)
            steps[where].append({k: v for k, v in done["steps"].items()} if isinstance(done["steps"], dict)
                                else {step["name"]: step["ms"] for step in done["steps"]})
    local, remote = median(seconds["local"]), median(seconds["h2"])
    ratio = remote / local if local else float("nan")
    sec.target("Deploy to a second server over SSH, beside the same deploy locally (reported, no target)",
               f"{fmt_ms(remote)} vs {fmt_ms(local)} ({ratio:.2f}x)", "report", None)
    sec.add(f"The second server is a network namespace on this machine with its own dockerd and sshd (Tests/E2E/secondhost.py), "
            f"reached at {second.address} over a veth pair: the SSH transport's own cost, without a real network's latency "
            f"(its connection check took {ready['engine']['latency_ms']} ms). Each run commits a new `index.html` and deploys "
            "it to an app on this machine and to one on the second server (the order alternating), each through Slipway's "
            "whole pipeline: fetch, build (layer cache warm, the build context streamed over SSH for the second server), "
            "start, health check, swap.", "",
            f"Server: `{s.command}`.", "")
    sec.table(["where", "deploy (median)", "runs", "steps (median ms)"],
              [["this machine", fmt_ms(local), str(len(seconds["local"])), steps_text(steps["local"])],
               ["second server over SSH", fmt_ms(remote), str(len(seconds["h2"])), steps_text(steps["h2"])],
               ["ratio", f"{ratio:.2f}", "", ""]])
    log(f"remote deploy {remote:.2f}s vs local {local:.2f}s")
