"""Persistent volumes: an app's named Docker volumes keep their data through redeploys, rollbacks,
restarts, a container killed, and Slipway killed with -9 and started again; removing a volume from
the list keeps its data; deleting an app keeps its volumes unless asked, and a volume left behind
is listed and deleted on request.

The test app (busybox) writes `/data/first` on its first start only (the index it was built
with) and appends a line to `/data/boots` at each start, and serves /data under /www/data.

Cleaning up: the server runs with `--container-label slipway.test=1`, which Slipway puts on the
volumes it makes as on its containers; app names start with a prefix unique to this run, and
`remove_docker_objects` removes the containers, images and volumes of that prefix.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import start_server
from dashboard_session import form_post, login, page
from deploykit import (
    Api,
    docker,
    fetch,
    free_port_range,
    poll,
    end_of_test,
    server_flags,
    wait_serving,
)
from gitrepo import DOCKERFILE, GitRepo

APP_PORTS = (30000, 31999)

# Records its first start in the volume, and each start.
VOLUME_APP = DOCKERFILE.rpartition("CMD ")[0] + (
    'CMD ["sh", "-c", "[ -f /data/first ] || cp /www/index.html /data/first; echo boot >> /data/boots; '
    'ln -sfn /data /www/data; exec httpd -f -p 5000 -h /www"]\n')


def files(version: str) -> dict[str, str]:
    return {"Dockerfile": VOLUME_APP, "index.html": version + "\n"}


@pytest.fixture
def prefix():
    value = f"v{secrets.token_hex(3)}-"
    yield value
    end_of_test(value, _started)


_started: list = []


def serve(tmp_path: Path, data_dir: Path, low: int, high: int, log_name: str = "server"):
    """A server, killed at the end of the test if the test did not stop it (a failure)."""
    server = start_server(tmp_path, data_dir=data_dir, extra_args=server_flags(low, high, allow_local=True), log_name=log_name)
    _started.append(server)
    return server


def volume_labels(name: str) -> dict[str, str] | None:
    """The volume's labels; None when there is no such volume."""
    out = subprocess.run(["docker", "volume", "inspect", "--format", "{{json .Labels}}", "--", name],
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else None


def first_and_boots(port: int) -> tuple[str, int]:
    status, first = fetch(port, "/data/first")
    assert status == 200, (status, first)
    status, boots = fetch(port, "/data/boots")
    assert status == 200, (status, boots)
    return first, len(boots.split())


def test_a_volume_keeps_its_data_through_redeploys_rollbacks_restarts_and_crashes(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORTS)
    data_dir = tmp_path / "data"
    server = serve(tmp_path, data_dir, low, high)
    api = Api(server)
    name = prefix + "keep"
    repo = GitRepo.create(tmp_path / "repo", files("v1"), message="v1")
    created = api.create(name, repo.url, volumes=[{"name": "data", "path": "/data/"}])
    assert created["volumes"] == [{"name": "data", "path": "/data"}], created["volumes"]
    api.finish(created["deployment_id"], why="the first deployment")
    port = created["port"]
    wait_serving(port, "v1")
    volume = f"slipway-{name}-data"
    labels = volume_labels(volume)
    assert labels and labels.get("slipway.app") == name and labels.get("slipway.test") == "1", labels
    assert first_and_boots(port) == ("v1", 1)

    # A redeploy of a new version: the new container sees what the first one wrote.
    repo.commit(files("v2"), "v2")
    api.finish(api.expect(202, "POST", f"/api/apps/{name}/redeploy")["id"], why="the redeploy")
    wait_serving(port, "v2")
    first, boots = first_and_boots(port)
    assert first == "v1" and boots == 2, (first, boots)

    # A rollback, then a restart.
    api.finish(api.expect(202, "POST", f"/api/apps/{name}/rollback")["id"], why="the rollback")
    wait_serving(port, "v1")
    assert first_and_boots(port) == ("v1", 3)
    api.expect(200, "POST", f"/api/apps/{name}/restart")
    poll(lambda: ((fb := first_and_boots(port))[1] == 4, fb), 30, "the restarted container's boot")

    # The container removed behind Slipway's back: the supervisor makes it again, with the volume.
    live = api.app(name)["live_deployment_id"]
    docker("rm", "-f", f"slipway-{name}-{live}")
    poll(lambda: ((r := fetch_or_error(port)) == (200, "v1"), r), 60, "the app to be served again after its container was removed")
    assert first_and_boots(port) == ("v1", 5)

    # Slipway killed with -9 and started again: the data, and the app, are where they were.
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=30)
    server = serve(tmp_path, data_dir, low, high, log_name="after-kill")
    api = Api(server)
    wait_serving(port, "v1")
    first, boots = first_and_boots(port)
    assert first == "v1" and boots >= 5, (first, boots)
    assert api.app(name)["volumes"] == [{"name": "data", "path": "/data"}]
    server.assert_clean_stop()


