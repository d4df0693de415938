"""Notifications: targets that hear how deployments went, through the real binary.

A receiver of the test's own (Python's http.server on loopback) plays the webhook endpoint and the
Slack-compatible one: it records each POST, answers with the status it is told, can hold its
answer (a slow receiver), and can be down (its port closed) and come back on the same port.
Slipway runs with `--notify-retry-seconds 1`, so a retry comes within seconds.

Cleaning up: servers are killed at the end of each test if the test did not stop them; the
server runs with `--container-label slipway.test=1`, app names start with a prefix unique to this
run, and `end_of_test` removes what carries that prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import signal
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import HOST, poll, start_server
from dashboard_session import form_post, login, page
from deploykit import Api, docker, free_port_range, end_of_test, server_flags
from gitrepo import GitRepo, web_app
from loopback import free_port
from test_https_edge import make_certificate

APP_PORTS = (33000, 33999)
_started: list = []


class Receiver:
    """Records every POST; answers `status`, after `gate` is set when one is given."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[dict] = []
        self.status = 200
        self.gate: threading.Event | None = None
        self.in_progress = threading.Event()
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.in_progress.set()
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                receiver.received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def of(self, path: str, event: str | None = None) -> list[dict]:
        return [r for r in self.received if r["path"] == path and (event is None or r["headers"].get("x-slipway-event") == event)]


@pytest.fixture
def prefix():
    value = f"n{secrets.token_hex(3)}-"
    yield value
    end_of_test(value, _started)


def serve(tmp_path: Path, low: int, high: int, data_dir: Path | None = None, log_name: str = "server"):
    server = start_server(tmp_path, data_dir=data_dir, log_name=log_name,
                          extra_args=server_flags(low, high, allow_local=True, extra=("--notify-retry-seconds", "1")))
    _started.append(server)
    return server


