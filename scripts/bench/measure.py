"""Statistics and /proc readings for the figures, and how the report writes them."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Iterable, Optional


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def merged_failures(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Load clients' failure counts by kind, added up."""
    total: dict[str, int] = {}
    for one in counts:
        for kind, n in one.items():
            total[kind] = total.get(kind, 0) + n
    return total


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.2f} ms"


def fmt_num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def verdict(met: Optional[bool]) -> str:
    return "n/a" if met is None else ("**met**" if met else "**missed**")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_children(pid: int) -> list[int]:
    """A process and its children as they are now (nginx's master and its workers)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [pid, *children]


def proc_status_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            fields[name] = int(value.split()[0])
    return fields


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB from /proc/<pid>/status."""
    fields = proc_status_kb(pid)
    return fields["VmRSS"], fields["VmHWM"]


def steps_text(steps_list: list[dict]) -> str:
    keys = list(dict.fromkeys(k for s in steps_list for k in s))
    return ", ".join(f"{k} {median([s.get(k, 0) for s in steps_list]):.0f}" for k in keys)
