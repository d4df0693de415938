"""4. Webhook acknowledgement latency and throughput, against adnanh/webhook (Debian's webhook)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import signal
import subprocess
import time

from gitrepo import GitRepo, web_app
from loopback import free_port

from ..harness import DEVNULL, BenchError, Context, Section, check_deadline, log, out, stop_process, wait_listening
from ..http_client import http_request
from ..measure import fmt_num, median
from ..server import Slipway
from ..settings import FINISHED, HOST, RUN_ID, RUNS
from ..wrk import WRK_LUA, wrk


def github_push_payload(ref: str, after: str, before: str) -> bytes:
    """A push payload shaped like GitHub's (about 6 KB), with one commit."""
    owner = {"login": "ada", "id": 1001, "node_id": "MDQ6VXNlcjEwMDE=", "avatar_url": "https://avatars.githubusercontent.com/u/1001?v=4",
             "gravatar_id": "", "url": "https://api.github.com/users/ada", "html_url": "https://github.com/ada",
             "type": "User", "site_admin": False}
    repo = {"id": 424242, "node_id": "R_kgDOGUVcYg", "name": "hello-app", "full_name": "ada/hello-app", "private": False,
            "owner": {**owner, "name": "ada", "email": "ada@example.com"}, "html_url": "https://github.com/ada/hello-app",
            "description": "A small web app deployed with Slipway", "fork": False, "url": "https://github.com/ada/hello-app",
            "created_at": 1732665600, "updated_at": "2026-11-26T23:00:00Z", "pushed_at": 1732665700,
            "git_url": "git://github.com/ada/hello-app.git", "ssh_url": "git@github.com:ada/hello-app.git",
            "clone_url": "https://github.com/ada/hello-app.git", "homepage": None, "size": 12, "stargazers_count": 3,
            "watchers_count": 3, "language": "Dockerfile", "has_issues": True, "has_projects": True, "has_wiki": False,
            "forks_count": 0, "archived": False, "disabled": False, "open_issues_count": 0, "license": None,
            "topics": [], "visibility": "public", "forks": 0, "open_issues": 0, "watchers": 3, "default_branch": "main",
            "stargazers": 3, "master_branch": "main"}
    commit = {"id": after, "tree_id": hashlib.sha1(after.encode()).hexdigest(), "distinct": True,
              "message": "Update the landing page\n\nMore words in the body of the commit message.",
              "timestamp": "2026-11-26T23:41:00Z", "url": f"https://github.com/ada/hello-app/commit/{after}",
              "author": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
              "committer": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
              "added": [], "removed": [], "modified": ["index.html"]}
    payload = {"ref": ref, "before": before, "after": after, "repository": repo,
               "pusher": {"name": "ada", "email": "ada@example.com"}, "sender": owner,
               "created": False, "deleted": False, "forced": False, "base_ref": None,
               "compare": f"https://github.com/ada/hello-app/compare/{before[:12]}...{after[:12]}",
               "commits": [commit], "head_commit": commit}
    return json.dumps(payload, indent=2).encode()


