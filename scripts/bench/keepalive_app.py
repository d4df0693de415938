"""The keep-alive test app of benchmarks 3 and 5: scripts/bench-keepalive-server.c, compiled
statically and copied into an image FROM the test base image. busybox httpd, the end-to-end
tests' app, closes every connection after one response, so it cannot show what a kept-alive
connection does."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitrepo import BASE_IMAGE, GitRepo

from .harness import BenchError, Context, run
from .settings import KEEPALIVE_SOURCE


KEEPALIVE_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
COPY server /server
COPY index.html /www/index.html
EXPOSE 5000
CMD ["/server", "5000", "/www/index.html"]
"""


def keepalive_server(ctx: Context) -> Path:
    """Compiles scripts/bench-keepalive-server.c statically (once per run)."""
    if ctx.keepalive_server is None:
        binary = ctx.work / "bench-keepalive-server"
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise BenchError("no C compiler (cc) to build scripts/bench-keepalive-server.c; apt-get install gcc libc6-dev")
        run([cc, "-O2", "-static", "-o", str(binary), str(KEEPALIVE_SOURCE)])
        ctx.keepalive_server = binary
    return ctx.keepalive_server


def keepalive_repo(ctx: Context, path: Path, body: str, big_mb: int = 0) -> GitRepo:
    """With `big_mb`, the image also holds /www/big.bin of that many MB, served at GET /big.bin."""
    path.mkdir(parents=True)
    shutil.copy2(keepalive_server(ctx), path / "server")
    dockerfile = KEEPALIVE_DOCKERFILE
    if big_mb:
        dockerfile = dockerfile.replace('CMD ["/server", "5000", "/www/index.html"]',
                                        f"RUN dd if=/dev/zero of=/www/big.bin bs=1048576 count={big_mb} 2>/dev/null\n"
                                        'CMD ["/server", "5000", "/www/index.html", "/www/big.bin"]')
    return GitRepo.create(path, {"Dockerfile": dockerfile, "index.html": body + "\n"})
