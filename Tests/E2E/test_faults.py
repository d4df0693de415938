"""Fault injection: Slipway killed mid-deployment, the Docker engine restarted or missing,
the data directory's disk full, the git server gone, an app's container killed.

Some of these stop and restart the shared Docker engine, which would break any other test in
flight, so every test here carries the `faults` marker and conftest.py runs marked tests after
all the others. Each case is bounded in count and time and cleans up what it made.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import start_server
from deploykit import (
    IN_PROGRESS,
    Api,
    docker,
    free_port_range,
    poll,
    remove_docker_objects,
    server_flags,
    wait_serving,
)
from gitrepo import DumbHttpRemote, GitRepo, dockerfile_with_cmd, dockerfile_with_run, web_app
from test_volumes import files as volume_app, first_and_boots

pytestmark = pytest.mark.faults

DOCKERD_LOG = "/tmp/slipway-dockerd.log"
# test_pipeline.py's range, as before: the fault tests run after the pipeline tests, never beside them.
APP_PORT_RANGE = (20000, 29999)


# --- The Docker engine ----------------------------------------------------------------------


def docker_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def stop_dockerd() -> None:
    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=False)
    poll(lambda: (subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0, None), 60, "dockerd to exit")


def start_dockerd() -> None:
    """Starts dockerd as scripts/test-env.sh does, after removing a pid file a killed one left."""
    if subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0:
        Path("/var/run/docker.pid").unlink(missing_ok=True)
        with open(DOCKERD_LOG, "ab") as log:
            subprocess.Popen(["setsid", "dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    poll(lambda: (docker_up(), None), 90, "the Docker engine to answer")


@pytest.fixture
def engine_restored():
    """Whatever a test did to the engine, it is running again afterwards."""
    yield
    if not docker_up():
        start_dockerd()


# --- Helpers --------------------------------------------------------------------------------


_started: list = []


def launch(*args, **kwargs):
    """start_server, remembered so a failed test still stops every server it started."""
    server = start_server(*args, **kwargs)
    _started.append(server)
    return server


@pytest.fixture
def prefix():
    p = f"f{secrets.token_hex(3)}-"
    yield p
    while _started:
        proc = _started.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    remove_docker_objects(p)


def integrity_ok(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "slipway.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stuck = db.execute("SELECT id, status FROM deployments WHERE status IN "
                           "('queued','cloning','building','starting','checking')").fetchall()
    return stuck


def create_app(api: Api, name: str, repo: GitRepo | str) -> dict:
    url = repo if isinstance(repo, str) else repo.url
    app = api.expect(201, "POST", "/api/apps", {"repo_url": url, "name": name})
    dep = api.wait_deployment(app["deployment_id"], until={"succeeded"})
    return {"app": app, "deployment": dep}


# --- Slipway killed mid-deployment -------------------------------------------------------------


def test_sigkill_during_each_step_recovers(tmp_path, prefix):
    """kill -9 while a deployment clones, builds, starts or checks; after each restart the database
    is intact, nothing is left in progress, and the app serves its last live version."""
    low, high = free_port_range(4, APP_PORT_RANGE)
    flags = server_flags(low, high, allow_local=True)
    data = tmp_path / "data"
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"))
    server = launch(tmp_path, data_dir=data, extra_args=flags, log_name="run0")
    api = Api(server)
    name = prefix + "kill"
    port = create_app(api, name, repo)["app"]["port"]
    wait_serving(port, "v1")

    # A slow build and a slow start make each step long enough to be caught.
    slow = dockerfile_with_cmd('["sh", "-c", "sleep 3; exec httpd -f -p 5000 -h /www"]').replace(
        "COPY ", "RUN sleep 2\nCOPY ", 1)
    for round_, step in enumerate(["cloning", "building", "starting", "checking", "succeeded"], start=1):
        repo.commit({"Dockerfile": slow, "index.html": f"round {round_}\n"}, f"round {round_}")
        dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
        # Catch the step as early as it shows; a step that passed too quickly is caught at the next one.
        order = ["queued", "cloning", "building", "starting", "checking", "succeeded"]
        seen = poll(lambda: ((s := api.deployment(dep["id"])["status"]) in order[order.index(step):] or s in
                             {"failed", "cancelled"}, s), 60, f"deployment {dep['id']} to reach {step}", interval=0.02)
        server.proc.kill()
        server.proc.wait(timeout=10)
        stuck = integrity_ok(data)
        live_before = sqlite3.connect(data / "slipway.db").execute(
            "SELECT live_deployment_id FROM apps WHERE name = ?", (name,)).fetchone()[0]
        server = launch(tmp_path, data_dir=data, extra_args=flags, log_name=f"run{round_}")
        api = Api(server)
        status = api.deployment(dep["id"])["status"]
        assert status not in IN_PROGRESS, f"killed at {seen}: deployment {dep['id']} still {status}"
        assert stuck == [] or status == "interrupted", f"killed at {seen}: {stuck} → {status}"
        # Each version's commit message is also its body, so the live row says what must answer.
        expected = api.deployment(live_before)["commit_message"]
        wait_serving(port, expected)
        assert integrity_ok(data) == []
    api.expect(204, "DELETE", f"/api/apps/{name}")
    server.assert_clean_stop()


# --- An app's container killed ----------------------------------------------------------------


def test_killed_container_comes_back_by_itself(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = launch(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    api = Api(server)
    name = prefix + "crash"
    created = create_app(api, name, GitRepo.create(tmp_path / "repo", web_app("alive")))
    port = created["app"]["port"]
    wait_serving(port, "alive")
    container = f"slipway-{name}-{created['deployment']['id']}"
    pid = int(docker("inspect", "--format", "{{.State.Pid}}", container).strip())
    os.kill(pid, 9)
    # Docker's restart policy brings it back, maybe on another loopback port; Slipway follows.
    wait_serving(port, "alive", timeout=60)
    poll(lambda: ((s := api.app(name)["status"]) == "running", s), 30, "the app to be running again")
    api.expect(204, "DELETE", f"/api/apps/{name}")
    server.assert_clean_stop()


# --- The Docker engine restarted or missing -----------------------------------------------------


def test_engine_restart_mid_deployment(tmp_path, prefix, engine_restored):
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = launch(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    api = Api(server)
    name = prefix + "engine"
    repo = GitRepo.create(tmp_path / "repo", web_app("before"))
    port = create_app(api, name, repo)["app"]["port"]
    wait_serving(port, "before")
    repo.commit({"Dockerfile": dockerfile_with_run("sleep 20"), "index.html": "after\n"}, "slow")
    dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
    poll(lambda: ((s := api.deployment(dep["id"])["status"]) == "building", s), 60, "the build to start")
    stop_dockerd()
    final = api.wait_deployment(dep["id"], until={"failed", "interrupted"}, timeout=60)
    assert final["error"], final
    start_dockerd()
    # Every app serves again once the engine is back, without anyone acting.
    wait_serving(port, "before", timeout=90)
    poll(lambda: ((s := api.app(name)["status"]) == "running", s), 30, "the app to be running again")
    api.expect(204, "DELETE", f"/api/apps/{name}")
    server.assert_clean_stop()


def test_an_apps_volume_keeps_its_data_through_an_engine_restart(tmp_path, prefix, engine_restored):
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = launch(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    api = Api(server)
    name = prefix + "volume"
    repo = GitRepo.create(tmp_path / "repo", volume_app("kept"))
    app = api.expect(201, "POST", "/api/apps", {"repo_url": repo.url, "name": name, "volumes": [{"name": "data", "path": "/data"}]})
    api.wait_deployment(app["deployment_id"], until={"succeeded"})
    wait_serving(app["port"], "kept")
    assert first_and_boots(app["port"]) == ("kept", 1)
    stop_dockerd()
    start_dockerd()
    # Docker starts the container again (restart unless-stopped), with its volume.
    wait_serving(app["port"], "kept", timeout=90)
    first, boots = first_and_boots(app["port"])
    assert first == "kept" and boots == 2, (first, boots)
    api.expect(204, "DELETE", f"/api/apps/{name}?volumes=delete")
    server.assert_clean_stop()


def test_docker_unavailable_at_start_up(tmp_path, prefix, engine_restored):
    low, high = free_port_range(2, APP_PORT_RANGE)
    stop_dockerd()
    server = launch(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    api = Api(server)
    name = prefix + "nodocker"
    repo = GitRepo.create(tmp_path / "repo", web_app("late"))
    app = api.expect(201, "POST", "/api/apps", {"repo_url": repo.url, "name": name})
    failed = api.wait_deployment(app["deployment_id"], until={"failed"}, timeout=60)
    assert "docker" in failed["error"].lower() and "unavailable" in failed["error"].lower(), failed
    # The dashboard says so.
    login = server.request("POST", "/login", headers={"Content-Type": "application/x-www-form-urlencoded"},
                           body=b"password=test-admin-password")
    cookie = login.headers["set-cookie"].split(";")[0]
    page = server.request("GET", "/", headers={"Cookie": cookie})
    assert b"docker-unavailable" in page.body, page.body[:500]
    start_dockerd()
    poll(lambda: (b"docker-unavailable" not in server.request("GET", "/", headers={"Cookie": cookie}).body, None),
         30, "the dashboard to see Docker again")
    dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
    api.wait_deployment(dep["id"], until={"succeeded"})
    wait_serving(app["port"], "late")
    api.expect(204, "DELETE", f"/api/apps/{name}")
    server.assert_clean_stop()


# --- The data directory's disk full ----------------------------------------------------------------


def test_full_disk_fails_the_deployment_cleanly(tmp_path, prefix):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        low, high = free_port_range(2, APP_PORT_RANGE)
        data = mount / "data"
        server = launch(tmp_path, data_dir=data, extra_args=server_flags(low, high, allow_local=True))
        api = Api(server)
        name = prefix + "full"
        repo = GitRepo.create(tmp_path / "repo", web_app("roomy"))
        port = create_app(api, name, repo)["app"]["port"]
        # Incompressible, so fetching it needs real room.
        repo.commit(web_app("cramped") | {"pad.txt": os.urandom(1_500_000).hex()}, "bigger")
        # Fill the filesystem but for a little room: enough for the database's small writes, not
        # for the fetch and the build context.
        filler = mount / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        size = filler.stat().st_size
        filler.unlink()
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k", f"count={(size - 768 * 1024) // 65536}"],
                       capture_output=True, check=True)
        resp = api.request("POST", f"/api/apps/{name}/redeploy")
        if resp.status == 507:
            # Too full even to record the deployment: a clear answer, and nothing half-written.
            assert b"disk is full" in resp.body, resp.body
        else:
            assert resp.status == 202, resp.body
            final = api.wait_deployment(resp.json()["id"], until={"failed"}, timeout=60)
            assert final["error"], final
        assert server.request("GET", "/healthz").status == 200
        wait_serving(port, "roomy")
        filler.unlink()
        assert integrity_ok(data) == []
        dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
        api.wait_deployment(dep["id"], until={"succeeded"})
        wait_serving(port, "cramped")
        api.expect(204, "DELETE", f"/api/apps/{name}")
        server.assert_clean_stop()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# --- The git server gone ---------------------------------------------------------------------------


def test_git_server_gone_fails_clearly(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORT_RANGE)
    server = launch(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    api = Api(server)
    name = prefix + "gitgone"
    repo = GitRepo.create(tmp_path / "repo", web_app("served"))
    remote = DumbHttpRemote(repo, tmp_path / "remote")
    try:
        port = create_app(api, name, remote.url)["app"]["port"]
        repo.commit(web_app("unreachable"), "v2")
        remote.push()
    finally:
        remote.close()
    dep = api.expect(202, "POST", f"/api/apps/{name}/redeploy")
    final = api.wait_deployment(dep["id"], until={"failed"}, timeout=120)
    assert "git" in final["error"].lower(), final
    wait_serving(port, "served")
    api.expect(204, "DELETE", f"/api/apps/{name}")
    server.assert_clean_stop()
