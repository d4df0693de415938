"""Servers reached over SSH, through the real binary, against a real second host built on this
machine (secondhost.py: a network namespace with its own address, dockerd and sshd): adding one
(a key pair made for it, or a private key given), connecting (the host key pinned on the first
success, the engine's version, latency and free disk read through `docker -H ssh://`), a changed
host key refused, the Servers page, and removal.

Cleaning up: the second host is torn down at the end of the module (secondhost.remove_leftovers
first removes what a killed run left); the servers run on data directories of the tests' own.
"""

from __future__ import annotations

import http.client
import re
import secrets
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, poll, start_server
from dashboard_session import form_post, login, page
from deploykit import Api, containers, docker, end_of_test, free_port_range, server_flags
from gitrepo import GitRepo, web_app
from loopback import free_port
from secondhost import SecondHost, remove_leftovers
from test_upgrade import Load

_started: list = []


@pytest.fixture(scope="module")
def second():
    remove_leftovers()
    host = SecondHost().start()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def server(tmp_path):
    started = start_server(tmp_path, extra_args=["--app-ports", "off"])
    yield started
    if started.proc.poll() is None:
        started.assert_clean_stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def fingerprint(public_key_file: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(public_key_file)], capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def test_a_server_is_added_pinned_on_its_first_connection_and_a_changed_host_key_is_refused(server, second):
    api = Api(server)
    listed = api.expect(200, "GET", "/api/servers")
    assert listed[0]["name"] == "local" and listed[0]["builtin"] is True and listed[0]["state"] == "ready", listed

    # Bad input names the field.
    for body, field in [({"name": "h2", "ssh": "root@", "address": second.address}, "ssh"),
                        ({"name": "h2", "ssh": "root@host:99999", "address": second.address}, "ssh"),
                        ({"name": "h2", "ssh": "-oProxyCommand=x@host", "address": second.address}, "ssh"),
                        ({"name": "h2", "ssh": f"root@{second.address}", "address": f"{second.address}:22"}, "address"),
                        ({"name": "H 2", "ssh": f"root@{second.address}", "address": second.address}, "name"),
                        ({"name": "h2", "ssh": f"root@{second.address}", "address": second.address, "private_key": "nope"}, "private_key")]:
        resp = api.request("POST", "/api/servers", body)
        assert resp.status == 400 and resp.json()["error"]["code"] == f"invalid_{field}", (body, resp.status, resp.body)
    assert api.request("POST", "/api/servers", {"name": "local", "ssh": f"root@{second.address}", "address": second.address}).status == 409

    created = api.expect(201, "POST", "/api/servers", {"name": "h2", "ssh": f"root@{second.address}", "address": second.address})
    assert created["state"] == "pending" and created["public_key"].startswith("ssh-ed25519 "), created
    assert api.request("POST", "/api/servers", {"name": "h2", "ssh": f"root@{second.address}", "address": second.address}).status == 409
    files = server.data_dir / "servers" / "h2"
    assert mode(files) == 0o700 and mode(files / "id_ed25519") == 0o600
    assert "PRIVATE KEY" not in api.request("GET", "/api/servers/h2").body.decode()

    # Not authorized there yet: the answer says so, and nothing is pinned.
    refused = api.request("POST", "/api/servers/h2/connect")
    assert refused.status == 502, refused.body
    assert refused.json()["error"]["code"] == "server_unreachable" and "refused Slipway's key" in refused.json()["error"]["message"]
    assert refused.json()["server"]["state"] == "unreachable" and refused.json()["server"]["host_key"] is None

    second.authorize(created["public_key"])
    ready = api.expect(200, "POST", "/api/servers/h2/connect")
    assert ready["state"] == "ready" and ready["error"] is None, ready
    engine_version = second.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    assert ready["engine"]["version"] == engine_version, ready
    assert ready["engine"]["latency_ms"] > 0 and ready["engine"]["free_disk_bytes"] > 0, ready
    assert ready["host_key"] == fingerprint(Path(str(second.host_key) + ".pub")), "the pinned key is the second host's"
    assert mode(files / "known_hosts") == 0o600
    pinned = (files / "known_hosts").read_text()

    # A reinstalled server (a new host key) is refused, and the pinned key is kept.
    second.change_host_key()
    changed = api.request("POST", "/api/servers/h2/connect")
    assert changed.status == 502 and changed.json()["error"]["code"] == "host_key_changed", changed.body
    assert "another host key" in changed.json()["error"]["message"]
    assert (files / "known_hosts").read_text() == pinned, "never accepted silently"
    assert api.expect(200, "GET", "/api/servers/h2")["state"] == "host-key-changed"

    # Removed, and added again: the new key is pinned.
    assert api.request("DELETE", "/api/servers/local").status == 409
    assert api.request("DELETE", "/api/servers/nope").status == 404
    assert api.request("DELETE", "/api/servers/h2").status == 204
    assert not files.exists()
    again = api.expect(201, "POST", "/api/servers", {"name": "h2", "ssh": f"root@{second.address}:22", "address": second.address})
    second.authorize(again["public_key"])
    assert api.expect(200, "POST", "/api/servers/h2/connect")["host_key"] == fingerprint(Path(str(second.host_key) + ".pub"))
    assert api.request("DELETE", "/api/servers/h2").status == 204