@contextmanager
def scene(tmp_path: Path, prefix: str, suffix: str, ports: int = 2):
    """A started receiver, a server, and an app named `prefix + suffix` (not deployed) of a v1
    repository: (receiver, server, api, repo, name). The receiver stops afterwards."""
    receiver = Receiver().start()
    try:
        low, high = free_port_range(ports, APP_PORTS)
        server = serve(tmp_path, low, high)
        api = Api(server)
        repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1: first version")
        name = prefix + suffix
        api.create(name, repo.url, deploy=False)
        yield receiver, server, api, repo, name
    finally:
        receiver.stop()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_and_slack_targets_hear_how_deployments_went_signed_and_tested(tmp_path, prefix):
    with scene(tmp_path, prefix, "app", ports=2) as (receiver, server, api, repo, name):
        # Refusals name what is wrong, and store nothing.
        for body, field, needle in [
            ({"type": "email", "url": receiver.url("/x"), "events": ["deployment.failed"]}, "type", "webhook or slack"),
            ({"type": "webhook", "url": "ftp://example.com/x", "events": ["deployment.failed"]}, "url", "not an http:// or https:// URL"),
            ({"type": "webhook", "url": "https://user:pw@example.com/x", "events": ["deployment.failed"]}, "url", "url:"),
            ({"type": "webhook", "url": receiver.url("/x"), "events": []}, "events", "choose at least one"),
            ({"type": "webhook", "url": receiver.url("/x"), "events": ["deploy.failed"]}, "events", "is not an event"),
        ]:
            resp = api.request("POST", f"/api/apps/{name}/notifications", body)
            assert resp.status == 400, (body, resp.status, resp.body[:300])
            message = resp.json()["error"]["message"]
            assert needle in message, (body, message)
        assert api.expect(200, "GET", f"/api/apps/{name}/notifications") == []

        hook = api.expect(201, "POST", f"/api/apps/{name}/notifications",
                          {"type": "webhook", "url": receiver.url("/hook"), "events": ["deployment.succeeded", "deployment.failed"]})
        secret = hook["secret"]
        assert len(secret) == 64 and hook["events"] == ["deployment.succeeded", "deployment.failed"], hook
        slack = api.expect(201, "POST", f"/api/apps/{name}/notifications",
                           {"type": "slack", "url": receiver.url("/slack"), "events": ["deployment.succeeded"]})
        assert "secret" not in slack, "a Slack target has no secret"
        # Shown once: never in the app's JSON or the list.
        shown = api.app(name)["notifications"]
        assert [t["id"] for t in shown] == [hook["id"], slack["id"]] and all("secret" not in t for t in shown), shown
        assert all("secret" not in t for t in api.expect(200, "GET", f"/api/apps/{name}/notifications"))
        # A server-wide target hears about every app.
        wide = api.expect(200, "PUT", "/api/settings/notifications",
                          [{"type": "webhook", "url": receiver.url("/wide"), "events": ["deployment.succeeded"]}])
        assert len(wide) == 1 and wide[0]["secret"], wide

        dep = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments")["id"], why="the first deployment")
        poll(lambda: (len(receiver.of("/hook")) >= 1 and receiver.of("/slack") and receiver.of("/wide"), receiver.received),
             30, "the deployment's notifications")
        delivery = receiver.of("/hook")[0]
        headers, body = delivery["headers"], delivery["body"]
        assert headers["x-slipway-signature-256"] == signature(secret, body), "signed with the target's secret, as GitHub signs"
        payload = json.loads(body)
        assert headers["x-slipway-event"] == payload["event"] == "deployment.succeeded", payload
        assert headers["x-slipway-delivery"] == payload["delivery_id"], (headers, payload)
        assert payload["app"] == name and payload["deployment_id"] == dep["id"] and payload["status"] == "succeeded", payload
        assert payload["commit"] == repo.head() and isinstance(payload["duration_ms"], int), payload
        assert payload["urls"]["deployment"].endswith(f"/deployments/{dep['id']}"), payload
        text = json.loads(receiver.of("/slack")[0]["body"])["text"]
        assert name in text and f"deployment {dep['id']} is live" in text, text
        wide_delivery = receiver.of("/wide")[0]
        assert wide_delivery["headers"]["x-slipway-signature-256"] == signature(wide[0]["secret"], wide_delivery["body"])

        # A failed deployment: the webhook chose it, Slack did not.
        repo.commit({"Dockerfile": "FROM slipway-test-base:latest\nRUN exit 3\n", "index.html": "v2\n"}, "v2: broken")
        failed = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments")["id"], status="failed", why="the broken build")
        poll(lambda: (receiver.of("/hook", "deployment.failed"), receiver.received), 30, "the failure's notification")
        payload = json.loads(receiver.of("/hook", "deployment.failed")[0]["body"])
        assert payload["deployment_id"] == failed["id"] and payload["error"], payload
        assert len(receiver.of("/slack")) == 1, "Slack did not choose deployment.failed"

        # The test button, and the attempts each target shows.
        test = api.expect(202, "POST", f"/api/apps/{name}/notifications/{slack['id']}/test")
        poll(lambda: (receiver.of("/slack", "test"), receiver.received), 30, "the test message")
        assert receiver.of("/slack", "test")[0]["headers"]["x-slipway-delivery"] == test["delivery_id"]
        listed = {t["id"]: t for t in api.expect(200, "GET", f"/api/apps/{name}/notifications")}
        attempts = listed[hook["id"]]["recent_attempts"]
        assert [a["event"] for a in attempts] == ["deployment.failed", "deployment.succeeded"], attempts
        assert all(a["status"] == 200 and a["error"] is None and a["latency_ms"] >= 0 for a in attempts), attempts
        assert listed[hook["id"]]["pending"] == 0

        # Removing a target stops its deliveries; the server-wide list can be emptied.
        api.expect(204, "DELETE", f"/api/apps/{name}/notifications/{slack['id']}")
        assert api.expect(200, "PUT", "/api/settings/notifications", []) == []
        server.assert_clean_stop()


def test_a_receiver_that_is_down_gets_each_delivery_once_it_is_back_even_after_a_kill_9(tmp_path, prefix):
    receiver = Receiver()  # not started: its port refuses
    low, high = free_port_range(2, APP_PORTS)
    data_dir = tmp_path / "data"
    server = serve(tmp_path, low, high, data_dir=data_dir)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
    name = prefix + "down"
    api.create(name, repo.url, deploy=False)
    target = api.expect(201, "POST", f"/api/apps/{name}/notifications",
                        {"type": "webhook", "url": receiver.url("/hook"), "events": ["deployment.succeeded"]})
    api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments")["id"], why="the deployment")

    def tried():
        t = api.expect(200, "GET", f"/api/apps/{name}/notifications")[0]
        return len(t["recent_attempts"]) >= 1 and t["pending"] == 1, t

    shown = poll(tried, 30, "a failed attempt at the receiver that is down")
    first = shown["recent_attempts"][0]
    assert first["status"] is None and first["error"], first
    delivery_id = first["delivery_id"]

    # Slipway killed with the delivery still queued; started again, with the receiver back.
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=30)
    receiver.start()
    try:
        server = serve(tmp_path, low, high, data_dir=data_dir, log_name="after-kill")
        api = Api(server)
        poll(lambda: (receiver.of("/hook"), receiver.received), 60, "the queued delivery, once the receiver is back")
        got = receiver.of("/hook")
        assert [r["headers"]["x-slipway-delivery"] for r in got] == [delivery_id], "the same delivery, sent once it got through"
        assert got[0]["headers"]["x-slipway-signature-256"] == signature(target["secret"], got[0]["body"])
        poll(lambda: ((t := api.expect(200, "GET", f"/api/apps/{name}/notifications")[0])["pending"] == 0, t), 30, "the queue to be empty")
        server.assert_clean_stop()
    finally:
        receiver.stop()


