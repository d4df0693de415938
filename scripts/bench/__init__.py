"""Slipway's benchmark suite: `make bench` builds the release binary and runs this package
(`python3 scripts/bench`); it writes BENCHMARKS.md.

Nine benchmarks, each compared side by side within one run, every measurement repeated RUNS
times (default 5) with the sides interleaved, and reported from the median:

  deploy    1. deploy overhead: Slipway's pipeline against the same commands by hand, cold and warm
  rollback  2. rollback: POST .../rollback until the previous version answers on the public port
  swap      3. zero-downtime swap: 32 client threads through 5 redeploys, new connections and keep-alive
  webhook   4. webhook acknowledgement latency and throughput, against adnanh/webhook (Debian's webhook)
  forward   5. port forwarder: against a direct connection to the container and nginx's stream proxy
  memory    6. resident memory, idle and with 50 apps and 10,000 deployments
  web       7. dashboard and API latency with 100 apps and 1,000 deployments each
  flood     8. valid webhook deliveries beside a flood of bad signatures, after 100,000 recorded ones
  edge      9. the HTTP edge (--http-port, routing by Host) against nginx's proxy_pass with an upstream
               keepalive pool, in front of the same container: requests/s and p99 (keep-alive and
               new-connection clients), a 100 MB download, RSS per 1,000 idle keep-alive clients; then
               redeploys under keep-alive, pipelined and new-connection load (0 failed). A binary
               without --http-port gets nginx's figures only, and its targets say not measured

The script reports; it never fails because a target is missed. It exits non-zero only when
something breaks (a deployment fails, a server dies, a tool is missing), after writing what it has.

Environment:
  SLIPWAY_BIN    the binary (default .build/release/slipway)
  BENCH_RUNS     runs per measurement (default 5)
  BENCH_ONLY     comma-separated benchmark names from the list above (then the output defaults to
                 /tmp/slipway-bench-partial.md, so a partial run never overwrites BENCHMARKS.md)
  BENCH_OUTPUT   where to write the report
  BENCH_KEEP=1   keep the work directory (server logs, repositories) for a look afterwards

Safety: everything listens on 127.0.0.1. Every container and image made here carries
slipway.test=1: Slipway's through --container-label, the by-hand ones (and the keep-alive test
server's) with an extra slipway.bench=<run id> label. At the end Slipway's apps are deleted through
its API, then whatever still carries this run's labels is removed; nothing else is touched. Every
load loop is bounded both in requests and in time. Python standard library only; wrk, webhook and
nginx are Debian packages (installed with apt-get when missing and running as root).

Layout:
  runner.py       the run: the checks in tools.py, each benchmark, the clean-up, report.py
  registry.py     the benchmarks, in order; each is a module in benchmarks/
  settings.py     the environment above, and this run's labels and secrets
  harness.py      BenchError, the log, running commands, Cleanup, Context, report sections
  measure.py      percentiles, medians, /proc readings, number formats
  server.py       Slipway: one server under benchmark, with the API calls the benchmarks make
  http_client.py, docker_cli.py, wrk.py, keepalive_app.py, seeded_history.py: what several
                  benchmarks share

A new benchmark is a module in benchmarks/ with a `run(ctx, sec)` function, plus one line in
registry.py.
"""

import sys
from pathlib import Path

# The end-to-end tests' helpers: git repositories and the test app, loopback ports, and
# slipway_process, which starts and stops a server; so the benchmark deploys exactly what the
# tests do, and starts the binary the way they do.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "E2E"))