def test_a_private_key_can_be_given_and_the_servers_page_adds_connects_and_removes(server, second, tmp_path):
    key = tmp_path / "given"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "given", "-f", str(key)], check=True)
    public = Path(str(key) + ".pub").read_text().split()[1]
    api = Api(server)
    created = api.expect(201, "POST", "/api/servers", {"name": "given", "ssh": f"root@{second.address}", "address": second.address,
                                                      "private_key": key.read_text()})
    assert created["public_key"].split()[1] == public, "the public half of the key given"
    second.authorize(created["public_key"])
    assert api.expect(200, "POST", "/api/servers/given/connect")["state"] == "ready"
    assert api.request("DELETE", "/api/servers/given").status == 204

    cookie = login(server)
    html = page(server, "/servers", cookie)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    assert 'data-server="local"' in html
    bad = form_post(server, "/servers", {"csrf": csrf, "name": "web", "ssh": "nobody", "address": second.address}, cookie)
    assert bad.status == 400 and b"ssh must be user@host" in bad.body, bad.body[-800:]
    added = form_post(server, "/servers", {"csrf": csrf, "name": "web", "ssh": f"root@{second.address}", "address": second.address}, cookie)
    assert added.status == 303, added.body[-500:]
    html = page(server, "/servers", cookie)
    key_shown = re.search(r'<pre class="public-key">([^<]+)</pre>', html)
    assert key_shown and 'data-server="web" data-state="pending"' in html, html[-3000:]
    second.authorize(key_shown.group(1).replace("&#43;", "+").replace("&#x2B;", "+"))
    assert form_post(server, "/servers/web/connect", {"csrf": csrf}, cookie).status == 303
    html = page(server, "/servers", cookie)
    assert 'data-server="web" data-state="ready"' in html, html[-3000:]
    assert "public-key" not in html, "the key is shown only until the server is connected"
    assert form_post(server, "/servers/web/delete", {"csrf": csrf}, cookie).status == 303
    assert 'data-server="web"' not in page(server, "/servers", cookie)


def connected_server(api: Api, second: SecondHost, name: str) -> dict:
    created = api.expect(201, "POST", "/api/servers", {"name": name, "ssh": f"root@{second.address}", "address": second.address})
    second.authorize(created["public_key"])
    return api.expect(200, "POST", "/api/servers/{}/connect".format(name))


def body_at(port: int, host_header: str) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": host_header, "Connection": "close"})
        resp = conn.getresponse()
        return f"{resp.status} {resp.read().decode(errors='replace').strip()}"
    except OSError as error:
        return repr(error)
    finally:
        conn.close()


def local_containers(app: str) -> list[str]:
    return docker("ps", "--format", "{{.Names}}", "--filter", f"label=slipway.app={app}").split()


def app_containers(second: SecondHost, app: str, running_only: bool = True) -> list[str]:
    args = ["ps", "--format", "{{.Names}}", "--filter", f"label=slipway.app={app}"] + ([] if running_only else ["-a"])
    return second.docker(*args).stdout.split()


