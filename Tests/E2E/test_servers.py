"""Servers reached over SSH, through the real binary, against a real second host built on this
machine (secondhost.py: a network namespace with its own address, dockerd and sshd): adding one
(a key pair made for it, or a private key given), connecting (the host key pinned on the first
success, the engine's version, latency and free disk read through `docker -H ssh://`), a changed
host key refused, the Servers page, and removal.

Cleaning up: the second host is torn down at the end of the module (secondhost.remove_leftovers
first removes what a killed run left); the servers run on data directories of the tests' own.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import start_server
from dashboard_session import form_post, login, page
from deploykit import Api
from secondhost import SecondHost, remove_leftovers

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