def fetch_or_error(port: int):
    try:
        return fetch(port, "/")
    except OSError as exc:
        return repr(exc)


def test_volumes_are_checked_and_a_bad_list_stores_nothing(tmp_path, prefix):
    low, high = free_port_range(1, APP_PORTS)
    server = serve(tmp_path, tmp_path / "data", low, high)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", files("v1"), message="v1")
    name = prefix + "checks"
    api.create(name, repo.url, deploy=False, volumes=[{"name": "data", "path": "/data"}])
    for volumes, needle in [
        ([{"name": "data", "path": "relative/path"}], "absolute"),
        ([{"name": "/etc", "path": "/x"}], "not a volume name"),
        ([{"name": "data", "path": "/x/../etc"}], "'..'"),
        ([{"name": "data", "path": "/"}], "below /"),
        ([{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}], "more than once"),
        ([{"name": "a", "path": "/x"}, {"name": "b", "path": "/x/"}], "more than once"),
        ([{"name": "a", "path": "/x,readonly"}], "cannot carry"),
        ([{"name": "my-data", "path": "/x"}], "not a volume name"),
        ([{"name": "a", "path": "/x", "source": "/etc"}], "unknown field 'source'"),
        (["data:/x"], "array of objects"),
    ]:
        resp = api.request("PATCH", f"/api/apps/{name}", {"volumes": volumes})
        assert resp.status == 400, (volumes, resp.status, resp.body[:300])
        message = resp.json()["error"]["message"]
        assert "volumes" in message and needle in message, (volumes, message)
    assert api.app(name)["volumes"] == [{"name": "data", "path": "/data"}], "a refused list changes nothing"
    server.assert_clean_stop()


def test_a_volume_taken_off_or_left_by_a_deleted_app_keeps_its_data_until_deleted(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORTS)
    server = serve(tmp_path, tmp_path / "data", low, high)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", files("v1"), message="v1")
    kept, gone = prefix + "kept", prefix + "gone"
    for name in (kept, gone):
        created = api.create(name, repo.url, volumes=[{"name": "data", "path": "/data"}])
        api.finish(created["deployment_id"], why=f"{name}'s first deployment")
    kept_volume, gone_volume = f"slipway-{kept}-data", f"slipway-{gone}-data"
    assert api.expect(200, "GET", "/api/volumes") == [], "every volume is an app's"

    # Taken off the list: listed as left behind, data kept; put back, it is the app's again.
    api.expect(200, "PATCH", f"/api/apps/{kept}", {"volumes": []})
    left = api.expect(200, "GET", "/api/volumes")
    assert [(v["name"], v["app"]) for v in left] == [(kept_volume, kept)] and left[0]["size"], left
    resp = api.request("DELETE", f"/api/volumes/{prefix}nothing")
    assert resp.status == 404, resp.body[:200]
    api.expect(200, "PATCH", f"/api/apps/{kept}", {"volumes": [{"name": "data", "path": "/data"}]})
    assert api.expect(200, "GET", "/api/volumes") == []
    resp = api.request("DELETE", f"/api/volumes/{kept_volume}")
    assert resp.status == 409 and "take it off" in resp.json()["error"]["message"], resp.body[:300]

    # Deleting an app keeps its volumes unless asked.
    api.expect(204, "DELETE", f"/api/apps/{kept}")
    assert volume_labels(kept_volume) is not None, "the volume outlives its app"
    assert [v["name"] for v in api.expect(200, "GET", "/api/volumes")] == [kept_volume]
    resp = api.request("DELETE", f"/api/apps/{gone}?volumes=everything")
    assert resp.status == 400 and "volumes must be delete or keep" in resp.body.decode(), resp.body[:300]
    api.expect(204, "DELETE", f"/api/apps/{gone}?volumes=delete")
    assert volume_labels(gone_volume) is None, "deleted with its app, as asked"

    # A volume left behind is deleted on request, data and all.
    api.expect(204, "DELETE", f"/api/volumes/{kept_volume}")
    assert volume_labels(kept_volume) is None
    assert api.expect(200, "GET", "/api/volumes") == []
    server.assert_clean_stop()


