"""A large history for benchmarks 6 and 7: apps made through the API, then deployment rows
inserted with sqlite3 while the server is stopped; and a logged-in client for the dashboard."""

from __future__ import annotations

import http.client
import time
from typing import Optional

from .harness import BenchError, out, run
from .server import Slipway
from .settings import ADMIN_PASSWORD, API_TOKEN, HOST


SEED_SQL = """
PRAGMA foreign_keys = ON;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {per_app})
INSERT INTO deployments (app_id, status, trigger, ref, commit_sha, commit_message, commit_author, image,
                         delivery_id, error, created_at, started_at, finished_at, steps, log_path)
SELECT a.id,
       CASE WHEN n.i % 10 = 3 THEN 'failed' WHEN n.i % 25 = 7 THEN 'superseded' ELSE 'succeeded' END,
       CASE n.i % 3 WHEN 0 THEN 'webhook' WHEN 1 THEN 'manual' ELSE 'redeploy' END,
       CASE n.i % 3 WHEN 0 THEN lower(hex(randomblob(20))) ELSE NULL END,
       lower(hex(randomblob(20))),
       'Change number ' || n.i || ': update the landing page and its styles',
       'Ada Lovelace <ada@example.com>',
       NULL,
       CASE n.i % 3 WHEN 0 THEN lower(hex(randomblob(16))) ELSE NULL END,
       CASE WHEN n.i % 10 = 3 THEN 'health check failed: GET / did not answer below 500 within 60 s (no answer)' ELSE NULL END,
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ({per_app} - n.i) * 600 + 5)),
       CASE WHEN n.i % 25 = 7 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ({per_app} - n.i) * 600 + 4)) END,
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d seconds', ({per_app} - n.i) * 600 + 2)),
       CASE WHEN n.i % 25 = 7 THEN '[]' WHEN n.i % 10 = 3 THEN '[["clone",31],["build",912],["start",498],["check",60012]]'
            ELSE '[["clone",27],["build",841],["start",526],["check",1],["swap",0]]' END,
       NULL
FROM n CROSS JOIN apps a
ORDER BY n.i, a.id;
UPDATE deployments SET image = 'slipway/' || (SELECT name FROM apps WHERE apps.id = deployments.app_id) || ':' || id
    WHERE status = 'succeeded' AND image IS NULL;
UPDATE apps SET status = 'stopped',
    live_deployment_id = (SELECT max(id) FROM deployments d WHERE d.app_id = apps.id AND d.status = 'succeeded');
COMMIT;
"""


def seed_history(s: Slipway, apps: int, per_app: int) -> float:
    """Creates `apps` apps through the API (deploy: false), stops the server and inserts `per_app`
    deployment rows for each with sqlite3. Returns the seconds the insert took."""
    s.seeded = True
    for i in range(apps):
        s.create_app(f"app-{i:03d}", f"/srv/git/app-{i:03d}.git", deploy=False, env={"GREETING": "hello"})
    s.stop()
    started = time.monotonic()
    run(["sqlite3", str(s.data_dir / "slipway.db")], input=SEED_SQL.format(per_app=per_app).encode(), timeout=300)
    took = time.monotonic() - started
    count = int(out(["sqlite3", str(s.data_dir / "slipway.db"), "SELECT count(*) FROM deployments"]))
    if count != apps * per_app:
        raise BenchError(f"seeded {count} deployments, expected {apps * per_app}")
    return took


class WebClient:
    """One keep-alive connection to the server, logged in to the dashboard."""

    def __init__(self, s: Slipway):
        self.s = s
        self.conn = http.client.HTTPConnection(HOST, s.port, timeout=30)
        status, headers, _ = self.request("POST", "/login", body=f"password={ADMIN_PASSWORD}".encode(),
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        cookie = headers.get("set-cookie", "")
        if status != 303 or "slipway_session=" not in cookie:
            raise BenchError(f"POST /login: {status} {headers}")
        self.cookie = cookie.split(";", 1)[0]

    def request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None) -> tuple[int, dict, bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def get(self, path: str, auth: str) -> tuple[int, bytes, float]:
        headers = {"Cookie": self.cookie} if auth == "cookie" else {"Authorization": f"Bearer {API_TOKEN}"}
        started = time.perf_counter()
        status, _, data = self.request("GET", path, headers=headers)
        return status, data, time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def load_pages_once(s: Slipway, app: str) -> None:
    web = WebClient(s)
    try:
        for path, auth in (("/", "cookie"), (f"/apps/{app}", "cookie"), ("/api/apps", "token"),
                           (f"/api/apps/{app}/deployments?limit=50", "token")):
            status, data, _ = web.get(path, auth)
            if status != 200:
                raise BenchError(f"GET {path}: {status} {data[:300]!r}")
    finally:
        web.close()
