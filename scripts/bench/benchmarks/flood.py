"""8. Bad signatures beside valid deliveries: anyone can send a delivery with a bad signature, and
a flood of them must leave valid pushes acknowledged within their normal latency (issue 11)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from gitrepo import GitRepo, web_app

from ..harness import BenchError, Context, Section, check_deadline, log, out
from ..measure import fmt_num, median
from ..server import Slipway
from ..settings import HOST, RUN_ID, RUNS
from ..wrk import wrk, wrk_timed
from .webhook import github_push_payload

HISTORY = 100_000


def measure(ctx: Context, sec: Section) -> None:
    senders, pace_ms, valid_per_run, flood_seconds = 50, 50, 3000, 6
    # Every delivery stays, so the history really is 100,000 rows (by default an app keeps 1,000).
    s = Slipway(ctx, "flood", app_ports=1, extra=("--keep-deliveries", str(10 * HISTORY)))
    s.start()
    repo = GitRepo.create(ctx.work / "flood-repo", web_app("flood app"))
    app = s.create_app("flooded", repo.url, deploy=False)
    payload = github_push_payload("refs/heads/bench-ignored", secrets.token_hex(20), repo.head())
    body_file = ctx.work / "flood-push.json"
    body_file.write_bytes(payload)
    good = "sha256=" + hmac.new(app["webhook_secret"].encode(), payload, hashlib.sha256).hexdigest()
    bad = "sha256=" + hmac.new(b"not the secret", payload, hashlib.sha256).hexdigest()
    url = f"http://{HOST}:{s.port}/hooks/github/flooded"

    def env(signature: str, prefix: str, paced: bool) -> dict:
        e = {"BENCH_BODY_FILE": str(body_file), "BENCH_SIGNATURE": signature, "BENCH_DELIVERY_PREFIX": f"{RUN_ID}-{prefix}"}
        if paced:
            e["BENCH_DELAY_MS"] = str(pace_ms)
        return e

    # The history the flood meets: 100,000 signed deliveries recorded through the server itself.
    for batch in range(HISTORY // 20_000):
        check_deadline()
        wrk(ctx, url, senders, 20_000, expect=200, extra_env=env(good, f"seed-{batch}", paced=False), pid=s.proc.pid)
    db = str(s.data_dir / "slipway.db")
    stored = int(out(["sqlite3", "-readonly", db, "SELECT count(*) FROM webhook_deliveries"]))
    if stored < HISTORY:
        raise BenchError(f"seeding left {stored} deliveries, not {HISTORY}")
    log(f"flood: {stored} deliveries recorded before the runs")

    alone, beside, flood = [], [], []
    for i in range(RUNS):
        check_deadline()
        # Valid pushes from 50 paced senders (~1,000/s), first on their own...
        alone.append(wrk(ctx, url, senders, valid_per_run, expect=200, extra_env=env(good, f"alone-{i}", paced=True),
                         pid=s.proc.pid))
        # ...then while 50 more connections send bad signatures as fast as they are answered.
        result: dict = {}

        def run_flood() -> None:
            result.update(wrk_timed(ctx, url, senders, flood_seconds, expect=429, extra_env=env(bad, f"flood-{i}", paced=False)))

        flooder = threading.Thread(target=run_flood)
        flooder.start()
        try:
            beside.append(wrk(ctx, url, senders, valid_per_run, expect=200, extra_env=env(good, f"beside-{i}", paced=True),
                              pid=s.proc.pid))
        finally:
            flooder.join(flood_seconds + 40)
        if not result:
            raise BenchError("the flood's wrk gave no result")
        flood.append(result)
        s.assert_alive()
        log(f"flood run {i + 1}/{RUNS}: valid p99 {alone[-1]['p99_us'] / 1000:.2f} ms alone, "
            f"{beside[-1]['p99_us'] / 1000:.2f} ms beside {result['rps']:.0f} bad signatures/s")

    refused_rows = int(out(["sqlite3", "-readonly", db, "SELECT count(*) FROM webhook_deliveries WHERE kind = 'rejected'"]))
    s.api("DELETE", "/api/apps/flooded", expect=204, timeout=900)

    def med(rs: list[dict], key: str) -> float:
        return median([r[key] for r in rs])

    rows = [
        ["valid pushes alone", f"{med(alone, 'p50_us') / 1000:.2f} ms", f"{med(alone, 'p99_us') / 1000:.2f} ms",
         fmt_num(med(alone, "rps")) + "/s", " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in alone)],
        ["valid pushes beside the flood", f"{med(beside, 'p50_us') / 1000:.2f} ms", f"{med(beside, 'p99_us') / 1000:.2f} ms",
         fmt_num(med(beside, "rps")) + "/s", " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in beside)],
        ["the flood: bad signatures", f"{med(flood, 'p50_us') / 1000:.2f} ms", f"{med(flood, 'p99_us') / 1000:.2f} ms",
         fmt_num(med(flood, "rps")) + "/s", " / ".join(f"{r['p99_us'] / 1000:.2f}" for r in flood)],
    ]
    sec.add(f"One server, one app with {fmt_num(HISTORY)} recorded deliveries (`--keep-deliveries` raised so they stay). "
            f"{senders} senders of valid ignored pushes, each pausing {pace_ms} ms after an answer (about 1,000/s), "
            f"{fmt_num(valid_per_run)} deliveries a run, first alone and then beside {senders} more connections sending "
            f"the same body with a bad signature, unpaced, for {flood_seconds} s. Refusals past a client's budget are "
            f"answered 429, all of them counted in memory only: {refused_rows} refused deliveries were found in the "
            f"database afterwards.", "")
    sec.table(["load", "p50 (median of runs)", "p99 (median of runs)", "rate", "runs: p99 (ms)"], rows)
    ratio = med(beside, "p99_us") / med(alone, "p99_us")
    sec.target("Valid webhook p99 beside a flood of bad signatures, against the same without it",
               f"{med(beside, 'p99_us') / 1000:.2f} ms vs {med(alone, 'p99_us') / 1000:.2f} ms (ratio {ratio:.2f}), "
               f"beside {fmt_num(med(flood, 'rps'))} bad signatures/s; {refused_rows} refusals stored",
               "≤ 2x", ratio <= 2 and refused_rows == 0)
