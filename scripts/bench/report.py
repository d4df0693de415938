"""The report: the machine and tools it ran on, the table of targets, and each benchmark's section,
written to BENCHMARKS.md (or BENCH_OUTPUT)."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import time
from pathlib import Path

from .harness import Section, log, run, try_out
from .measure import verdict
from .settings import ANALYSIS, ONLY, OUTPUT, REPO_ROOT, RUNS, SLIPWAY_BIN


def machine_info(run_bin: Path) -> list[tuple[str, str]]:
    """The machine, the binary (`run_bin`: the copy the servers run) and the tools, for the report."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    head = try_out(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = try_out(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"])
    swift = try_out(["swift", "--version"]).splitlines()
    linked = try_out(["ldd", str(run_bin)])
    runtime = "Swift runtime linked statically" if "libswiftCore" not in linked else "Swift runtime in shared libraries"
    return [
        ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Slipway", f"{try_out([str(run_bin), '--version'])}, commit {head}{' with uncommitted changes' if dirty else ''}, "
                    f"release build, {runtime} "
                    f"(`{SLIPWAY_BIN.relative_to(REPO_ROOT) if SLIPWAY_BIN.is_relative_to(REPO_ROOT) else SLIPWAY_BIN}`, "
                    "run from a copy in `$WORK/bin` taken at the start)"),
        ("CPU", f"{cpu}, {os.cpu_count()} CPUs (`nproc`: {try_out(['nproc'])})"),
        ("Memory", mem),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("OS", try_out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"])),
        ("Docker", f"client {try_out(['docker', 'version', '--format', '{{.Client.Version}}'])}, "
                   f"server {try_out(['docker', 'version', '--format', '{{.Server.Version}}'])}, "
                   f"storage driver {try_out(['docker', 'info', '--format', '{{.Driver}}'])}"),
        ("Swift", swift[0] if swift else "unknown"),
        ("git", try_out(["git", "--version"])),
        ("Python", platform.python_version()),
        ("wrk", (try_out(["wrk", "-v"]).splitlines() or ["?"])[0]),
        ("webhook", try_out(["webhook", "-version"])),
        ("nginx", run(["nginx", "-v"], check=False).stderr.decode().strip() if shutil.which("nginx") else "not installed"),
        ("curl", (try_out(["curl", "--version"]).splitlines() or ["?"])[0]),
        ("sqlite3", try_out(["sqlite3", "--version"]).split(" ")[0]),
    ]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(sections: list[Section], machine: list[tuple[str, str]], started: float, load_before: str,
                 problems: list[str], notes: list[str]) -> None:
    total = time.monotonic() - started
    lines = [
        "# Slipway benchmarks", "",
        f"Written by `scripts/bench` (`make bench`) on {machine[0][1]}, in {total / 60:.1f} minutes. "
        f"Every comparison ran side by side in the same run, each measurement {RUNS} times with the sides "
        "interleaved; figures are medians of the runs, and ratios are ratios of medians. The script reports "
        "and never fails on a missed target; it fails only when something breaks.", "",
        "To run it again:", "",
        "```sh",
        "make bench      # `make release` (the production build), then scripts/bench against it",
        "# against an existing binary, or only some benchmarks (written to /tmp/slipway-bench-partial.md):",
        "SLIPWAY_BIN=.build/release/slipway BENCH_ONLY=webhook,web python3 scripts/bench",
        "```", "",
        "It needs what `make test` needs (Docker, git, sqlite3, curl, the `slipway-test-base` image from "
        "`scripts/test-env.sh`) plus Debian's `wrk`, `webhook`, `nginx` and `libnginx-mod-stream`, which it installs "
        "with apt-get when missing and run as root, and `cc` for the keep-alive test server. Everything listens on "
        "127.0.0.1; every container and image it makes is labelled `slipway.test=1` and removed at the end.", "",
        "## Machine", "",
        "| | |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine),
        f"| Load average | {load_before} before the run, {loadavg()} after it |", "",
    ]
    lines += [
        "This is a shared 2-core machine: other test runs may have been using it at the same time (see the load "
        "average), which shows mostly as run-to-run spread; the side-by-side interleaving keeps the comparisons fair.",
        "", "## Results", "",
        "| # | Benchmark | Figure | Target | Verdict |", "|---|---|---|---|---|",
    ]
    for sec in sections:
        for t in sec.targets:
            lines.append(f"| {t.number} | {cell(t.benchmark)} | {cell(t.figure)} | {cell(t.target)} | {verdict(t.met)} |")
        if sec.error:
            lines.append(f"| {sec.number} | {sec.title} | **broke**: {cell(sec.error.splitlines()[0][:200])} | | **error** |")
    lines.append("")
    missed = [t for sec in sections for t in sec.targets if t.met is False]
    if missed:
        lines += ["Missed: " + "; ".join(f"{t.benchmark} ({t.figure}, target {t.target})" for t in missed) + ".", ""]
    if notes:
        lines += ["Notes on this run:", "", *(f"- {cell(n)}" for n in notes), ""]
    if problems:
        lines += ["Problems during the run:", "", *(f"- `{p.strip().splitlines()[0][:300]}`" for p in problems), ""]
    if ANALYSIS.exists() and not ONLY:
        # Written by hand from a profile: what was found and changed, and why a missed target stays missed.
        lines += [ANALYSIS.read_text().rstrip(), ""]
    for sec in sections:
        lines += [f"## {sec.number}. {sec.title}", "", f"*{sec.seconds:.0f} s of the run.*", ""]
        if sec.error:
            lines += ["**This benchmark broke:**", "", "```", sec.error.strip()[-3000:], "```", ""]
        lines += sec.lines
    text = "\n".join(lines).rstrip() + "\n"
    OUTPUT.write_text(text)
    log(f"wrote {OUTPUT}")