def measure(ctx: Context, sec: Section) -> None:
    # Accepted deliveries each leave a deployment row behind, and deleting an app costs more the longer
    # its history (see the DELETE figure), so they get a smaller count than the comparison.
    requests_per_run, senders, single_per_run, accepted_per_run = 20000, 50, 1000, 1000
    # The latency target is measured under a stated load below saturation: 50 senders, each
    # pausing 50 ms after every answer, offer about 1,000 deliveries/s.
    paced_per_run, pace_ms = 4000, 50
    s = Slipway(ctx, "webhook", app_ports=2)
    s.start()
    repo = GitRepo.create(ctx.work / "webhook-repo", web_app("webhook app"))
    app = s.create_app("hooked", repo.url, deploy=False)
    secret = app["webhook_secret"]
    before = repo.head()
    # A sha that is not in the repository: an accepted delivery's deployment then fails at its clone
    # step in a few git calls, instead of building an image while the load runs.
    absent = secrets.token_hex(20)
    payloads = {"ignored": github_push_payload("refs/heads/bench-ignored", absent, before),
                "accepted": github_push_payload("refs/heads/main", absent, before)}
    files, sigs = {}, {}
    for kind, payload in payloads.items():
        files[kind] = ctx.work / f"push-{kind}.json"
        files[kind].write_bytes(payload)
        sigs[kind] = "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()

    # adnanh/webhook: the same secret and signature header; a push to main runs /bin/true.
    hooks = [{"id": "hello-app", "execute-command": "/bin/true", "command-working-directory": "/",
              "trigger-rule": {"and": [
                  {"match": {"type": "payload-hmac-sha256", "secret": secret,
                             "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}},
                  {"match": {"type": "value", "value": "refs/heads/main",
                             "parameter": {"source": "payload", "name": "ref"}}}]}}]
    hooks_file = ctx.work / "hooks.json"
    hooks_file.write_text(json.dumps(hooks, indent=2))
    wh_port = free_port()
    wh_log = open(ctx.work / "webhook.log", "wb")
    wh = subprocess.Popen(["webhook", "-hooks", str(hooks_file), "-ip", HOST, "-port", str(wh_port)],
                          stdin=DEVNULL, stdout=wh_log, stderr=wh_log)

    ctx.cleanup.add("webhook server", lambda: stop_process(wh, wh_log, signal.SIGTERM))
    wait_listening(wh_port, 10, "webhook", wh)

    urls = {"slipway": f"http://{HOST}:{s.port}/hooks/github/hooked", "webhook": f"http://{HOST}:{wh_port}/hooks/hello-app"}
    ports = {"slipway": s.port, "webhook": wh_port}
    paths = {"slipway": "/hooks/github/hooked", "webhook": "/hooks/hello-app"}
    expect = {("slipway", "ignored"): 200, ("slipway", "accepted"): 202, ("webhook", "ignored"): 200, ("webhook", "accepted"): 200}

    # Both servers really check the signature and tell the two pushes apart.
    def deliver(server: str, kind: str, sig: str) -> tuple[int, bytes]:
        status, _, body = http_request(ports[server], "POST", paths[server], {
            "Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
            "X-GitHub-Delivery": f"check-{kind}-{secrets.token_hex(6)}"}, payloads[kind])
        return status, body

    bad = "sha256=" + "0" * 64
    checks = [(deliver("slipway", "ignored", sigs["ignored"]), 200, b"ignored"),
              (deliver("slipway", "ignored", bad), 401, b"invalid_signature"),
              (deliver("webhook", "ignored", sigs["ignored"]), 200, b"Hook rules were not satisfied"),
              (deliver("webhook", "ignored", bad), 500, b"Error occurred while evaluating hook rules"),
              (deliver("webhook", "accepted", bad), 500, b"Error occurred while evaluating hook rules"),
              (deliver("webhook", "accepted", sigs["accepted"]), 200, b"")]
    for (status, body), want_status, want in checks:
        if status != want_status or want not in body:
            raise BenchError(f"webhook sanity check: expected {want_status} {want!r}, got {status} {body[:200]!r}")

    def wait_idle() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            deps = s.api("GET", "/api/apps/hooked/deployments?limit=2", expect=200)
            if all(d["status"] in FINISHED for d in deps):
                return
            time.sleep(0.1)
        raise BenchError("the accepted deliveries' deployments did not settle within 120 s")

    results: dict[tuple[str, str], list[dict]] = {}
    single: dict[str, list[dict]] = {}
    paced: dict[str, list[dict]] = {}
    for kind in ("ignored", "accepted"):
        for i in range(RUNS):
            check_deadline()
            for server in (["slipway", "webhook"] if i % 2 == 0 else ["webhook", "slipway"]):
                env = {"BENCH_BODY_FILE": str(files[kind]), "BENCH_SIGNATURE": sigs[kind],
                       "BENCH_DELIVERY_PREFIX": f"{RUN_ID}-{kind}-{server}-{i}"}
                count = requests_per_run if kind == "ignored" else accepted_per_run
                r = wrk(ctx, urls[server], senders, count, expect=expect[(server, kind)], extra_env=env,
                        pid=s.proc.pid if server == "slipway" else wh.pid)
                results.setdefault((server, kind), []).append(r)
                if kind == "ignored":
                    # The same deliveries one at a time: the acknowledgement latency without queueing.
                    env["BENCH_DELIVERY_PREFIX"] += "-single"
                    r = wrk(ctx, urls[server], 1, single_per_run, expect=expect[(server, kind)], extra_env=env,
                            pid=s.proc.pid if server == "slipway" else wh.pid)
                    single.setdefault(server, []).append(r)
                    # And fifty senders again, paced: the latency under a load both servers carry.
                    env = dict(env, BENCH_DELAY_MS=str(pace_ms), BENCH_DELIVERY_PREFIX=env["BENCH_DELIVERY_PREFIX"] + "-paced")
                    r = wrk(ctx, urls[server], senders, paced_per_run, expect=expect[(server, kind)], extra_env=env,
                            pid=s.proc.pid if server == "slipway" else wh.pid)
                    paced.setdefault(server, []).append(r)
                if kind == "accepted" and server == "slipway":
                    wait_idle()
            s.assert_alive()
            log(f"webhook {kind} run {i + 1}/{RUNS}: slipway {results[('slipway', kind)][-1]['rps']:.0f}/s "
                f"p99 {results[('slipway', kind)][-1]['p99_us'] / 1000:.2f} ms; webhook {results[('webhook', kind)][-1]['rps']:.0f}/s "
                f"p99 {results[('webhook', kind)][-1]['p99_us'] / 1000:.2f} ms")
    db = str(s.data_dir / "slipway.db")
    statuses = dict(tuple(line.split("|")) for line in out(
        ["sqlite3", "-readonly", db, "SELECT status, count(*) FROM deployments GROUP BY status"]).splitlines())
    n_deployments = sum(int(v) for v in statuses.values())
    n_deliveries = int(out(["sqlite3", "-readonly", db, "SELECT count(*) FROM webhook_deliveries"]))
    # Deleting the app takes its whole history with it: timed, since it is the one API call here
    # whose cost grows with the history.
    started = time.perf_counter()
    s.api("DELETE", "/api/apps/hooked", expect=204, timeout=900)
    delete_s = time.perf_counter() - started
    log(f"DELETE /api/apps/hooked ({n_deployments} deployments, {n_deliveries} deliveries): {delete_s:.1f}s")

    def med(server: str, kind: str, key: str) -> float:
        return median([r[key] for r in results[(server, kind)]])

    rows = []
    for kind in ("ignored", "accepted"):
        for server in ("slipway", "webhook"):
            rs = results[(server, kind)]
            rows.append([kind, server, f"{med(server, kind, 'p50_us') / 1000:.2f} ms", f"{med(server, kind, 'p99_us') / 1000:.2f} ms",
                         fmt_num(med(server, kind, "rps")) + "/s", f"{med(server, kind, 'cpu_us'):.0f} µs",
                         " / ".join(fmt_num(r["rps"]) for r in rs), " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in rs)])
    for server in ("slipway", "webhook"):
        rs = paced[server]
        rows.append([f"ignored, {senders} paced senders", server, f"{median([r['p50_us'] for r in rs]) / 1000:.2f} ms",
                     f"{median([r['p99_us'] for r in rs]) / 1000:.2f} ms", fmt_num(median([r['rps'] for r in rs])) + "/s",
                     f"{median([r['cpu_us'] for r in rs]):.0f} µs",
                     " / ".join(fmt_num(r["rps"]) for r in rs), " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in rs)])
    for server in ("slipway", "webhook"):
        rs = single[server]
        rows.append(["ignored, 1 sender", server, f"{median([r['p50_us'] for r in rs]) / 1000:.2f} ms",
                     f"{median([r['p99_us'] for r in rs]) / 1000:.2f} ms", fmt_num(median([r['rps'] for r in rs])) + "/s",
                     f"{median([r['cpu_us'] for r in rs]):.0f} µs",
                     " / ".join(fmt_num(r["rps"]) for r in rs), " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in rs)])
    sec.table(["delivery", "server", "p50 (median of runs)", "p99 (median of runs)", "throughput", "server CPU per delivery",
               "runs: requests/s", "runs: p99 (ms)"], rows)
    p99 = med("slipway", "ignored", "p99_us") / 1000
    ratio = med("slipway", "ignored", "rps") / med("webhook", "ignored", "rps")
    acc_ratio = med("slipway", "accepted", "rps") / med("webhook", "accepted", "rps")
    paced_p99 = median([r["p99_us"] for r in paced["slipway"]]) / 1000
    paced_rate = median([r["rps"] for r in paced["slipway"]])
    sec.target(f"Webhook ack p99, {senders} senders offering ~{fmt_num(round(senders * 1000 / pace_ms, -2))} deliveries/s (ignored branch)",
               f"{paced_p99:.2f} ms at {fmt_num(paced_rate)}/s (webhook: "
               f"{median([r['p99_us'] for r in paced['webhook']]) / 1000:.2f} ms)", "≤ 5 ms", paced_p99 <= 5)
    sec.target(f"Webhook ack p99 at saturation ({senders} senders, no pause; reported, no target)",
               f"{p99:.2f} ms (webhook: {med('webhook', 'ignored', 'p99_us') / 1000:.2f} ms)", "report", None)
    sec.target("Webhook ack latency, one sender at a time (reported, no target)",
               f"p50 {median([r['p50_us'] for r in single['slipway']]) / 1000:.2f} ms, "
               f"p99 {median([r['p99_us'] for r in single['slipway']]) / 1000:.2f} ms "
               f"(webhook: {median([r['p50_us'] for r in single['webhook']]) / 1000:.2f} / "
               f"{median([r['p99_us'] for r in single['webhook']]) / 1000:.2f} ms)", "report", None)
    sec.target("Webhook throughput against adnanh/webhook (ignored branch)",
               f"{fmt_num(med('slipway', 'ignored', 'rps'))}/s vs {fmt_num(med('webhook', 'ignored', 'rps'))}/s (ratio {ratio:.2f})",
               "≥ webhook's (ratio ≥ 1)", ratio >= 1)
    sec.target(f"DELETE /api/apps/hooked afterwards, with {n_deployments:,} deployments and {n_deliveries:,} "
               "deliveries in the database (reported, no target)", f"{delete_s:.1f} s", "report", None)
    sec.target("Webhook, accepted deliveries (reported, no target)",
               f"p99 {med('slipway', 'accepted', 'p99_us') / 1000:.2f} ms, {fmt_num(med('slipway', 'accepted', 'rps'))}/s "
               f"(ratio {acc_ratio:.2f} to webhook running /bin/true)", "report", None)
    sec.add(f"The load generator is **wrk** (`wrk -t1 -c{senders} -d60s --timeout 10s -s bench.lua URL`, one thread, "
            f"{senders} keep-alive connections), with the Lua script below: it stops after a fixed count of "
            f"responses ({requests_per_run:,} per run for the comparison) and gives every delivery its own `X-GitHub-Delivery` id. wrk rather than Python: on two "
            "cores, 50 Python threads measure the GIL and http.client (a few thousand requests/s at most) more "
            "than the servers. wrk's latency is from sending a request to its complete response; the throughput is the "
            "responses over the time from the first request sent to the last response received. *Server CPU per "
            "delivery* is the server process's user+system CPU time during the run divided by the deliveries "
            "(webhook's /bin/true children not included).",
            "",
            f"Both servers get the same ~{len(payloads['ignored']) // 100 / 10:.1f} KB GitHub-shaped push payload and "
            "the same secret, signed with HMAC-SHA256 in `X-Hub-Signature-256`. Before the runs the script checks "
            "that both really verify the signature (a wrong one: Slipway 401, webhook 500) and tell the branches apart.",
            "",
            "- **ignored** (the comparison): a push to `refs/heads/bench-ignored`. Slipway verifies the signature, "
            "parses the payload, records the delivery in SQLite and answers `200 {\"ignored\": ...}`. webhook's "
            "hook has the trigger rule `and: [payload-hmac-sha256 over X-Hub-Signature-256, value refs/heads/main "
            "at payload.ref]`: it verifies the signature, parses, the ref does not match, and it answers "
            "`200 Hook rules were not satisfied.`",
            f"- **accepted**: {accepted_per_run:,} deliveries per run of a push to `refs/heads/main` of a sha the "
            "repository does not have, each delivery with a new id. Slipway claims the delivery, queues a deployment that supersedes the one waiting, and answers "
            "`202`; the deployment that does run fails at its clone step after a few git calls, so no image is "
            "built during the load (the script waits for the queue to settle after each run). webhook runs "
            f"`/bin/true` for each. The app's history afterwards: "
            + ", ".join(f"{int(v):,} {k}" for k, v in sorted(statuses.items())) + " deployments; "
            f"{n_deliveries:,} deliveries recorded. Deleting the app through the API afterwards took {delete_s:.1f} s "
            "(timed, with the server otherwise idle).",
            f"- **ignored, {senders} paced senders** (the latency target): {paced_per_run:,} more deliveries over "
            f"{senders} connections, each waiting {pace_ms} ms after an answer before its next delivery "
            f"(`BENCH_DELAY_MS`, wrk's `delay()`), so about {fmt_num(round(senders * 1000 / pace_ms, -2))} deliveries/s are offered: "
            "a heavy but sustainable load for both servers, where the latency is the server's own and not a queue's.",
            f"- **ignored, 1 sender**: after each 50-sender run, {single_per_run:,} more of the same deliveries "
            "over one connection, one at a time (`-c1`): the time to acknowledge a delivery when none is queued "
            "ahead of it. With 50 senders and no pause between deliveries, the latency is mostly waiting: by "
            "Little's law the mean is 50 divided by the throughput (50 / 5,000 per second = 10 ms), whatever the "
            "server, so no server meets a 5 ms p99 at saturation unless it acknowledges well over 10,000 "
            "deliveries per second; that is why the target is measured paced, and the saturated p99 is reported beside webhook's.",
            "",
            "hooks.json for webhook (`webhook -hooks hooks.json -ip 127.0.0.1 -port P`, no -verbose):", "",
            "```json", json.dumps(hooks, indent=2).replace(secret, "<the app's webhook secret>"), "```", "",
            "bench.lua (also used by benchmark 5 without a body file):", "", "```lua", WRK_LUA.strip(), "```", "",
            f"Server: `{s.command}`.", "")
