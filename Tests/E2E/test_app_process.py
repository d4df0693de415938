"""How an app's container runs: an init process as PID 1 unless the app opts out, and a stop
timeout of the app's own.

The test app's PID 1 is busybox httpd, which sets no SIGTERM handler: as PID 1 the kernel ignores
SIGTERM for it, as it does for `python app.py`, so without an init process every stop waits the
whole timeout and ends in SIGKILL. With Docker's init (tini) as PID 1, SIGTERM reaches httpd and
the container exits at once with 143 (128 + SIGTERM); killed, it exits with 137 (128 + SIGKILL).
The exit codes say which happened, with no clock in the assertions.

Cleaning up: the server runs with `--container-label slipway.test=1`, app names start with a
prefix unique to this run, and `end_of_test` removes what carries that prefix.
"""

from __future__ import annotations

import json
import secrets

import pytest

from conftest import start_server
from deploykit import Api, docker, free_port_range, end_of_test, server_flags, wait_serving
from dashboard_session import login, page
from gitrepo import GitRepo, dockerfile_with_run, web_app

APP_PORTS = (32000, 32999)
_started: list = []


def serve(tmp_path, low: int, high: int):
    """A server, killed at the end of the test if the test did not stop it (a failure)."""
    server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True))
    _started.append(server)
    return server


@pytest.fixture
def prefix():
    value = f"p{secrets.token_hex(3)}-"
    yield value
    end_of_test(value, _started)


def container_facts(name: str, deployment: int) -> dict:
    return json.loads(docker("inspect", "--type", "container", "--format",
                             '{"init": {{json .HostConfig.Init}}, "stop_timeout": {{json .Config.StopTimeout}}, '
                             '"exit_code": {{.State.ExitCode}}, "running": {{.State.Running}}}',
                             f"slipway-{name}-{deployment}"))


def test_containers_run_an_init_process_unless_the_app_opts_out_and_stop_with_its_timeout(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORTS)
    server = serve(tmp_path, low, high)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")

    with_init = prefix + "init"
    created = api.create(with_init, repo.url)
    assert created["init"] is True and created["stop_timeout"] is None, created
    live = api.finish(created["deployment_id"], why="the app with an init process")["id"]
    wait_serving(created["port"], "v1")
    assert container_facts(with_init, live)["init"] is True
    api.expect(200, "POST", f"/api/apps/{with_init}/stop")
    facts = container_facts(with_init, live)
    assert not facts["running"] and facts["exit_code"] == 143, f"SIGTERM reached the app through its init process: {facts}"

    without = prefix + "bare"
    created = api.create(without, repo.url, init=False, stop_timeout=1)
    assert created["init"] is False and created["stop_timeout"] == 1, created
    live = api.finish(created["deployment_id"], why="the app without an init process")["id"]
    wait_serving(created["port"], "v1")
    facts = container_facts(without, live)
    assert not facts["init"] and facts["stop_timeout"] == 1, facts
    api.expect(200, "POST", f"/api/apps/{without}/stop")
    facts = container_facts(without, live)
    assert not facts["running"] and facts["exit_code"] == 137, f"PID 1 ignored SIGTERM and was killed after 1 s: {facts}"

    # The settings are checked, and null goes back to the server's timeout.
    for body, needle in [({"stop_timeout": 601}, "stop_timeout must be from 0 to 600"), ({"init": "yes"}, "init must be true or false")]:
        resp = api.request("PATCH", f"/api/apps/{without}", body)
        assert resp.status == 400 and needle in resp.json()["error"]["message"], (body, resp.body[:200])
    updated = api.expect(200, "PATCH", f"/api/apps/{without}", {"stop_timeout": None, "init": True})
    assert updated["stop_timeout"] is None and updated["init"] is True, updated
    server.assert_clean_stop()


def test_colour_codes_in_a_build_log_are_shown_as_colours_and_kept_in_the_api(tmp_path, prefix):
    low, high = free_port_range(1, APP_PORTS)
    server = serve(tmp_path, low, high)
    api = Api(server)
    # What a build tool prints in colour, with a line erase as progress output has.
    # The prefix makes the step new to the build cache, so it runs and prints.
    files = web_app("v1", dockerfile_with_run(f"printf '\\033[1;32mcoloured step\\033[0m done\\033[2K {prefix}\\n'"))
    repo = GitRepo.create(tmp_path / "repo", files, message="v1")
    name = prefix + "ansi"
    created = api.create(name, repo.url)
    deployment = api.finish(created["deployment_id"], why="the build that prints colours")["id"]
    raw = api.log(deployment)
    assert "\x1b[1;32mcoloured step\x1b[0m" in raw, "the API's log keeps the bytes as they were: " + raw[-800:]
    shown = page(server, f"/deployments/{deployment}", login(server))
    # Coloured, and the line erase gone (the page also shows the RUN line's source text, where
    # `\033[1;32m` is only characters).
    assert f'<span class="ansi-fg-2 ansi-bold">coloured step</span> done {prefix}' in shown, shown[-2000:]
    at = shown.find("\x1b")
    assert at < 0, f"an escape reached the page: {shown[max(0, at - 200):at + 100]!r}"
    server.assert_clean_stop()
