"""A second host on this machine, for the tests of servers reached over SSH: a network namespace
with its own veth address (in 10.231.0.0/16), its own dockerd (data root, socket and bridge of
its own, started inside the namespace by netns_dockerd.py) and an sshd there whose sessions reach
that dockerd (`SetEnv DOCKER_HOST=...`), so `docker -H ssh://root@ADDRESS system dial-stdio`
drives the second engine. See ../shared/recipes/second-docker-host.md.

Everything it makes is named `slwt<hex>` (the namespace `slipway-test-<hex>`, the veth pair
`slwt<hex>-h` and `-p`), lives under a temporary directory of its own, and is removed by
`close()`; `remove_leftovers()` removes what a killed run left with that naming, and nothing else.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from conftest import wait_until
from slipway_process import alive

HERE = Path(__file__).resolve().parent
NAMESPACE_PREFIX = "slipway-test-"
BASE_IMAGE = "slipway-test-base:latest"


def run(*args: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done


def kill_and_wait(pid: int, timeout: float = 20) -> None:
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), 10, f"process {pid} to end after SIGKILL")


class SecondHost:
    def __init__(self) -> None:
        self.tag = "slwt" + secrets.token_hex(2)
        self.namespace = NAMESPACE_PREFIX + self.tag[4:]
        self.host_link, self.peer_link = self.tag + "-h", self.tag + "-p"
        # A /30 of its own: the host side .1, the second host .2.
        block = secrets.randbelow(64 * 254)
        third, fourth = 1 + block // 64, (block % 64) * 4
        self.host_address = f"10.231.{third}.{fourth + 1}"
        self.address = f"10.231.{third}.{fourth + 2}"
        # A short path: the engine's socket is a Unix socket (at most 107 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="slw-h2-"))
        self.socket = self.root / "docker.sock"
        self.authorized_keys = self.root / "authorized_keys"
        self.authorized_keys.write_text("")
        self.authorized_keys.chmod(0o600)
        self.dockerd: Optional[subprocess.Popen] = None
        self.sshd_pid = 0

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return run("docker", "-H", self.docker_host, *args, check=check, timeout=timeout)

    def start(self) -> "SecondHost":
        run("ip", "netns", "add", self.namespace)
        run("ip", "link", "add", self.host_link, "type", "veth", "peer", "name", self.peer_link)
        run("ip", "link", "set", self.peer_link, "netns", self.namespace)
        run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_link)
        run("ip", "link", "set", self.host_link, "up")
        self.in_namespace("ip", "addr", "add", f"{self.address}/30", "dev", self.peer_link)
        self.in_namespace("ip", "link", "set", self.peer_link, "up")
        self.in_namespace("ip", "link", "set", "lo", "up")
        self.start_dockerd()
        # The second engine has no images: the tests' base image is copied over.
        save = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "-H", self.docker_host, "load"], stdin=save.stdout, capture_output=True, text=True, timeout=120)
        save.stdout.close()
        assert save.wait(60) == 0 and load.returncode == 0, f"copying {BASE_IMAGE} to the second engine: {load.stderr}"
        self.host_key = self.root / "ssh_host_ed25519_key"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.tag, "-f", str(self.host_key))
        self.start_sshd()
        return self

    def in_namespace(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return run("ip", "netns", "exec", self.namespace, *args, check=check, timeout=timeout)

    def start_dockerd(self) -> None:
        log = open(self.root / "dockerd.log", "ab")
        bridge = f"172.{30 + secrets.randbelow(2)}.{secrets.randbelow(256)}.1/24"
        self.dockerd = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, "unshare", "-m", "--propagation", "private",
             "python3", str(HERE / "netns_dockerd.py"), str(self.root), bridge],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def ready() -> bool:
            if self.dockerd.poll() is not None:
                raise AssertionError(f"the second dockerd exited: {(self.root / 'dockerd.log').read_text()[-2000:]}")
            try:
                return self.docker("info", "--format", "{{.ID}}", check=False, timeout=10).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        wait_until(ready, 90, "the second host's dockerd", interval=0.2)

    def stop_dockerd(self) -> None:
        """Stops the second engine (`kill`, not `kill -9`: a killed dockerd leaves its containerd
        behind in the private mount namespace, where the next dockerd cannot reach it), and
        whatever else of it is left in the namespace; sshd stays."""
        if self.dockerd is not None and self.dockerd.poll() is None:
            self.dockerd.terminate()
            try:
                self.dockerd.wait(60)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait(10)
        for pid in namespace_pids(self.namespace):
            if pid != self.sshd_pid:
                kill_and_wait(pid, 5)
        pid_file = self.root / "dockerd.pid"
        if pid_file.exists():
            pid_file.unlink()

    def start_sshd(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = self.root / "sshd_config"
        config.write_text(
            f"ListenAddress {self.address}\nPort 22\nHostKey {self.host_key}\nAuthorizedKeysFile {self.authorized_keys}\n"
            f"PidFile {self.root / 'sshd.pid'}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"UsePAM no\nPermitRootLogin prohibit-password\nSetEnv DOCKER_HOST={self.docker_host}\n")
        pid_file = self.root / "sshd.pid"
        if pid_file.exists():
            pid_file.unlink()
        self.in_namespace("/usr/sbin/sshd", "-f", str(config), "-E", str(self.root / "sshd.log"))
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip().isdigit(), 10, "sshd's pid file")
        self.sshd_pid = int(pid_file.read_text())

        def listening() -> bool:
            try:
                with socket.create_connection((self.address, 22), timeout=1):
                    return True
            except OSError:
                return False
        wait_until(listening, 10, f"sshd on {self.address}:22")

    def authorize(self, public_key: str) -> None:
        with open(self.authorized_keys, "a") as f:
            f.write(public_key.strip() + "\n")

    def change_host_key(self) -> None:
        """A reinstalled server: a new host key, sshd restarted with it."""
        kill_and_wait(self.sshd_pid)
        self.host_key.unlink()
        Path(str(self.host_key) + ".pub").unlink()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.tag + "-new", "-f", str(self.host_key))
        self.start_sshd()

    def containers(self) -> list[str]:
        out = self.docker("ps", "-a", "--format", "{{.Names}}", check=False, timeout=20)
        return out.stdout.split() if out.returncode == 0 else []

    def close(self) -> None:
        problems = []
        if self.sshd_pid:
            kill_and_wait(self.sshd_pid)
        if self.dockerd is not None and self.dockerd.poll() is None:
            # Containers first, so dockerd's stop does not wait out their grace periods.
            ids = self.docker("ps", "-aq", check=False, timeout=20).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
            self.dockerd.terminate()
            try:
                self.dockerd.wait(30)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait(10)
        for pid in namespace_pids(self.namespace):
            kill_and_wait(pid, 5)
        if run("ip", "link", "del", self.host_link, check=False).returncode != 0 and link_exists(self.host_link):
            problems.append(f"cannot delete {self.host_link}")
        if run("ip", "netns", "del", self.namespace, check=False).returncode != 0 and self.namespace in namespaces():
            problems.append(f"cannot delete the namespace {self.namespace}")
        shutil.rmtree(self.root, ignore_errors=True)
        assert not problems, "; ".join(problems)


def namespaces() -> list[str]:
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def namespace_pids(namespace: str) -> list[int]:
    out = run("ip", "netns", "pids", namespace, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def link_exists(name: str) -> bool:
    return run("ip", "link", "show", name, check=False).returncode == 0


def remove_leftovers() -> list[str]:
    """Namespaces and links this module made in a run that was killed; nothing else is touched."""
    removed = []
    for namespace in namespaces():
        if not namespace.startswith(NAMESPACE_PREFIX):
            continue
        for pid in namespace_pids(namespace):
            kill_and_wait(pid, 5)
        link = "slwt" + namespace[len(NAMESPACE_PREFIX):] + "-h"
        if link_exists(link):
            run("ip", "link", "del", link, check=False)
        run("ip", "netns", "del", namespace, check=False)
        removed.append(namespace)
    return removed