def test_a_slow_receiver_never_holds_up_a_deployment(tmp_path, prefix):
    receiver = Receiver().start()
    receiver.gate = threading.Event()
    try:
        low, high = free_port_range(2, APP_PORTS)
        server = serve(tmp_path, low, high)
        api = Api(server)
        repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
        name = prefix + "slow"
        api.create(name, repo.url, deploy=False)
        api.expect(201, "POST", f"/api/apps/{name}/notifications",
                   {"type": "slack", "url": receiver.url("/slack"), "events": ["deployment.succeeded"]})
        api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments")["id"], why="the first deployment")
        assert receiver.in_progress.wait(30), "the notification reached the receiver"
        # The receiver holds its answer; the next deployment runs and ends all the same.
        repo.commit(web_app("v2"), "v2")
        second = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments")["id"], why="a deployment while the receiver is stuck")
        assert second["status"] == "succeeded" and not receiver.received, "nothing answered yet, and the deployment is done"
        receiver.gate.set()
        poll(lambda: (len(receiver.of("/slack")) == 2, receiver.received), 30, "both notifications once the receiver answers")
        server.assert_clean_stop()
    finally:
        receiver.gate.set()
        receiver.stop()


def test_an_app_that_crashes_and_comes_back_is_told(tmp_path, prefix):
    with scene(tmp_path, prefix, "crash", ports=2) as (receiver, server, api, repo, name):
        api.expect(201, "POST", f"/api/apps/{name}/notifications",
                   {"type": "webhook", "url": receiver.url("/hook"), "events": ["app.crashed", "app.recovered"]})
        dep = api.finish(api.expect(202, "POST", f"/api/apps/{name}/deployments")["id"], why="the deployment")
        container = f"slipway-{name}-{dep['id']}"
        docker("stop", "--time", "1", container)
        poll(lambda: (receiver.of("/hook", "app.crashed"), receiver.received), 60, "app.crashed")
        docker("start", container)
        poll(lambda: (receiver.of("/hook", "app.recovered"), receiver.received), 60, "app.recovered")
        payload = json.loads(receiver.of("/hook", "app.crashed")[0]["body"])
        assert payload["app"] == name and payload["event"] == "app.crashed", payload
        server.assert_clean_stop()


def test_the_dashboard_adds_tests_and_removes_targets_and_shows_a_secret_once(tmp_path, prefix):
    with scene(tmp_path, prefix, "ui", ports=1) as (receiver, server, api, repo, name):
        cookie = login(server)
        app_page = page(server, f"/apps/{name}", cookie)
        csrf = re.search(r'name="csrf" value="([^"]+)"', app_page).group(1)
        assert 'id="no-notification-targets"' in app_page

        # No event ticked: the form comes back with the error beside the events.
        bad = form_post(server, f"/apps/{name}/notifications", {"csrf": csrf, "type": "webhook", "url": receiver.url("/hook")}, cookie)
        assert bad.status == 400 and 'data-field="notification_events"' in bad.body.decode(), bad.body[-1500:]
        added = form_post(server, f"/apps/{name}/notifications", {"csrf": csrf, "type": "webhook", "url": receiver.url("/hook"),
                                                                  "event.deployment.succeeded": "1", "event.app.crashed": "1"}, cookie)
        assert added.status == 303, added.body[:300]
        shown = page(server, f"/apps/{name}", cookie)
        secret = re.search(r'id="notification-secret">([0-9a-f]{64})<', shown).group(1)
        assert 'id="notification-secret"' not in page(server, f"/apps/{name}", cookie), "shown once"
        target = api.app(name)["notifications"][0]
        assert target["events"] == ["deployment.succeeded", "app.crashed"] and target["url"] == receiver.url("/hook"), target

        assert form_post(server, f"/apps/{name}/notifications/{target['id']}/test", {"csrf": csrf}, cookie).status == 303
        poll(lambda: (receiver.of("/hook", "test"), receiver.received), 30, "the test message")
        test = receiver.of("/hook", "test")[0]
        assert test["headers"]["x-slipway-signature-256"] == signature(secret, test["body"])
        shown = html.unescape(page(server, f"/apps/{name}", cookie))
        assert "HTTP 200" in shown, "the page shows the last attempt"
        assert form_post(server, f"/apps/{name}/notifications/{target['id']}/remove", {"csrf": csrf}, cookie).status == 303
        assert api.app(name)["notifications"] == []

        # Server-wide, on the settings page.
        settings = page(server, "/settings", cookie)
        assert 'id="no-notification-targets"' in settings
        assert form_post(server, "/settings/notifications", {"csrf": csrf, "type": "slack", "url": receiver.url("/wide"),
                                                             "event.deployment.failed": "1"}, cookie).status == 303
        wide = api.expect(200, "GET", "/api/settings/notifications")
        assert [(t["type"], t["events"]) for t in wide] == [("slack", ["deployment.failed"])], wide
        assert 'id="notification-secret"' not in page(server, "/settings", cookie), "a Slack target has no secret to show"
        server.assert_clean_stop()


