"""A git server on 127.0.0.1 for git's dumb HTTP protocol, for the tests of private repositories
and of git's hardening: Basic auth with a token, redirects, and a record of every request."""

from __future__ import annotations

import base64
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

from conftest import HOST
from gitrepo import GitRepo, run_git


class GitHttpServer:
    """Serves bare repositories under `root` over http on 127.0.0.1.

    With a `token`, only requests carrying `Authorization: Basic base64("x-access-token:" + token)`
    are served (others get 401). `redirects` maps a path prefix to another: a request under it is
    answered 301 to the same path under the other. Every request is recorded, with whether it
    was authorized.
    """

    def __init__(self, root: Path, token: Optional[str] = None, redirects: Optional[dict[str, str]] = None):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.expected = None if token is None else "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.redirects = redirects or {}
        self.requests: list[tuple[str, bool]] = []  # (path, authorized)
        self._lock = threading.Lock()
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(outer.root), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _may_serve(self) -> bool:
                """False when the request was answered here instead: a redirect, or a 401."""
                ok = outer.expected is None or self.headers.get("Authorization") == outer.expected
                with outer._lock:
                    outer.requests.append((self.path, ok))
                for prefix, target in outer.redirects.items():
                    if self.path.startswith(prefix):
                        self._reply(301, {"Location": target + self.path[len(prefix):]})
                        return False
                if not ok:
                    self._reply(401, {"WWW-Authenticate": 'Basic realm="x"', "Content-Type": "text/plain"},
                                b"authentication required\n")
                return ok

            def do_GET(self) -> None:
                if self._may_serve():
                    super().do_GET()

            def do_HEAD(self) -> None:
                if self._may_serve():
                    super().do_HEAD()

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def add(self, source: GitRepo, rel: str) -> Path:
        """A bare clone of `source` at root/rel, with the files the dumb protocol reads."""
        bare = self.root / rel
        bare.parent.mkdir(parents=True, exist_ok=True)
        run_git(bare.parent, "clone", "-q", "--bare", str(source.path), str(bare))
        run_git(bare, "update-server-info")
        return bare

    def url(self, rel: str) -> str:
        return f"http://{HOST}:{self.port}/{rel}"

    def seen(self) -> list[tuple[str, bool]]:
        with self._lock:
            return list(self.requests)

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen()]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
