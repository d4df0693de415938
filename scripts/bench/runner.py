"""The run: checks what it needs, copies the binary, runs each selected benchmark (once more
when someone else restarted the Docker engine under it), cleans up, and writes the report."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import __doc__ as package_doc
from .docker_cli import DOCKER_CLIENT, client_builder, docker_went_away, wait_for_docker
from .harness import BenchError, Cleanup, Context, Section, log
from .registry import BENCHMARKS
from .report import loadavg, machine_info, write_report
from .server import remove_leftovers
from .settings import KEEP, ONLY, OUTPUT, REPO_ROOT, RUN_ID, RUNS, SLIPWAY_BIN
from .tools import preflight


def main(args: list[str]) -> int:
    if args:
        # Everything is set through the environment; an argument is most likely a wish for help.
        print(package_doc.strip())
        return 0 if args in (["-h"], ["--help"]) else 2
    started = time.monotonic()
    load_before = loadavg()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    selected = [b for b in BENCHMARKS if not ONLY or b.name in ONLY]
    unknown = set(ONLY) - {b.name for b in BENCHMARKS}
    if unknown:
        print(f"unknown benchmark(s) in BENCH_ONLY: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        preflight()
        builder = client_builder(DOCKER_CLIENT)
        log(f"docker client {DOCKER_CLIENT}: {builder}")
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    (work / "bin").mkdir()
    # The servers run a copy of the binary (and of Templates/ beside it, where it looks for them) taken at
    # the start, so a rebuild in the checkout during the run cannot change what is measured half-way.
    run_bin = work / "bin" / "slipway"
    shutil.copy2(SLIPWAY_BIN, run_bin)
    shutil.copytree(REPO_ROOT / "Templates", work / "Templates")
    machine = machine_info(run_bin)
    log(f"work dir {work}; run id {RUN_ID}; {RUNS} runs per measurement; output {OUTPUT}")
    sections: list[Section] = []
    problems: list[str] = []
    notes: list[str] = []
    interrupted = False
    try:
        for bench in selected:
            sec = Section(bench.number, bench.title)
            sections.append(sec)
            cleanup = Cleanup()
            ctx = Context(work=work / bench.name, cleanup=cleanup, binary=run_bin, builder=builder)
            ctx.work.mkdir(parents=True)
            log(f"== {bench.number}. {bench.title} (load average {loadavg()})")
            t0 = time.monotonic()
            for attempt in (1, 2):
                try:
                    bench.measure(ctx, sec)
                except KeyboardInterrupt:
                    sec.error = "interrupted"
                    interrupted = True
                except Exception as exc:  # a broken benchmark is reported; the others still run
                    sec.error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
                    log(f"{bench.name} broke: {exc}")
                section_problems = cleanup.run_all()
                # On a shared machine someone else may restart the Docker engine under us: then the
                # benchmark is run once more, from scratch, once the engine answers again.
                if attempt == 1 and sec.error and not interrupted and docker_went_away(sec.error + " ".join(section_problems)):
                    log(f"{bench.name}: the Docker engine went away during the run; waiting for it, then running {bench.name} again")
                    wait_for_docker()
                    section_problems += remove_leftovers()
                    retried = [f"{bench.name}: first attempt broke because the Docker engine became unavailable "
                               f"(restarted by someone else?); ran again. First error: {sec.error.splitlines()[0][:200]}"]
                    sec = Section(bench.number, bench.title)
                    sections[-1] = sec
                    cleanup = Cleanup()
                    ctx = Context(work=work / f"{bench.name}-2", cleanup=cleanup, binary=run_bin, builder=builder)
                    ctx.work.mkdir(parents=True)
                    notes += retried
                    continue
                problems += section_problems
                break
            sec.seconds = time.monotonic() - t0
            if interrupted:
                break
    finally:
        # Whatever survived a broken clean-up: containers and images with this run's labels.
        problems += remove_leftovers()
        write_report(sections, machine, started, load_before, problems, notes)
        if KEEP:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    broken = [s for s in sections if s.error]
    return 1 if broken or problems or interrupted else 0
