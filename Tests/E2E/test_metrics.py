"""GET /metrics in the Prometheus text format, through the real binary: checked by `promtool
check metrics` and scraped once by a real Prometheus server (Debian's `prometheus` package,
installed by scripts/test-env.sh), with the API token or the metrics token.

Cleaning up: Prometheus runs on loopback with a storage directory of the test's own and is
stopped at the end; the server runs with `--container-label slipway.test=1`, app names start with
a prefix unique to this run, and `end_of_test` removes what carries that prefix.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import API_TOKEN, HOST, poll, start_server
from deploykit import Api, end_of_test, fetch, free_port_range, server_flags
from gitrepo import GitRepo, web_app
from loopback import free_port
from test_https_edge import plain

APP_PORTS = (34000, 34999)
METRICS_TOKEN = "metrics-" + "m" * 40
_started: list = []


@pytest.fixture
def prefix():
    value = f"m{secrets.token_hex(3)}-"
    yield value
    end_of_test(value, _started)


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing; scripts/test-env.sh installs Debian's prometheus package", pytrace=False)
    return path


def serve(tmp_path: Path, low: int, high: int, edge_port: int):
    server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True, extra=("--http-port", str(edge_port))),
                          env_extra={"SLIPWAY_METRICS_TOKEN": METRICS_TOKEN})
    _started.append(server)
    return server


def scrape(server, token: str | None) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = server.request("GET", "/metrics", headers=headers)
    return resp.status, resp.headers.get("content-type", ""), resp.body.decode()


def test_metrics_pass_promtool_and_a_real_prometheus_scrapes_them(tmp_path, prefix):
    low, high = free_port_range(2, APP_PORTS)
    edge_port = free_port()
    server = serve(tmp_path, low, high, edge_port)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1: a commit message that must never be a label")
    name = prefix + "app"
    created = api.create(name, repo.url, domains=["metrics.test"])
    api.finish(created["deployment_id"], why="the first deployment")

    # Only with a token: the API's, or the metrics token (which opens nothing else).
    assert scrape(server, None)[0] == 401
    assert scrape(server, "wrong-" + "x" * 40)[0] == 401
    assert api.request("GET", "/api/apps", token=METRICS_TOKEN).status == 401, "the metrics token reads the metrics only"
    status, ctype, text = scrape(server, METRICS_TOKEN)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    assert scrape(server, API_TOKEN)[0] == 200

    checked = subprocess.run([tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr + "\n" + text[:2000]
    lines = text.splitlines()
    assert 'slipway_apps{status="running"} 1' in lines, text[:1500]
    assert f'slipway_deployments_finished_total{{app="{name}",status="succeeded"}} 1' in lines, text
    assert f'slipway_deployments{{app="{name}",status="succeeded"}} 1' in lines
    assert any(l.startswith('slipway_deployment_step_duration_seconds_bucket{step="build",le="+Inf"} 1') for l in lines), text
    assert 'slipway_build_queue{state="running"} 0' in lines
    # A request through the edge: counted by status class, and timed.
    response = plain(edge_port, "metrics.test", target="/")
    assert response.status == 200, response.raw[:200]
    text = scrape(server, METRICS_TOKEN)[2]
    lines = text.splitlines()
    assert f'slipway_http_requests_total{{app="{name}",class="2xx"}} 1' in lines, text
    assert f'slipway_http_request_duration_seconds_count{{app="{name}"}} 1' in lines, text
    assert f'slipway_http_request_duration_seconds_bucket{{app="{name}",le="+Inf"}} 1' in lines
    # The app's own port relays connections: counted by what became of them.
    app_port = api.app(name)["port"]
    assert fetch(app_port)[0] == 200
    lines = scrape(server, METRICS_TOKEN)[2].splitlines()
    assert f'slipway_app_port_connections_total{{app="{name}",result="relayed"}} 1' in lines, "\n".join(lines)
    assert f'slipway_app_port_connections_total{{app="{name}",result="unavailable"}} 0' in lines
    assert any(l.startswith(f'slipway_app_port_open_connections{{app="{name}"}} ') for l in lines)
    assert any(l.startswith("process_resident_memory_bytes ") and int(l.split()[1]) > 1_000_000 for l in lines)
    assert any(l.startswith("process_open_fds ") for l in lines) and any(l.startswith("process_threads ") for l in lines)
    # Label values are names Slipway holds: never a commit message, a path, or a token.
    for secret_or_unbounded in ("commit message", API_TOKEN, METRICS_TOKEN, created["webhook_secret"], "/tmp/"):
        assert secret_or_unbounded not in text, secret_or_unbounded

    # A real Prometheus scrapes it once, with the metrics token from a file.
    work = tmp_path / "prometheus"
    work.mkdir()
    token_file = work / "token"
    token_file.write_text(METRICS_TOKEN)
    token_file.chmod(0o600)
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: slipway\n    metrics_path: /metrics\n"
        f"    authorization:\n      credentials_file: {token_file}\n"
        f"    static_configs:\n      - targets: ['{HOST}:{server.port}']\n")
    port = free_port()
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen([tool("prometheus"), f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                             f"--web.listen-address={HOST}:{port}"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def query(expression: str):
            url = f"http://{HOST}:{port}/api/v1/query?query=" + urllib.request.quote(expression)
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    return json.loads(resp.read())["data"]["result"]
            except OSError:
                return []

        poll(lambda: ((r := query('up{job="slipway"}')) != [] and r[0]["value"][1] == "1", r), 60, "Prometheus to scrape Slipway")
        finished = poll(lambda: ((r := query(f'slipway_deployments_finished_total{{app="{name}"}}')) != [], r), 30, "the deployment counter")
        assert finished[0]["metric"]["status"] == "succeeded" and finished[0]["value"][1] == "1", finished
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    server.assert_clean_stop()
