"""What the run needs before it starts: the binary, a Docker engine that answers, the test base
image, and wrk, webhook and nginx (installed from Debian when missing and running as root)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gitrepo import BASE_IMAGE

from .harness import BenchError, log, run
from .settings import SLIPWAY_BIN


def ensure_tools() -> dict[str, str]:
    """wrk, webhook and nginx (with its stream module) from Debian, installed when missing and root."""
    needed = {"wrk": "wrk", "webhook": "webhook", "nginx": "nginx"}
    missing = [pkg for tool, pkg in needed.items() if not shutil.which(tool)]
    if shutil.which("nginx") and not Path("/usr/lib/nginx/modules/ngx_stream_module.so").exists():
        if "with-stream=dynamic" in run(["nginx", "-V"], check=False).stderr.decode():
            missing.append("libnginx-mod-stream")
    elif "nginx" in missing:
        missing.append("libnginx-mod-stream")
    for tool in ("git", "docker", "curl", "sqlite3", "bash"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is not installed (scripts/test-env.sh installs the test prerequisites)")
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise BenchError(f"missing Debian packages: {' '.join(missing)}; install them with "
                             f"apt-get install -y --no-install-recommends {' '.join(missing)}")
        log(f"installing {' '.join(missing)} with apt-get")
        # No package's service may start (nginx's would listen on port 80): a temporary policy-rc.d
        # says no, unless the machine already has one.
        policy = Path("/usr/sbin/policy-rc.d")
        made_policy = not policy.exists()
        if made_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            if run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=False, timeout=600, env=env).returncode != 0:
                run(["apt-get", "update", "-qq"], timeout=600, env=env)
                run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], timeout=600, env=env)
        finally:
            if made_policy:
                policy.unlink()
    return {}


def preflight() -> None:
    if not SLIPWAY_BIN.is_file():
        raise BenchError(f"no slipway binary at {SLIPWAY_BIN}; build it with `swift build -c release` (or run `make bench`)")
    if run(["docker", "info"], check=False, timeout=60).returncode != 0:
        raise BenchError("the Docker engine is not answering (scripts/test-env.sh starts it)")
    if run(["docker", "image", "inspect", BASE_IMAGE], check=False).returncode != 0:
        raise BenchError(f"the base image {BASE_IMAGE} is missing (scripts/test-env.sh builds it)")
    ensure_tools()