def test_an_app_on_the_second_host_is_served_redeployed_rolled_back_and_moved_without_a_failed_request(tmp_path, second):
    prefix = f"s{secrets.token_hex(3)}-"
    low, high = free_port_range(3, (36000, 36999))
    edge_port = free_port()
    server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True, extra=("--http-port", str(edge_port),
                                                                                               "--drain-timeout", "2")))
    _started.append(server)
    try:
        api = Api(server)
        connected_server(api, second, "h2")
        repo = GitRepo.create(tmp_path / "repo", web_app("v1"))
        name = prefix + "remote"
        created = api.create(name, repo.url, server="h2", domains=["remote.test"])
        first = api.finish(created["deployment_id"], why="the first deployment, on the second host")
        assert first["server"] == "h2", first
        assert app_containers(second, name) == [f"slipway-{name}-{first['id']}"], "the container runs on the second host"
        assert containers(f"slipway.app={name}") == [], "and not here"
        app_port = api.app(name)["port"]
        assert body_at(app_port, "x") == "200 v1" and body_at(edge_port, "remote.test") == "200 v1"
        log = api.log(first["id"])
        assert f"published on {second.address}" in log and f"health check: GET / on {second.address}:" in log, log

        # A local app beside it, which the second host's troubles must not touch.
        local_repo = GitRepo.create(tmp_path / "local", web_app("here"))
        local = api.create(prefix + "local", local_repo.url)
        api.finish(local["deployment_id"], why="a local app")
        local_port = api.app(prefix + "local")["port"]

        loads = [Load(app_port, f"{HOST}:{app_port}", "v1"), Load(edge_port, "remote.test", "v1")]
        for load in loads:
            load.start()

        try:
            # Redeploy a new commit on the second host under load: no request fails (answers are
            # v1 until the swap, v2 after it; both count as the app's).
            for load in loads:
                load.accepted = {"v1", "v2"}
            repo.commit(web_app("v2"), "v2")
            second_dep = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments", {})["id"], why="v2 on the second host")
            poll(lambda: (body_at(app_port, "x") == "200 v2", body_at(app_port, "x")), 10, "v2 on the app port")
            # Rollback: the image kept on the second host, no build.
            back = api.expect(202, "POST", f"/api/apps/{name}/rollback", {})
            back = api.finish(back["id"], why="a rollback on the second host")
            assert back["server"] == "h2" and "reusing image" in api.log(back["id"]), api.log(back["id"])
            poll(lambda: (body_at(edge_port, "remote.test") == "200 v1", body_at(edge_port, "remote.test")), 10, "v1 at the edge after the rollback")

            # Move to this machine, and back, with the load on.
            api.expect(200, "PATCH", f"/api/apps/{name}", {"server": "local"})
            moved = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments", {})["id"], why="the move to local")
            assert moved["server"] == "local" and "moved from h2 to local" in api.log(moved["id"]), api.log(moved["id"])
            poll(lambda: (app_containers(second, name) == [], app_containers(second, name)), 30,
                 "the second host's container to stop once the drain is over")
            assert local_containers(name) == [f"slipway-{name}-{moved['id']}"]
            api.expect(200, "PATCH", f"/api/apps/{name}", {"server": "h2"})
            home = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments", {})["id"], why="the move back to h2")
            assert home["server"] == "h2"
            poll(lambda: (local_containers(name) == [], local_containers(name)), 30, "the local container to stop")
        finally:
            for load in loads:
                load.stop()
        for load in loads:
            assert load.ok > 50, (load.port, load.ok)
            assert load.failures == [], f"{len(load.failures)} failed on port {load.port}: {load.failures[:5]}"

        # The second engine dies: its apps are unknown (not crashed), local ones unaffected.
        second.stop_dockerd()
        poll(lambda: (api.app(name)["status"] == "unknown", api.app(name)["status"]), 30, "the remote app to be unknown")
        assert api.app(prefix + "local")["status"] == "running" and body_at(local_port, "x") == "200 here"
        # It comes back: Docker restarts the container (--restart unless-stopped), and the app is reconciled.
        second.start_dockerd()
        poll(lambda: (api.app(name)["status"] == "running", api.app(name)["status"]), 90, "the remote app to run again")
        # (The move back deployed the branch's tip again: v2.)
        poll(lambda: (body_at(app_port, "x") == "200 v2", body_at(app_port, "x")), 30, "the app port to serve again")

        # Deleting the app removes its containers and images on the second host; then the server can go.
        assert api.request("DELETE", "/api/servers/h2").status == 409, "a server with apps stays"
        api.delete(name)
        assert app_containers(second, name, running_only=False) == []
        assert second.docker("images", "--filter", f"label=slipway.app={name}", "-q").stdout.strip() == ""
        assert api.request("DELETE", "/api/servers/h2").status == 204
    finally:
        end_of_test(prefix, _started)
