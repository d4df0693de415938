"""The benchmarks, in the order they run and are numbered in the report.

A benchmark is a module in benchmarks/ with a `measure(ctx: Context, sec: Section)` function that
measures, fills in its report section and registers its clean-up on ctx.cleanup; adding one
is that module plus one line below. Every module is imported here, when the run starts, so a
broken one fails at once rather than after the benchmarks before it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .harness import Context, Section


@dataclass(frozen=True)
class Benchmark:
    number: int
    name: str  # benchmarks/<name>.py, and what BENCH_ONLY selects it by
    title: str  # the report's section heading
    measure: Callable[[Context, Section], None]


def benchmark(number: int, name: str, title: str) -> Benchmark:
    module = importlib.import_module(f"{__package__}.benchmarks.{name}")
    return Benchmark(number, name, title, module.measure)


BENCHMARKS: list[Benchmark] = [
    benchmark(1, "deploy", "Deploy overhead"),
    benchmark(2, "rollback", "Rollback"),
    benchmark(3, "swap", "Zero-downtime swap under load"),
    benchmark(4, "webhook", "Webhook acknowledgement"),
    benchmark(5, "forward", "Port forwarder"),
    benchmark(6, "memory", "Memory"),
    benchmark(7, "web", "Dashboard and API latency"),
    benchmark(8, "flood", "Bad webhook signatures beside valid deliveries"),
    benchmark(9, "edge", "HTTP edge against nginx"),
    benchmark(10, "edge_tls", "HTTPS edge against nginx"),
    benchmark(11, "upgrade", "Upgrades and restarts under load"),
    benchmark(12, "remote", "Deploying to another server over SSH"),
]