def test_the_dashboard_sets_volumes_asks_before_deleting_their_data_and_lists_those_left(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORTS)
    server = serve(tmp_path, tmp_path / "data", low, high)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", files("v1"), message="v1")
    cookie = login(server)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page(server, "/deploy", cookie)).group(1)
    name = prefix + "web"
    # The deploy form takes one name:path per line; a bad line comes back beside the field.
    bad = form_post(server, "/deploy", {"csrf": csrf, "repo_url": repo.url, "name": name, "volumes": "data /data"}, cookie)
    assert bad.status == 400 and 'data-field="volumes"' in bad.body.decode(), bad.body[:300]
    assert api.request("GET", f"/api/apps/{name}").status == 404, "nothing stored"
    made = form_post(server, "/deploy", {"csrf": csrf, "repo_url": repo.url, "name": name, "volumes": "data:/data\nlogs:/var/log/app"}, cookie)
    assert made.status == 303, made.body[:300]
    app = api.app(name)
    assert app["volumes"] == [{"name": "data", "path": "/data"}, {"name": "logs", "path": "/var/log/app"}], app["volumes"]
    api.finish(api.deployments(name)[0]["id"], why="the first deployment")
    shown = page(server, f"/apps/{name}", cookie)
    assert "data:/data\nlogs:/var/log/app" in html.unescape(shown) and 'name="delete_volumes"' in shown

    # The settings form takes one off: its data is kept, and the Volumes page lists it.
    saved = form_post(server, f"/apps/{name}/settings", {"csrf": csrf, "repo_url": repo.url, "volumes": "data:/data"}, cookie)
    assert saved.status == 303, saved.body[:300]
    listed = page(server, "/volumes", cookie)
    assert f'data-volume="slipway-{name}-logs"' in listed and f'data-volume="slipway-{name}-data"' not in listed, listed[-1500:]

    # Deleting the app without the box ticked keeps the data volume too; the page then deletes each.
    assert form_post(server, f"/apps/{name}/delete", {"csrf": csrf}, cookie).status == 303
    listed = page(server, "/volumes", cookie)
    for volume in (f"slipway-{name}-data", f"slipway-{name}-logs"):
        assert f'data-volume="{volume}"' in listed, listed[-1500:]
        assert form_post(server, f"/volumes/{volume}/delete", {"csrf": csrf}, cookie).status == 303
        assert volume_labels(volume) is None
    assert 'id="no-volumes"' in page(server, "/volumes", cookie)

    # With the box ticked, the data goes with the app.
    other = prefix + "other"
    created = api.create(other, repo.url, volumes=[{"name": "data", "path": "/data"}])
    api.finish(created["deployment_id"], why=f"{other}'s first deployment")
    assert volume_labels(f"slipway-{other}-data") is not None
    assert form_post(server, f"/apps/{other}/delete", {"csrf": csrf, "delete_volumes": "1"}, cookie).status == 303
    assert volume_labels(f"slipway-{other}-data") is None
    server.assert_clean_stop()
