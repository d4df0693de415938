"""What this run is: the binary, how many runs, which benchmarks, where the report goes (all from
the environment; see __init__.py), and the names, labels and secrets that mark what it makes."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SLIPWAY_BIN = Path(os.environ.get("SLIPWAY_BIN", REPO_ROOT / ".build" / "release" / "slipway")).resolve()
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ONLY = [n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()]
ANALYSIS = REPO_ROOT / "scripts" / "bench-analysis.md"
KEEPALIVE_SOURCE = REPO_ROOT / "scripts" / "bench-keepalive-server.c"
OUTPUT = Path(os.environ.get("BENCH_OUTPUT") or (REPO_ROOT / "BENCHMARKS.md" if not ONLY else "/tmp/slipway-bench-partial.md"))
KEEP = os.environ.get("BENCH_KEEP") == "1"

HOST = "127.0.0.1"
TEST_LABEL = "slipway.test=1"
RUN_ID = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
BENCH_LABEL = f"slipway.bench={RUN_ID}"
API_TOKEN = "bench-token-" + secrets.token_hex(12)
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(12)
# App ports come from below the kernel's ephemeral range (32768-60999 by default), so no outgoing
# connection can be holding one; the end-to-end tests use 30000-39999.
APP_PORT_POOL = (20000, 29999)
# Hard ceiling for the whole run: a stuck step must not run forever.
GLOBAL_DEADLINE = time.monotonic() + 45 * 60

FINISHED = {"succeeded", "failed", "cancelled", "superseded", "interrupted", "skipped"}
