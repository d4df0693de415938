"""1. Deploy overhead: Slipway's pipeline against the same commands by hand, cold and warm."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from gitrepo import GitRepo, dockerfile_with_run, web_app

from ..docker_cli import DOCKER_CLIENT, docker
from ..harness import BenchError, Context, Section, check_deadline, log, run
from ..http_client import wait_body
from ..measure import fmt_ms, median, steps_text
from ..server import Slipway
from ..settings import BENCH_LABEL, RUNS


RAW_DEPLOY_SCRIPT = r"""#!/usr/bin/env bash
# The deployment by hand that Slipway's pipeline is compared with (scripts/bench, benchmark 1).
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
               BENCH_BUILDKIT="1" if ctx.builder == "BuildKit" else "0",
               BENCH_PROGRESS="--progress plain" if ctx.builder == "BuildKit" else "")
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


def measure(ctx: Context, sec: Section) -> None:
    script = ctx.work / "raw-deploy.sh"
    script.write_text(RAW_DEPLOY_SCRIPT)
    s = Slipway(ctx, "deploy", app_ports=8)
    s.start()

    sec.add("Slipway's wall time runs from the API call (`POST /api/apps` for cold, "
            "`POST /api/apps/{name}/redeploy` for warm) until the deployment is `succeeded` "
            "(polled every 10 ms) and the app's public port has answered 200 with the expected body. "
            "The by-hand side is one bash script, timed as a whole ([`raw-deploy.sh`](#raw-deploysh) below): "
            "`git clone` (cold) or `git fetch` (warm), `git archive | docker build -` with the builder Slipway "
            f"uses ({ctx.builder}: `{DOCKER_CLIENT}` with `DOCKER_BUILDKIT={'1' if ctx.builder == 'BuildKit' else '0'}`; "
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
    if f"builder: {ctx.builder}".encode() not in (build_log if isinstance(build_log, bytes) else json.dumps(build_log).encode()):
        raise BenchError(f"Slipway's deployment log does not name the builder the by-hand side uses ({ctx.builder})")
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
