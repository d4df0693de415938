"""What every benchmark runs on: the error that marks a broken run, the log, the run's deadline,
running commands and the tools a benchmark starts, the clean-up, and the report section a
benchmark fills in."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .settings import GLOBAL_DEADLINE, HOST

DEVNULL = subprocess.DEVNULL


class BenchError(Exception):
    """Something broke: the run is reported as failed (a missed target never raises this)."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def check_deadline() -> None:
    if time.monotonic() > GLOBAL_DEADLINE:
        raise BenchError("the benchmark run passed its 45-minute ceiling")


# --- Processes -----------------------------------------------------------------------------------


def run(argv: list[str], timeout: float = 120, check: bool = True, env: Optional[dict] = None,
        cwd: Optional[Path] = None, input: Optional[bytes] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, cwd=cwd,
                          input=input, stdin=None if input is not None else DEVNULL)
    if check and proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:6])}... exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-800:]}{proc.stdout.decode(errors='replace')[-400:]}")
    return proc


def out(argv: list[str], timeout: float = 60) -> str:
    return run(argv, timeout=timeout).stdout.decode(errors="replace").strip()


def try_out(argv: list[str], timeout: float = 60) -> str:
    try:
        return run(argv, timeout=timeout, check=False).stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        return "(unavailable)"


def stop_process(proc: subprocess.Popen, log_file: Any, sig: int) -> None:
    """Sends `sig` to a tool the script started, kills it after 10 s, and closes its log."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log_file.close()


def wait_listening(port: int, timeout: float, what: str, proc: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} did not listen on {port} within {timeout:.0f}s")


# --- Clean-up -----------------------------------------------------------------------------------


class Cleanup:
    """Clean-up actions, run last-in first-out; every one runs whatever the others do."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, action: Callable[[], None]) -> None:
        self.actions.append((what, action))

    def run_all(self) -> list[str]:
        problems = []
        while self.actions:
            what, action = self.actions.pop()
            try:
                action()
            except Exception as exc:  # keep cleaning up
                problems.append(f"{what}: {exc}")
                log(f"clean-up of {what} failed: {exc}")
        return problems


@dataclass
class Context:
    """One benchmark's work directory and clean-up, and what the run settled at its start."""

    work: Path
    cleanup: Cleanup
    binary: Path  # the copy of SLIPWAY_BIN the servers run (runner.py says why)
    builder: str  # the builder Slipway's --builder auto picks for DOCKER_CLIENT
    keepalive_server: Optional[Path] = None  # built once per benchmark (keepalive_app.py)


# --- Report sections --------------------------------------------------------------------------------


@dataclass
class Target:
    number: int
    benchmark: str
    figure: str
    target: str
    met: Optional[bool]


@dataclass
class Section:
    number: int
    title: str
    targets: list[Target] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(str(c) for c in row) + " |")
        self.lines.append("")

    def target(self, benchmark: str, figure: str, target: str, met: Optional[bool]) -> None:
        self.targets.append(Target(self.number, benchmark, figure, target, met))
