"""One `slipway serve` process: started on a free loopback port, waited for until it answers,
stopped with SIGTERM and then SIGKILL. Used by the end-to-end tests (conftest.py) and by the
benchmark (scripts/bench); standard library only, so it needs neither pytest nor the tests.

Failures raise the exception class the caller names (AssertionError for the tests, the
benchmark's BenchError), with the tail of the server's stderr in the message.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, TypeVar

from loopback import HOST, free_port

# A lost race for the port is the only start-up failure worth another try; three tries make
# losing it every time vanishingly unlikely.
START_ATTEMPTS = 3
# After SIGKILL the kernel reaps a process at once unless it is stuck in the kernel (a hung
# mount, say); then waiting longer would not help.
KILL_TIMEOUT_S = 10.0

Process = TypeVar("Process", bound="SlipwayProcess")


def clean_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """This process's environment without any SLIPWAY_* variable, plus `extra`.

    Every flag of `slipway serve` can also come from a SLIPWAY_* variable, so none of the
    caller's may leak in and change what a test or a benchmark sees.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(extra or {})
    return env


def alive(pid: int) -> bool:
    """Running, not a zombie: a process the test did not start itself (a server's successor, a
    second host's daemon) is nobody's child here, so nothing reaps it when it ends."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Exit:
    """How a stopped server ended: its exit status (negative: the signal that ended it), and
    whether SIGTERM's deadline passed so that SIGKILL had to end it."""

    code: int
    killed: bool


@dataclass
class SlipwayProcess:
    """A `slipway serve` started by start(): its process, port, data dir and logs."""

    proc: subprocess.Popen
    port: int
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    host: str = HOST

    @classmethod
    def start(
        cls: type[Process],
        binary: Path,
        *,
        data_dir: Path,
        flags: Iterable[str] = (),
        env: dict[str, str],
        cwd: Path,
        stdout_path: Path,
        stderr_path: Path,
        append: bool = False,
        startup_timeout: float = 20.0,
        what: str = "server",
        error: type[Exception] = AssertionError,
    ) -> Process:
        """Runs `binary serve --host 127.0.0.1 --port <free> --data-dir DATA_DIR FLAGS` and waits
        until GET /healthz answers 200.

        stdout and stderr go to their files (one file when the paths are equal), truncated
        first unless `append`, so a server restarted on the same directory keeps one log.
        Raises `error` naming `what` if the server exits or does not answer in time.
        """
        flags = list(flags)
        for _attempt in range(START_ATTEMPTS):
            port = free_port()
            # With `append`, what this attempt writes starts after the older runs' lines.
            log_start = stderr_path.stat().st_size if append and stderr_path.exists() else 0
            with contextlib.ExitStack() as files:
                err = files.enter_context(open(stderr_path, "ab" if append else "wb"))
                out = err if stdout_path == stderr_path else files.enter_context(open(stdout_path, "ab" if append else "wb"))
                proc = subprocess.Popen(
                    [str(binary), "serve", "--host", HOST, "--port", str(port), "--data-dir", str(data_dir), *flags],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=cwd,
                )
            server = cls(proc, port, data_dir, stdout_path, stderr_path)
            if server._wait_healthy(startup_timeout):
                return server
            if proc.poll() is None:
                proc.kill()
                proc.wait(KILL_TIMEOUT_S)
                raise error(f"{what} did not answer GET /healthz with 200 within {startup_timeout:.0f}s; "
                            f"stderr tail:\n{tail(server.stderr_text())}")
            written = server._stderr_from(log_start)
            if "in use" not in written.lower():
                break
        raise error(f"{what} exited during start-up with {proc.returncode}; stderr tail:\n{tail(written)}")

    def _wait_healthy(self, timeout: float) -> bool:
        """True once /healthz gives 200; False if the process exits first or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            conn = http.client.HTTPConnection(self.host, self.port, timeout=1.0)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass  # not listening yet
            finally:
                conn.close()
            time.sleep(0.05)
        return False

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stderr_text(self) -> str:
        return self._stderr_from(0)

    def _stderr_from(self, offset: int) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def terminate(self, timeout: float) -> Exit:
        """SIGTERM, then SIGKILL once `timeout` seconds pass without an exit; returns how it ended.

        A process that has already exited is only reaped. Raises RuntimeError if even SIGKILL
        does not end it within KILL_TIMEOUT_S.
        """
        if self.proc.poll() is not None:
            return Exit(self.proc.returncode, killed=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            return Exit(self.proc.wait(timeout=timeout), killed=False)
        except subprocess.TimeoutExpired:
            pass
        self.proc.kill()
        try:
            return Exit(self.proc.wait(timeout=KILL_TIMEOUT_S), killed=True)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"slipway (pid {self.proc.pid}) survived SIGKILL for {KILL_TIMEOUT_S:.0f}s") from None