def test_env_volume_and_notification_changes_are_recorded_by_name_never_value(tmp_path, prefix):
    low, high = free_port_range(1, APP_PORTS)
    server = serve(tmp_path, low, high)
    api = Api(server)
    repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
    name = prefix + "audit"
    api.create(name, repo.url, deploy=False, env={"KEEP": "1", "OLD": "secret-old-value"})
    api.expect(200, "PATCH", f"/api/apps/{name}", {"env": {"KEEP": "2", "NEW": "secret-new-value"}})
    api.expect(200, "PATCH", f"/api/apps/{name}", {"volumes": [{"name": "data", "path": "/data"}]})
    target = api.expect(201, "POST", f"/api/apps/{name}/notifications",
                        {"type": "slack", "url": "http://127.0.0.1:9/x", "events": ["deployment.failed"]})
    api.expect(204, "DELETE", f"/api/apps/{name}/notifications/{target['id']}")
    cookie = login(server)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page(server, f"/apps/{name}", cookie)).group(1)
    assert form_post(server, f"/apps/{name}/env", {"csrf": csrf, "env": "KEEP=********\nNEW=********\nMORE=x"}, cookie).status == 303

    changes = api.expect(200, "GET", f"/api/apps/{name}/changes")
    assert [(c["actor"], c["summary"]) for c in changes] == [
        ("dashboard", "env: added MORE"),
        ("api", f"notifications: removed slack target {target['id']}"),
        ("api", f"notifications: added slack target {target['id']} for deployment.failed"),
        ("api", "volumes: added data at /data"),
        ("api", "env: added NEW; changed KEEP; removed OLD"),
    ], changes
    shown = page(server, f"/apps/{name}", cookie)
    assert "env: added NEW; changed KEEP; removed OLD" in shown
    for text in (json.dumps(changes), shown):
        assert "secret-old-value" not in text and "secret-new-value" not in text, "names, never values"
    server.assert_clean_stop()


def test_a_certificate_close_to_its_end_is_told_about_once(tmp_path, prefix):
    receiver = Receiver().start()
    try:
        low, high = free_port_range(1, APP_PORTS)
        server = start_server(tmp_path, extra_args=server_flags(low, high, allow_local=True, extra=(
            "--notify-retry-seconds", "1", "--http-port", str(free_port()), "--https-port", str(free_port()))))
        _started.append(server)
        api = Api(server)
        repo = GitRepo.create(tmp_path / "repo", web_app("v1"), message="v1")
        name = prefix + "cert"
        soon, later = "soon.notify.test", "later.notify.test"
        api.create(name, repo.url, deploy=False, domains=[soon, later])
        api.expect(201, "POST", f"/api/apps/{name}/notifications",
                   {"type": "webhook", "url": receiver.url("/hook"), "events": ["certificate.expiring"]})
        for domain, days in [(later, 60), (soon, 5)]:
            pair = make_certificate(tmp_path, domain, days=days)
            api.expect(200, "PUT", f"/api/apps/{name}/certificates/{domain}", {"certificate": pair.chain, "private_key": pair.key})
        poll(lambda: (receiver.of("/hook", "certificate.expiring"), receiver.received), 30, "certificate.expiring")
        payload = json.loads(receiver.of("/hook", "certificate.expiring")[0]["body"])
        assert payload["domain"] == soon and payload["app"] == name, payload
        # Uploading again (another look) tells no more about the same certificate.
        pair = make_certificate(tmp_path, later, days=61)
        api.expect(200, "PUT", f"/api/apps/{name}/certificates/{later}", {"certificate": pair.chain, "private_key": pair.key})
        poll(lambda: (len(api.expect(200, "GET", f"/api/apps/{name}/notifications")[0]["recent_attempts"]) >= 1, None), 30, "the attempt")
        assert len(receiver.of("/hook", "certificate.expiring")) == 1, receiver.received
        server.assert_clean_stop()
    finally:
        receiver.stop()
