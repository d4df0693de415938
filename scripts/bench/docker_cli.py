"""The docker CLI: running it, removing what this run labelled, the client the run uses and the
builder it gets, and riding out an engine that someone else restarts."""

from __future__ import annotations

import time
from pathlib import Path

from .harness import BenchError, run
from .settings import TEST_LABEL


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    return run(["docker", *args], timeout=timeout, check=check).stdout.decode(errors="replace").strip()


def remove_labelled(labels: list[str]) -> list[str]:
    """Removes containers, then images, carrying every one of `labels` (at least two, one of them
    specific to this run or this Slipway instance, so the shared base image is never matched)."""
    assert len(labels) >= 2 and TEST_LABEL in labels, labels
    filters = [a for label in labels for a in ("--filter", f"label={label}")]
    problems = []
    ids = docker("ps", "-a", "-q", "--no-trunc", *filters, check=False).split()
    if ids:
        proc = run(["docker", "rm", "-f", "-v", *ids], check=False, timeout=180)
        if proc.returncode != 0:
            problems.append(proc.stderr.decode(errors="replace").strip())
    images = list(dict.fromkeys(docker("images", "-q", "--no-trunc", *filters, check=False).split()))
    for image in images:
        proc = run(["docker", "rmi", "-f", image], check=False, timeout=120)
        if proc.returncode != 0 and b"No such image" not in proc.stderr:
            problems.append(proc.stderr.decode(errors="replace").strip())
    return problems


def docker_went_away(text: str) -> bool:
    gone = ("Cannot connect to the Docker daemon", "Docker is unavailable", "the Docker engine is unavailable")
    return any(g in text for g in gone) or run(["docker", "info"], check=False, timeout=60).returncode != 0


def wait_for_docker(timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while run(["docker", "info"], check=False, timeout=60).returncode != 0:
        if time.monotonic() > deadline:
            raise BenchError(f"the Docker engine did not come back within {timeout:.0f}s")
        time.sleep(2)
    time.sleep(5)  # let it settle (containers with restart policies come back first)


# Debian's docker.io client (20.10) builds with BuildKit by itself; a newer client without the buildx
# plugin only has the classic builder. Both sides of benchmark 1 use the same client and builder.
DOCKER_CLIENT = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def client_builder(client: str) -> str:
    """The builder Slipway's --builder auto picks for this client (ImageBuilder.swift)."""
    if run([client, "buildx", "version"], check=False, timeout=30).returncode == 0:
        return "BuildKit"
    version = run([client, "version", "--format", "{{.Client.Version}}"], check=False, timeout=30).stdout.decode().strip()
    parts = [int("".join(ch for ch in p if ch.isdigit()) or -1) for p in version.split(".")[:2]]
    if len(parts) == 2 and ((parts[0] == 18 and parts[1] >= 9) or 19 <= parts[0] < 23):
        return "BuildKit"
    return "classic builder"
