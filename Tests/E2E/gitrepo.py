"""Real git repositories for the pipeline's end-to-end tests.

A test builds its app as a git repository in a temp dir, commits new
versions as it goes, and hands Slipway either the repository's path (with
--allow-local-repos) or an http:// URL served with git's "dumb" protocol by
`python3 -m http.server`. Only git and the standard library are used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping, Optional

from loopback import free_port

HOST = "127.0.0.1"
BASE_IMAGE = "slipway-test-base:latest"
GIT_TIMEOUT_S = 30.0

# --- The test app: busybox httpd serving /www/index.html on port 5000 ----------

DOCKERFILE = f"""\
FROM {BASE_IMAGE}
COPY index.html /www/index.html
EXPOSE 5000
CMD ["httpd", "-f", "-p", "5000", "-h", "/www"]
"""


def web_app(body: str, dockerfile: Optional[str] = DOCKERFILE) -> dict[str, Optional[str]]:
    """The files of a version of the test app; `dockerfile=None` removes the Dockerfile."""
    return {"Dockerfile": dockerfile, "index.html": body + "\n"}


def dockerfile_with_run(command: str) -> str:
    """The normal app with a RUN step before the COPY (a slow or failing build)."""
    return DOCKERFILE.replace("COPY ", f"RUN {command}\nCOPY ", 1)


def dockerfile_with_cmd(cmd_json: str) -> str:
    """The normal app with another CMD (exec form, given as JSON text)."""
    head, _, _ = DOCKERFILE.rpartition("CMD ")
    return f"{head}CMD {cmd_json}\n"


# --- Git ----------------------------------------------------------------------


def git_env() -> dict[str, str]:
    """git with no user or system configuration, so a developer's settings
    (signing, hooks paths, default branch, url rewrites) cannot leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    })
    return env


def run_git(cwd: Path, *args: str) -> str:
    """Runs git in `cwd`; returns stdout stripped; fails with git's stderr."""
    proc = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=cwd, capture_output=True, text=True, env=git_env(), timeout=GIT_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd} ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc.stdout.strip()


class GitRepo:
    """A working repository on branch `main`."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, path: Path, files: Mapping[str, Optional[str]], message: str = "v1") -> "GitRepo":
        path.mkdir(parents=True, exist_ok=True)
        run_git(path, "init", "-q", "-b", "main")
        repo = cls(path)
        repo.commit(files, message)
        return repo

    def git(self, *args: str) -> str:
        return run_git(self.path, *args)

    def write(self, files: Mapping[str, Optional[str]]) -> None:
        """Writes each file; a None content deletes it."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                if target.exists():
                    target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)

    def commit(self, files: Mapping[str, Optional[str]], message: str) -> str:
        """Writes `files`, commits everything, returns the new HEAD sha."""
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def subject(self, rev: str = "HEAD") -> str:
        return self.git("log", "-1", "--format=%s", rev)

    @property
    def url(self) -> str:
        """What Slipway is given with --allow-local-repos: the absolute path."""
        return str(self.path.resolve())


class DumbHttpRemote:
    """A bare clone of a repository served over http with git's dumb protocol.

    `python3 -m http.server` serves the bare repository's parent directory;
    `git update-server-info` writes the info/refs and objects/info/packs
    files a dumb-protocol client reads, after the clone and after each push.
    """

    def __init__(self, source: GitRepo, root: Path, name: str = "repo.git"):
        self.source = source
        self.root = root
        self.bare = root / name
        self.name = name
        root.mkdir(parents=True, exist_ok=True)
        run_git(root, "clone", "-q", "--bare", str(source.path), str(self.bare))
        run_git(self.bare, "update-server-info")
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self._log = root / "http-server.log"
        self._start()

    def _start(self) -> None:
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            with open(self._log, "wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "http.server", "--bind", HOST, str(self.port)],
                    cwd=self.root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{self.url}/info/refs", timeout=1) as resp:
                        if resp.status == 200:
                            return
                except (OSError, urllib.error.URLError):
                    pass
                time.sleep(0.05)
            last = self._log.read_text(errors="replace")
            self.close()
        raise AssertionError(f"python3 -m http.server did not serve {self.bare}; its output:\n{last}")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/{self.name}"

    def push(self) -> None:
        """Pushes the source's main branch and refreshes the dumb-protocol files."""
        self.source.git("push", "-q", str(self.bare), "main:main")
        run_git(self.bare, "update-server-info")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
