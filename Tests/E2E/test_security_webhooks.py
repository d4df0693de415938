"""End-to-end tests of the webhook endpoint and the app ports under abuse (issue 11, items 2,
3, 4, 6 and 10): what anyone on the internet can make the server do must cost it O(1) and stay
bounded, and a delivery with a valid signature is never refused for it.

The real binary, real git and the real Docker engine. Each test starts its own server with the
flags it needs, makes its own apps and deletes them; containers and images carry
slipway.test=1 and this module's app prefix, and the module's teardown removes any left over.
"""

from __future__ import annotations

import re
import secrets
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import RawConnection, SlipwayServer, assert_json_error, start_server, tail
from deploykit import Api, free_port_range, poll, remove_docker_objects, server_flags, wait_serving
from githubhooks import GitHub, commit_json, encode, ping_payload, push_payload, sign256
from gitrepo import GitRepo, web_app

# A range of its own, so app ports never collide with other modules' servers.
APP_PORTS = (40000, 44999)


@pytest.fixture(scope="module")
def prefix():
    value = f"s{secrets.token_hex(3)}-"
    yield value
    problems = remove_docker_objects(value)
    assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


def serve(tmp_path: Path, *extra: str, ports: int = 2, log_name: str = "server", data_dir: Path | None = None):
    low, high = free_port_range(ports, APP_PORTS)
    return start_server(tmp_path, data_dir=data_dir, extra_args=server_flags(low, high, allow_local=True, extra=extra),
                        log_name=log_name)


def stop(server) -> None:
    if server.proc.poll() is None:
        server.assert_clean_stop()
    else:
        raise AssertionError(f"server died with {server.proc.returncode}; stderr tail:\n{tail(server.stderr_text())}")


def new_app(api: Api, tmp_path: Path, name: str, deploy: bool = False) -> tuple[dict, GitRepo]:
    repo = GitRepo.create(tmp_path / "repos" / name, web_app("v1"), message="v1: first version")
    created = api.create(name, repo.url, deploy=deploy)
    return created, repo


@dataclass
class Hosted:
    """A server of this module's own, and one app on it with its repository and a GitHub sender."""
    server: SlipwayServer
    api: Api
    name: str
    app: dict
    repo: GitRepo
    gh: GitHub


@contextmanager
def hosted(tmp_path: Path, name: str, *flags: str, ports: int = 2, deploy: bool = False):
    """Starts a server with `flags` and makes app `name` on it; afterwards deletes the app and stops the server."""
    server = serve(tmp_path, *flags, ports=ports)
    try:
        api = Api(server)
        app, repo = new_app(api, tmp_path, name, deploy=deploy)
        yield Hosted(server, api, name, app, repo, GitHub(server, name, app["webhook_secret"]))
        api.delete(name)
    finally:
        stop(server)


def stored_deliveries(server, app_name: str, where: str = "1") -> int:
    """Rows in webhook_deliveries for the app, read from the database itself."""
    with closing(sqlite3.connect(server.data_dir / "slipway.db", timeout=10)) as db:
        row = db.execute(f"SELECT count(*) FROM webhook_deliveries d JOIN apps a ON a.id = d.app_id WHERE a.name = ? AND ({where})",
                         (app_name,)).fetchone()
        return row[0]


# --- Item 2: refusals cost O(1) and are never stored --------------------------------------------


def test_bad_signatures_are_counted_in_memory_and_never_written(tmp_path, prefix):
    with hosted(tmp_path, prefix + "memory") as h:
        server, api, name, created = h.server, h.api, h.name, h.app
        gh = h.gh
        body, ctype = encode(ping_payload(name, created["webhook_url"]), "json")
        ids = []
        for i in range(12):
            d = gh.send("ping", body, ctype, secret=secrets.token_hex(16)) if i % 2 else gh.send("ping", body, ctype, sign=False)
            assert d.resp.status == 401, d.describe()
            assert_json_error(d.resp, 401)
            ids.append(d.id)
        assert stored_deliveries(server, name) == 0, "a delivery refused for its signature was written to the database"

        # Still visible: the API lists the sample beside the stored deliveries, newest first.
        history = api.deliveries(name)
        assert [h["delivery_id"] for h in history] == list(reversed(ids)), history
        assert {h["result"] for h in history} == {"rejected: invalid signature", "rejected: missing signature"}, history

        # A signed delivery is stored as before.
        ok = gh.send("ping", body, ctype)
        assert ok.resp.status == 200, ok.describe()
        poll(lambda: (stored_deliveries(server, name) == 1, stored_deliveries(server, name)), 10, "the signed ping to be stored")
        assert api.deliveries(name)[0]["delivery_id"] == ok.id


