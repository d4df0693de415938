"""End-to-end tests of GitHub push webhooks: POST /hooks/github/{app}.

The real binary, real git and the real Docker engine. Deliveries are shaped
like GitHub's own (headers, push and ping payloads, both content types) and
signed with the app's secret as GitHub signs them: X-Hub-Signature-256 is
"sha256=" + hex HMAC-SHA256(secret, raw body).

One server is shared by the module (with --allow-local-repos, so the apps
deploy from local repositories); each test makes its own app and repository
and deletes the app at the end, which removes its containers and images. The
module's teardown also removes any container or image labelled slipway.test=1
whose slipway.app label starts with this run's prefix, and nothing else.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from conftest import (
    BODY_TIMEOUT_S,
    RawConnection,
    SlipwayServer,
    assert_json_error,
    request_bytes,
    start_server,
    tail,
)
from deploykit import (
    FINISHED,
    Api,
    containers,
    free_port_range,
    images,
    poll,
    remove_docker_objects,
    server_flags,
    try_fetch,
    wait_serving,
)
from gitrepo import GitRepo, web_app
from githubhooks import SENDER, Delivery, GitHub, commit_json, encode, ping_payload, push_payload, repository, sign1, sign256

ZERO_SHA = "0" * 40
WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024
# The answer to a push must not wait for git or docker. It comes in well under
# a second; this bound only says "not after the deployment's work".
ANSWER_BOUND_S = 2.0


# --- Fixtures ---------------------------------------------------------------------------------


@dataclass
class Hooks:
    server: SlipwayServer
    api: Api
    work: Path
    prefix: str


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    prefix = f"w{secrets.token_hex(3)}-"
    work = tmp_path_factory.mktemp("webhooks")
    low, high = free_port_range(12)
    server = start_server(work, extra_args=server_flags(low, high, allow_local=True))
    try:
        yield Hooks(server, Api(server), work, prefix)
    finally:
        try:
            if server.proc.poll() is None:
                server.assert_clean_stop()
            else:
                raise AssertionError(f"server died during the tests with {server.proc.returncode}; "
                                     f"stderr tail:\n{tail(server.stderr_text())}")
        finally:
            problems = remove_docker_objects(prefix)
            assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


@dataclass
class HookApp:
    name: str
    secret: str
    repo: GitRepo
    app: dict
    github: GitHub


@pytest.fixture
def hook_app(hooks, request) -> HookApp:
    """An app (not deployed) on a fresh local repository holding v1; deleted afterwards."""
    suffix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:24].strip("-")
    name = hooks.prefix + suffix
    repo = GitRepo.create(hooks.work / "repos" / name, web_app("v1"), message="v1: first version")
    created = hooks.api.create(name, repo.url, deploy=False)
    secret = created.get("webhook_secret", "")
    assert re.fullmatch(r"[0-9a-f]{64}", secret), f"POST /api/apps must return a 64-hex webhook_secret: {created}"
    assert created["webhook_url"].endswith(f"/hooks/github/{name}"), created
    try:
        yield HookApp(name, secret, repo, created, GitHub(hooks.server, name, secret))
    finally:
        hooks.api.delete(name)


def assert_no_deployments(api: Api, name: str, why: str) -> None:
    deps = api.deployments(name)
    assert deps == [], f"{why}: no deployment expected, found {[(d['id'], d['trigger'], d['status']) for d in deps]}"


# --- Signatures -------------------------------------------------------------------------------


def test_missing_or_wrong_signatures_are_401_and_never_reveal_the_expected_mac(hooks, hook_app):
    api, gh, repo = hooks.api, hook_app.github, hook_app.repo
    # A push that would deploy if it were signed (the control at the end proves it), of a
    # sha the repository does not have, so that the control's deployment fails fast at the clone.
    missing_sha = secrets.token_hex(20)
    body, _ = encode(push_payload(hook_app.name, "refs/heads/main", repo.head(), missing_sha,
                                  [dict(commit_json(repo, repo.head(), hook_app.name), id=missing_sha)]), "json")
    right = sign256(hook_app.secret, body)
    mac = right.removeprefix("sha256=")
    sha1_mac = sign1(hook_app.secret, body).removeprefix("sha1=")

    cases: list[tuple[str, Callable[[], Delivery]]] = [
        ("no signature header at all", lambda: gh.send("push", body, sign=False)),
        ("only the SHA-1 X-Hub-Signature, correct for this body", lambda: send_only_sha1(gh, body, hook_app.secret)),
        ("an all-zero signature", lambda: gh.send("push", body, signature="sha256=" + "0" * 64)),
        ("a signature made with another secret", lambda: gh.send("push", body, secret=secrets.token_hex(32))),
        ("the signature of a different body", lambda: gh.send("push", body, signature=sign256(hook_app.secret, body + b"\n"))),
        ("the right MAC without the sha256= prefix", lambda: gh.send("push", body, signature=mac)),
        ("the right MAC labelled sha1=", lambda: gh.send("push", body, signature="sha1=" + mac)),
        ("the right signature cut short by one byte", lambda: gh.send("push", body, signature=right[:-2])),
        ("the right signature with a byte more", lambda: gh.send("push", body, signature=right + "00")),
        ("an empty signature", lambda: gh.send("push", body, signature="")),
    ]
    sent: list[tuple[str, Delivery]] = []
    wrong: list[str] = []
    for what, send in cases:
        d = send()
        sent.append((what, d))
        raw = (json.dumps(d.resp.headers) + d.resp.body.decode(errors="replace")).lower()
        if d.resp.status != 401:
            wrong.append(f"{what}: expected 401, got {d.describe()}")
            continue
        assert_json_error(d.resp, 401)
        for secret_part, label in [(mac, "the expected HMAC-SHA256"), (sha1_mac, "the expected HMAC-SHA1"),
                                   (hook_app.secret, "the webhook secret")]:
            if secret_part in raw:
                wrong.append(f"{what}: the 401 reveals {label}: {d.resp.body[:300]!r}")
    assert not wrong, "\n".join(wrong)
    assert_no_deployments(api, hook_app.name, "after unsigned or badly signed pushes")

    # Each rejection is in the delivery history, newest first.
    history = api.deliveries(hook_app.name)
    assert [h["delivery_id"] for h in history] == [d.id for _, d in reversed(sent)], history
    for (what, _), h in zip(reversed(sent), history):
        assert h["event"] == "push" and h["deployment_id"] is None, (what, h)
        assert h["result"].startswith("rejected: "), f"{what}: result {h['result']!r}"
    by_id = {h["delivery_id"]: h["result"] for h in history}
    assert "missing" in by_id[sent[0][1].id], f"no signature: result {by_id[sent[0][1].id]!r}"
    assert "missing" in by_id[sent[1][1].id], f"only SHA-1: the SHA-256 one is missing: {by_id[sent[1][1].id]!r}"

    # Control: the very same body, signed right, is a push that deploys.
    ok = gh.send("push", body)
    assert ok.resp.status == 202, f"the correctly signed control push: {ok.describe()}"
    dep_id = ok.json()["deployment_id"]
    assert [d["id"] for d in api.deployments(hook_app.name)] == [dep_id]
    assert api.deliveries(hook_app.name)[0]["result"] == "accepted"
    failed = api.finish(dep_id, "failed", why="a push of a sha the repository does not have")
    assert missing_sha in (failed["error"] or ""), f"the error should name the missing revision: {failed}"


def send_only_sha1(gh: GitHub, body: bytes, secret: str) -> Delivery:
    """A delivery signed only the old way (X-Hub-Signature: sha1=...), as from a hook configured long ago."""
    delivery = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
               "User-Agent": "GitHub-Hookshot/6c3ba2f", "X-Hub-Signature": sign1(secret, body)}
    started = time.monotonic()
    resp = gh.server.request("POST", gh.path, headers=headers, body=body, timeout=10)
    return Delivery(delivery, body, resp, time.monotonic() - started)


def test_unknown_app_is_404(hooks, hook_app):
    ghost = hooks.prefix + "no-such-app"
    gh = GitHub(hooks.server, ghost, hook_app.secret)
    for event, payload in [("ping", ping_payload(ghost, hooks.server.url(gh.path))),
                           ("push", push_payload(ghost, "refs/heads/main", ZERO_SHA, hook_app.repo.head(), []))]:
        d = gh.deliver(event, payload)
        error = assert_json_error(d.resp, 404)
        assert ghost in error["message"] or "app" in error["message"].lower(), error
    unsigned = gh.send("push", b"{}", sign=False)
    assert_json_error(unsigned.resp, 404)
    assert hooks.api.request("GET", f"/api/apps/{ghost}").status == 404


def test_rotating_the_secret_makes_the_old_one_fail(hooks, hook_app):
    api, gh, name = hooks.api, hook_app.github, hook_app.name
    ping = ping_payload(name, hook_app.app["webhook_url"])
    first = gh.deliver("ping", ping)
    assert first.resp.status == 200, f"ping with the secret from POST /api/apps: {first.describe()}"

    resp = api.request("POST", f"/api/apps/{name}/webhook-secret")
    assert resp.status == 200, f"POST /api/apps/{name}/webhook-secret: {resp.status} {resp.body[:300]!r}"
    assert "no-store" in resp.headers.get("cache-control", ""), f"a secret must not be cached: {resp.headers}"
    rotated = resp.json()
    new = rotated.get("webhook_secret", "")
    assert re.fullmatch(r"[0-9a-f]{64}", new) and new != hook_app.secret, rotated
    assert rotated.get("webhook_url") == hook_app.app["webhook_url"], rotated

    old = gh.deliver("ping", ping)  # still signed with the old secret
    assert old.resp.status == 401, f"a ping signed with the rotated-out secret: {old.describe()}"
    assert_json_error(old.resp, 401)
    assert new not in old.resp.body.decode(errors="replace") and sign256(new, old.body)[7:] not in old.resp.body.decode()

    # GitHub redelivers the same delivery once the secret is fixed: it is not a duplicate of the rejected one.
    gh.secret = new
    again = gh.deliver("ping", ping, delivery=old.id)
    assert again.resp.status == 200, f"the rejected delivery, redelivered with the new secret: {again.describe()}"
    assert again.json().get("duplicate") is not True, again.describe()

    history = api.deliveries(name)
    assert [(h["delivery_id"], h["result"]) for h in history] == [
        (old.id, "ping"), (old.id, history[1]["result"]), (first.id, "ping")], history
    assert history[1]["result"].startswith("rejected: "), history

    app = api.app(name)
    assert "webhook_secret" not in app, app
    text = json.dumps(app) + json.dumps(api.expect(200, "GET", "/api/apps"))
    assert new not in text and hook_app.secret not in text, "GET must never show a webhook secret"
    log = hooks.server.stderr_text()
    assert new not in log and hook_app.secret not in log, "a webhook secret is in the server's log"


# --- Events that do not deploy ------------------------------------------------------------------


def test_ping_and_other_events_answer_200_without_deploying(hooks, hook_app):
    api, gh, name = hooks.api, hook_app.github, hook_app.name
    ping = ping_payload(name, hook_app.app["webhook_url"])
    sent = []
    for content_type in ("json", "form"):
        d = gh.deliver("ping", ping, content_type)
        assert d.resp.status == 200, f"ping as {content_type}: {d.describe()}"
        doc = d.json()
        assert isinstance(doc, dict) and doc.get("ok") is True and "deployment_id" not in doc, doc
        sent.append((d, "ping"))

    head = hook_app.repo.head()
    others = {
        "issues": {"action": "opened", "issue": {"number": 1, "title": "Bug"}, "repository": repository(name),
                   "sender": SENDER},
        "pull_request": {"action": "opened", "number": 2, "pull_request": {"head": {"ref": "main", "sha": head}},
                         "repository": repository(name), "sender": SENDER},
        "create": {"ref": "v1.0", "ref_type": "tag", "master_branch": "main", "pusher_type": "user",
                   "repository": repository(name), "sender": SENDER},
        "release": {"action": "published", "release": {"tag_name": "v1.0", "target_commitish": "main"},
                    "repository": repository(name), "sender": SENDER},
        "workflow_run": {"action": "completed", "workflow_run": {"head_branch": "main", "head_sha": head},
                         "repository": repository(name), "sender": SENDER},
    }
    for event, payload in others.items():
        d = gh.deliver(event, payload)
        assert d.resp.status == 200, f"event {event}: {d.describe()}"
        doc = d.json()
        assert isinstance(doc.get("ignored"), str) and doc["ignored"], f"event {event}: {doc}"
        assert "deployment_id" not in doc, doc
        sent.append((d, "ignored"))
    assert_no_deployments(api, name, "after ping and non-push events")

    history = api.deliveries(name)
    assert [h["delivery_id"] for h in history] == [d.id for d, _ in reversed(sent)], history
    for (d, kind), h in zip(reversed(sent), history):
        assert h["deployment_id"] is None, h
        if kind == "ping":
            assert h["event"] == "ping" and h["result"] == "ping", h
        else:
            assert h["result"].startswith("ignored: "), h
    events = [h["event"] for h in reversed(history)]
    assert events == ["ping", "ping", *others], events
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", history[0]["time"]), history[0]


def test_tag_pushes_other_branches_and_deletions_are_ignored(hooks, hook_app):
    api, gh, repo, name = hooks.api, hook_app.github, hook_app.repo, hook_app.name
    head = repo.head()
    commit = commit_json(repo, head, name)
    cases = [
        ("a tag push", push_payload(name, "refs/tags/v1.0.0", ZERO_SHA, head, [], created=True)),
        ("a push to another branch", push_payload(name, "refs/heads/dev", ZERO_SHA, head, [commit], created=True)),
        ("a branch whose name starts with the app's", push_payload(name, "refs/heads/main-old", ZERO_SHA, head, [commit])),
        ("a branch that ends in the app's", push_payload(name, "refs/heads/feature/main", ZERO_SHA, head, [commit])),
        ("the app's branch deleted", push_payload(name, "refs/heads/main", head, ZERO_SHA, [], deleted=True)),
    ]
    sent = []
    for what, payload in cases:
        for content_type in ("json", "form"):
            d = gh.deliver("push", payload, content_type)
            assert d.resp.status == 200, f"{what} ({content_type}): {d.describe()}"
            doc = d.json()
            assert isinstance(doc.get("ignored"), str) and doc["ignored"] and "deployment_id" not in doc, (what, doc)
            sent.append(d)
    assert_no_deployments(api, name, "after pushes that must be ignored")
    history = api.deliveries(name)
    assert [h["delivery_id"] for h in history] == [d.id for d in reversed(sent)], history
    assert all(h["result"].startswith("ignored: ") and h["event"] == "push" and h["deployment_id"] is None
               for h in history), history


# --- Malformed deliveries ---------------------------------------------------------------------


def test_malformed_payloads_are_400_and_other_content_types_415(hooks, hook_app):
    api, gh, repo, name = hooks.api, hook_app.github, hook_app.repo, hook_app.name
    head = repo.head()
    good = push_payload(name, "refs/heads/main", ZERO_SHA, head, [commit_json(repo, head, name)], created=True)
    no_ref = {k: v for k, v in good.items() if k != "ref"}
    no_after = {k: v for k, v in good.items() if k != "after"}
    json_text = json.dumps(good)

    cases: list[tuple[str, bytes, Optional[str], int]] = [
        ("truncated JSON", json_text[:-20].encode(), "application/json", 400),
        ("not JSON at all", b"ref=refs/heads/main", "application/json", 400),
        ("an empty JSON body", b"", "application/json", 400),
        ("a push without ref", json.dumps(no_ref).encode(), "application/json", 400),
        ("a push without after", json.dumps(no_after).encode(), "application/json", 400),
        ("a push whose after is not a sha", json.dumps({**good, "after": "main"}).encode(), "application/json", 400),
        ("a JSON array", b"[]", "application/json", 400),
        ("a form whose payload is not JSON", urllib.parse.urlencode({"payload": json_text[:-20]}).encode(),
         "application/x-www-form-urlencoded", 400),
        ("a form push without after", urllib.parse.urlencode({"payload": json.dumps(no_after)}).encode(),
         "application/x-www-form-urlencoded", 400),
        ("a form without a payload field", urllib.parse.urlencode({"data": json_text}).encode(),
         "application/x-www-form-urlencoded", 400),
        ("text/plain", json_text.encode(), "text/plain", 415),
        ("application/xml", b"<push/>", "application/xml", 415),
        ("multipart/form-data", json_text.encode(), "multipart/form-data; boundary=x", 415),
        ("no Content-Type", json_text.encode(), None, 415),
    ]
    wrong = []
    for what, body, ctype, status in cases:
        d = gh.send("push", body, ctype)
        try:
            assert_json_error(d.resp, status)
        except AssertionError as exc:
            wrong.append(f"{what}: {str(exc).splitlines()[0]}")
    assert not wrong, f"{len(wrong)} of {len(cases)} malformed deliveries were not refused properly:\n" + "\n".join(wrong)
    assert_no_deployments(api, name, "after malformed deliveries")
    history = api.deliveries(name)
    assert len(history) == len(cases), history
    assert all(h["result"].startswith("rejected: ") and h["deployment_id"] is None for h in history), history


def test_webhook_body_limit_is_25_mib_and_checked_before_reading(hooks, hook_app):
    gh, name = hook_app.github, hook_app.name

    def announce(length: int) -> tuple[Any, float]:
        head = request_bytes("POST", gh.path, headers=[
            ("Content-Type", "application/json"), ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", str(uuid.uuid4())), ("X-Hub-Signature-256", "sha256=" + "0" * 64),
            ("Content-Length", str(length))])
        with RawConnection(hooks.server.port, timeout=10) as conn:
            started = time.monotonic()
            conn.send(head)  # and never any body
            resp = conn.read_response(timeout=10)
            elapsed = time.monotonic() - started
            if resp.status == 413:
                conn.assert_closed_by_server()
            return resp, elapsed

    resp, elapsed = announce(30_000_000)
    assert resp.status == 413, f"Content-Length 30000000 with no body: expected 413, got {resp.status} {resp.body[:200]!r}"
    assert_json_error(resp, 413)
    assert elapsed < 2.0, f"the 413 took {elapsed:.2f}s: the server waited for the body"

    resp, _ = announce(WEBHOOK_BODY_LIMIT + 1)
    assert resp.status == 413, f"Content-Length 25 MiB + 1: expected 413, got {resp.status} {resp.body[:200]!r}"

    # Exactly 25 MiB is allowed, so the server waits for the body (and, none coming, times out).
    resp, elapsed = announce(WEBHOOK_BODY_LIMIT)
    assert resp.status == 408, (f"Content-Length of exactly 25 MiB with no body: expected the body timeout's 408 "
                                f"after ~{BODY_TIMEOUT_S}s, got {resp.status} after {elapsed:.2f}s {resp.body[:200]!r}")

    # Pushes bigger than the API's 1 MiB limit are normal (many commits): 2 MiB is read, verified and answered.
    repo = hook_app.repo
    commit = commit_json(repo, repo.head(), name)
    commits = [dict(commit, id=f"{i:040x}", message=f"commit {i}\n\n" + "x" * 900) for i in range(2200)]
    big = gh.deliver("push", push_payload(name, "refs/heads/other", ZERO_SHA, repo.head(), commits))
    assert len(big.body) > 2 * 1024 * 1024, len(big.body)
    assert big.resp.status == 200 and "ignored" in big.json(), f"a signed 2 MiB push to another branch: {big.describe()}"
    assert_no_deployments(hooks.api, name, "after the body limit checks")


# --- Pushes that deploy ---------------------------------------------------------------------


def test_push_deploys_exactly_the_pushed_commit_in_both_content_types(hooks, hook_app):
    api, gh, repo, name = hooks.api, hook_app.github, hook_app.repo, hook_app.name
    port = hook_app.app["port"]
    results = []
    before = repo.head()
    for content_type, version in [("json", "v2"), ("form", "v4")]:
        # The pushed commit is the branch's tip, and the deployment takes exactly it. (A push
        # whose commit is no longer the tip when it is fetched is skipped instead, so that a
        # late or replayed delivery never puts older code live: test_security_webhooks.py.)
        message = f"{version}: pushed as {content_type}\n\nWhy it changed, in a longer body.\nSigned-off-by: Ada"
        repo.write(web_app(version))
        repo.git("add", "-A")
        repo.git("commit", "-q", "--author", "Ada Lovelace <ada@example.com>", "-m", message)
        pushed = repo.head()

        payload = push_payload(name, "refs/heads/main", before, pushed, [commit_json(repo, pushed, name)])
        d = gh.deliver("push", payload, content_type)
        assert d.resp.status == 202, f"a signed {content_type} push of {pushed}: {d.describe()}"
        doc = d.json()
        assert set(doc) == {"deployment_id"} and isinstance(doc["deployment_id"], int), doc
        dep = api.deployment(doc["deployment_id"])
        assert d.elapsed < ANSWER_BOUND_S, f"the 202 took {d.elapsed:.2f}s: it must not wait for git or docker"
        assert dep["status"] not in FINISHED, (
            f"the deployment had already finished when the 202 arrived ({d.elapsed:.3f}s): "
            f"the answer waited for the work\n{api.describe(dep)}")
        expected = {"app": name, "trigger": "webhook", "ref": pushed, "delivery_id": d.id,
                    "commit_message": f"{version}: pushed as {content_type}",
                    "commit_author": "Ada Lovelace <ada@example.com>"}
        assert {k: dep[k] for k in expected} == expected, f"the queued webhook deployment: {dep}"

        # GitHub redelivers (say, after a timeout on its side): answered, not deployed again.
        dup = gh.deliver("push", payload, content_type, delivery=d.id)
        assert dup.resp.status == 200, f"redelivery of {d.id}: {dup.describe()}"
        assert dup.json() == {"duplicate": True, "delivery_id": d.id, "deployment_id": dep["id"]}, dup.json()

        final = api.finish(dep["id"], why=f"the deployment of the {content_type} push")
        assert final["commit_sha"] == pushed, f"deployed {final['commit_sha']}, but the push was for {pushed}"
        assert {k: final[k] for k in expected} == expected, final
        wait_serving(port, version, timeout=10)
        app = api.app(name)
        assert app["live_deployment_id"] == final["id"] and app["status"] == "running", app
        results.append((d, dup, final))
        before = pushed

    deployments = api.deployments(name)
    assert [x["id"] for x in deployments] == [r[2]["id"] for r in reversed(results)], (
        f"exactly one deployment per push, redeliveries deploy nothing: {[(x['id'], x['trigger']) for x in deployments]}")

    history = api.deliveries(name)
    expected_history = []
    for d, dup, final in reversed(results):
        expected_history += [(dup.id, "push", "duplicate", final["id"]), (d.id, "push", "accepted", final["id"])]
    assert [(h["delivery_id"], h["event"], h["result"], h["deployment_id"]) for h in history] == expected_history, history

    # Deleting the app takes its containers and images with it.
    hooks.api.delete(name)
    poll(lambda: (not (c := containers(f"slipway.app={name}")), c), 30, f"no container labelled slipway.app={name}")
    poll(lambda: (not (i := images(f"slipway.app={name}")), i), 30, f"no image labelled slipway.app={name}")
    seen = try_fetch(port)
    assert not (isinstance(seen, tuple) and seen[0] == 200), f"port {port} still serves after the delete: {seen}"