def test_a_flood_of_bad_signatures_is_throttled_and_valid_deliveries_still_pass(tmp_path, prefix):
    with hosted(tmp_path, prefix + "flood") as h:
        server, name, created = h.server, h.name, h.app
        gh = h.gh
        body, ctype = encode(ping_payload(name, created["webhook_url"]), "json")

        # One address's budget of refusals is answered 401; past it, 429 with Retry-After, each
        # answer held back half a second (a flood then runs at the pace of its connections).
        statuses = [gh.send("ping", body, ctype, secret="wrong").resp for _ in range(33)]
        codes = [r.status for r in statuses]
        assert codes[:30] == [401] * 30, codes
        assert set(codes[30:]) == {429}, codes
        throttled = statuses[-1]
        assert_json_error(throttled, 429)
        assert int(throttled.headers["retry-after"]) >= 1, throttled.headers

        # The same address, throttled, still gets every delivery with a valid signature through.
        for _ in range(5):
            d = gh.send("ping", body, ctype)
            assert d.resp.status == 200, d.describe()

        # And while 50 connections flood it with bad signatures, valid pushes are acknowledged.
        stop_flood = threading.Event()
        flood_answers: list[int] = []

        def flood() -> None:
            forged = sign256("not the secret", body)
            request = (f"POST /hooks/github/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"X-GitHub-Event: ping\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: {forged}\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            deadline = time.monotonic() + 20
            with RawConnection(server.port) as conn:
                while not stop_flood.is_set() and time.monotonic() < deadline:
                    conn.send(request)
                    flood_answers.append(conn.read_response(timeout=10).status)

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(50)]
        for t in threads:
            t.start()
        try:
            # Each of the 50 connections is answered once per half second at most.
            poll(lambda: (len(flood_answers) >= 100, len(flood_answers)), 20, "the flood to be under way")
            valid = [gh.send("ping", body, ctype) for _ in range(20)]
        finally:
            stop_flood.set()
            for t in threads:
                t.join(15)
        assert all(d.resp.status == 200 for d in valid), [d.describe() for d in valid if d.resp.status != 200]
        assert set(flood_answers) == {429}, sorted(set(flood_answers))
        assert stored_deliveries(server, name, "kind = 'rejected'") == 0


# --- Item 3: history is bounded -------------------------------------------------------------------


def test_delivery_history_keeps_the_newest_n_per_app_without_a_deployment(tmp_path, prefix):
    data = tmp_path / "data"
    server = serve(tmp_path, "--keep-deliveries", "10", data_dir=data)
    name = prefix + "history"
    try:
        api = Api(server)
        created, repo = new_app(api, tmp_path, name)
        gh = GitHub(server, name, created["webhook_secret"])
        # Tag pushes are signed and ignored: each is a stored row without a deployment.
        ids = []
        for i in range(120):
            payload = push_payload(name, f"refs/tags/v{i}", repo.head(), repo.head(), [commit_json(repo, repo.head(), name)])
            d = gh.deliver("push", payload)
            assert d.resp.status == 200, d.describe()
            ids.append(d.id)
        # Pruned off the request path, once an app has 50 rows more than it keeps.
        unlinked = "d.deployment_id IS NULL"
        poll(lambda: ((n := stored_deliveries(server, name, unlinked)) <= 10 + 50, n), 20, "the history to be pruned")
        stop(server)

        # A start prunes every app to exactly what it keeps: the newest ten.
        server = serve(tmp_path, "--keep-deliveries", "10", data_dir=data, log_name="again")
        poll(lambda: ((n := stored_deliveries(server, name, unlinked)) == 10, n), 20, "the start-up prune")
        kept = [h["delivery_id"] for h in Api(server).deliveries(name)]
        assert kept == list(reversed(ids))[:10], kept
        Api(server).delete(name)
    finally:
        stop(server)


# --- Item 4: nothing read before it is checked ----------------------------------------------------


def head_only(name: str, headers: dict[str, str], length: int = 20 * 1024 * 1024) -> bytes:
    lines = [f"POST /hooks/github/{name} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_deliveries_are_refused_on_their_head_before_a_byte_of_body_is_read(tmp_path, prefix):
    with hosted(tmp_path, prefix + "heads") as h:
        server, name = h.server, h.name
        full = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": "sha256=" + "0" * 64}
        cases = [
            ("an unknown app", "nobody-here", full, 404, "not_found"),
            ("no signature", name, {k: v for k, v in full.items() if k != "X-Hub-Signature-256"}, 401, "invalid_signature"),
            ("no event", name, {k: v for k, v in full.items() if k != "X-GitHub-Event"}, 400, "bad_request"),
            ("no delivery id", name, {k: v for k, v in full.items() if k != "X-GitHub-Delivery"}, 400, "bad_request"),
            ("another content type", name, {**full, "Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ]
        for what, app, headers, status, code in cases:
            # 20 MiB announced and none sent: the answer comes without waiting for the body
            # (which would end in the 1 s body timeout's 408).
            with RawConnection(server.port, timeout=3) as conn:
                conn.send(head_only(app, headers))
                resp = conn.read_response(timeout=3)
                assert resp.status == status, f"{what}: {resp.status} {resp.body[:200]!r}"
                assert assert_json_error(resp, status)["code"] == code, what
                assert resp.says_close, f"{what}: the unread body leaves the connection unusable, so it must close"


def test_the_webhook_body_limit_and_the_memory_for_bodies_in_flight_are_flags(tmp_path, prefix):
    with hosted(tmp_path, prefix + "bodies", "--webhook-body-limit", "64k", "--max-body-memory", "1m") as h:
        server, name, created = h.server, h.name, h.app
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "ping", "X-GitHub-Delivery": str(uuid.uuid4()),
                   "X-Hub-Signature-256": "sha256=" + "0" * 64}
        # Over the webhook limit: 413 before the body.
        with RawConnection(server.port, timeout=3) as conn:
            conn.send(head_only(name, headers, length=65 * 1024))
            resp = conn.read_response(timeout=3)
            assert resp.status == 413, resp.body
            assert "65536" in resp.json()["error"]["message"], resp.body

        # Under the limit, but the server-wide memory for bodies is taken by slow senders:
        # a further body is 503 at once, and is accepted again once they are gone.
        gh = GitHub(server, name, created["webhook_secret"])
        body, ctype = encode(ping_payload(name, created["webhook_url"]) | {"pad": "x" * 60_000}, "json")
        # 16 senders of 64 KiB bodies hold the whole megabyte: each sends a byte every 0.1 s,
        # well within the 1 s body timeout, so none of them ends.
        def slow_sender() -> RawConnection:
            conn = RawConnection(server.port, timeout=5)
            conn.send(head_only(name, {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}, length=64 * 1024) + b"{")
            return conn

        slow = [slow_sender() for _ in range(16)]
        replaced: list[str] = []
        done = threading.Event()

        def trickle() -> None:
            while not done.wait(0.1):
                for i, conn in enumerate(slow):
                    # The server reads the senders' heads while the first probes go out: a probe
                    # can take the last 64 KiB before the 16th sender, which is then refused. Such
                    # a sender is opened again, so the 16 come to hold the megabyte.
                    seen = answered([conn])
                    if seen:
                        replaced.append(f"#{i}: {seen[0]}")
                        conn.close()
                        slow[i] = conn = slow_sender()
                    conn.send(b" ")

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        try:
            last: list = []

            def probe():
                last[:] = [gh.send("ping", body, ctype)]
                return last[0].resp.status == 503, f"{last[0].describe()}; slow senders answered and opened again: {replaced}"

            poll(probe, 30, "a body to be refused while the memory for bodies is taken")
            refused = last[0]
            assert_json_error(refused.resp, 503)
            assert refused.resp.headers.get("retry-after") == "1", refused.resp.headers
        finally:
            done.set()
            trickler.join(5)
            for conn in slow:
                conn.close()
        poll(lambda: ((d := gh.send("ping", body, ctype)).resp.status == 200, d.describe()), 10,
             "bodies to be read again once the slow senders are gone")


def answered(conns: list[RawConnection]) -> list[str]:
    """What the server has sent on each of `conns` that it should still be reading (nothing, if all is well)."""
    seen = []
    for i, conn in enumerate(conns):
        conn.sock.setblocking(False)
        try:
            data = conn.sock.recv(200)
            seen.append(f"#{i}: {data[:120]!r}" if data else f"#{i}: closed")
        except BlockingIOError:
            pass
        except OSError as exc:
            seen.append(f"#{i}: {exc}")
        finally:
            conn.sock.settimeout(conn.timeout)
    return seen


# --- Item 6: replay -------------------------------------------------------------------------------


def test_a_replayed_push_of_an_older_commit_is_skipped_and_the_live_version_stays(tmp_path, prefix):
    with hosted(tmp_path, prefix + "replay", ports=1) as h:
        api, name, created = h.api, h.name, h.app
        gh = h.gh
        repo = h.repo
        port = created["port"]

        def push(version: str):
            before = repo.head()
            repo.commit(web_app(version), message=f"{version}: next version")
            payload = push_payload(name, "refs/heads/main", before, repo.head(), [commit_json(repo, repo.head(), name)])
            d = gh.deliver("push", payload)
            assert d.resp.status == 202, d.describe()
            return d, api.finish(d.json()["deployment_id"])

        first, _ = push("v2")
        second, live = push("v3")
        wait_serving(port, "v3")

        # The first push captured and sent again with a fresh delivery id: correctly signed, but
        # its commit is no longer the branch's tip.
        replay = gh.send("push", first.body, "application/json")
        assert replay.resp.status == 202, replay.describe()
        skipped = api.wait_deployment(replay.json()["deployment_id"])
        assert skipped["status"] == "skipped", api.describe(skipped)
        assert "no longer the tip" in (skipped["error"] or ""), skipped
        assert api.app(name)["live_deployment_id"] == live["id"]
        wait_serving(port, "v3")
        assert "skipped" in api.log(skipped["id"])

        # The same capture without a delivery id is refused outright.
        no_id = gh.send("push", first.body, "application/json", delivery="")
        assert no_id.resp.status == 400 and "X-GitHub-Delivery" in no_id.resp.body.decode(), no_id.describe()


# --- Item 10: app ports --------------------------------------------------------------------------


def server_threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def test_app_ports_cap_their_connections(tmp_path, prefix):
    with hosted(tmp_path, prefix + "cap", "--max-app-connections", "3", ports=1, deploy=True) as h:
        api, created = h.api, h.app
        port = created["port"]
        api.finish(created["deployment_id"])
        wait_serving(port, "v1")

        # Three connections held open (the upstream waits for their requests): a fourth is 503.
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        try:
            def fourth():
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    return s.recv(4096)
            answer = poll(lambda: ((a := fourth()).startswith(b"HTTP/1.1 503"), a), 10, "the fourth connection to be refused")
            assert b"limit" in answer, answer
        finally:
            for s in held:
                s.close()
        wait_serving(port, "v1")


def test_app_ports_bound_their_threads_and_the_descriptor_limit_is_raised(tmp_path, prefix):
    with hosted(tmp_path, prefix + "threads", ports=1) as h:
        server = h.server
        # The descriptor limit is raised to the hard limit, and the log says the figure.
        limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
        soft, hard = re.search(r"Max open files\s+(\S+)\s+(\S+)", limits).groups()
        assert soft == hard, limits
        assert f"open file descriptor limit: {soft}" in server.stderr_text(), tail(server.stderr_text())

        # An app not deployed yet answers 503 itself; hundreds of clients that never read their
        # answer hold a bounded number of the server's threads, not one each.
        port = h.app["port"]
        baseline = server_threads(server.proc.pid)
        clients = []
        try:
            for _ in range(300):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", port))
                clients.append(c)
            peak = baseline
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                peak = max(peak, server_threads(server.proc.pid))
        finally:
            for c in clients:
                c.close()
        assert peak <= baseline + 40, f"threads went from {baseline} to {peak} for 300 connections to an app with nothing deployed"
