"""Deliveries as GitHub sends them: signing (X-Hub-Signature-256 is "sha256=" + hex
HMAC-SHA256(secret, raw body)), the headers, and push and ping payloads shaped like GitHub's
own. Shared by the webhook test modules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from conftest import HttpResult, SlipwayServer
from gitrepo import GitRepo

# --- Signing and sending, as GitHub does -------------------------------------------------------


def sign256(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign1(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def encode(payload: Any, content_type: str) -> tuple[bytes, str]:
    """The body GitHub sends for `payload`: JSON, or the JSON in the form field `payload`."""
    text = json.dumps(payload)
    if content_type == "form":
        return urllib.parse.urlencode({"payload": text}).encode(), "application/x-www-form-urlencoded"
    return text.encode(), "application/json"


@dataclass
class Delivery:
    id: str
    body: bytes
    resp: HttpResult
    elapsed: float

    def json(self) -> Any:
        return self.resp.json()

    def describe(self) -> str:
        return f"delivery {self.id}: {self.resp.status} {self.resp.body[:500]!r}"


class GitHub:
    """Sends deliveries to one app's webhook URL."""

    hook_id = 470116155

    def __init__(self, server: SlipwayServer, app: str, secret: str):
        self.server = server
        self.app = app
        self.secret = secret

    @property
    def path(self) -> str:
        return f"/hooks/github/{self.app}"

    def send(self, event: Optional[str], body: bytes, content_type: Optional[str] = "application/json", *,
             secret: Optional[str] = None, signature: Optional[str] = None, sign: bool = True,
             sha1: bool = True, delivery: Optional[str] = None, path: Optional[str] = None) -> Delivery:
        """POSTs `body` with GitHub's headers. `signature` replaces the computed
        X-Hub-Signature-256; `sign=False` leaves both signature headers out; `delivery=""` leaves
        out X-GitHub-Delivery."""
        key = secret if secret is not None else self.secret
        delivery = str(uuid.uuid4()) if delivery is None else delivery
        headers = {
            "User-Agent": "GitHub-Hookshot/6c3ba2f",
            "Accept": "*/*",
            "X-GitHub-Hook-ID": str(self.hook_id),
            "X-GitHub-Hook-Installation-Target-ID": "700123456",
            "X-GitHub-Hook-Installation-Target-Type": "repository",
        }
        if delivery:
            headers["X-GitHub-Delivery"] = delivery
        if event is not None:
            headers["X-GitHub-Event"] = event
        if content_type is not None:
            headers["Content-Type"] = content_type
        if sign:
            if sha1:  # GitHub sends the legacy SHA-1 signature too; it must not matter
                headers["X-Hub-Signature"] = sign1(key, body)
            headers["X-Hub-Signature-256"] = signature if signature is not None else sign256(key, body)
        started = time.monotonic()
        resp = self.server.request("POST", path or self.path, headers=headers, body=body, timeout=10)
        return Delivery(delivery, body, resp, time.monotonic() - started)

    def deliver(self, event: str, payload: Any, content_type: str = "json", **kw) -> Delivery:
        body, ctype = encode(payload, content_type)
        return self.send(event, body, ctype, **kw)


# --- Payloads shaped like GitHub's ----------------------------------------------------------

OWNER = {"name": "octo-org", "email": None, "login": "octo-org", "id": 6811672, "node_id": "MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=",
         "avatar_url": "https://avatars.githubusercontent.com/u/6811672?v=4", "url": "https://api.github.com/users/octo-org",
         "html_url": "https://github.com/octo-org", "type": "Organization", "site_admin": False}
SENDER = {"login": "ada", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
          "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "url": "https://api.github.com/users/ada",
          "html_url": "https://github.com/ada", "type": "User", "site_admin": False}


def repository(name: str) -> dict:
    full = f"octo-org/{name}"
    return {
        "id": 702345678, "node_id": "R_kgDOKd0xzg", "name": name, "full_name": full, "private": False,
        "owner": OWNER, "html_url": f"https://github.com/{full}", "description": "A Slipway test app", "fork": False,
        "url": f"https://github.com/{full}", "created_at": 1732660000, "updated_at": "2026-11-26T23:40:00Z",
        "pushed_at": 1732665000, "git_url": f"git://github.com/{full}.git", "ssh_url": f"git@github.com:{full}.git",
        "clone_url": f"https://github.com/{full}.git", "svn_url": f"https://github.com/{full}", "homepage": None,
        "size": 12, "stargazers_count": 0, "watchers_count": 0, "language": "HTML", "has_issues": True,
        "forks_count": 0, "archived": False, "disabled": False, "open_issues_count": 0, "visibility": "public",
        "forks": 0, "open_issues": 0, "watchers": 0, "default_branch": "main", "stargazers": 0, "master_branch": "main",
        "organization": "octo-org",
    }


def commit_json(repo: GitRepo, sha: str, name: str) -> dict:
    """A commit of a push payload's `commits[]` / `head_commit`, read from git."""
    fields = repo.git("log", "-1", "--format=%H%x00%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%B", sha).split("\0")
    full, tree, an, ae, date, cn, ce, message = fields
    changes = {"A": [], "D": [], "M": []}
    for line in repo.git("diff-tree", "--no-commit-id", "--root", "--name-status", "-r", sha).splitlines():
        status, _, path = line.partition("\t")
        changes.setdefault(status[:1], []).append(path)
    return {
        "id": full, "tree_id": tree, "distinct": True, "message": message.rstrip("\n"), "timestamp": date,
        "url": f"https://github.com/octo-org/{name}/commit/{full}",
        "author": {"name": an, "email": ae, "username": an.split()[0].lower()},
        "committer": {"name": cn, "email": ce, "username": cn.split()[0].lower()},
        "added": changes["A"], "removed": changes["D"], "modified": changes["M"],
    }


def push_payload(name: str, ref: str, before: str, after: str, commits: list[dict], *,
                 created: bool = False, deleted: bool = False, forced: bool = False) -> dict:
    head = commits[-1] if commits else None
    return {
        "ref": ref, "before": before, "after": after,
        "repository": repository(name),
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "organization": {"login": "octo-org", "id": 6811672},
        "sender": SENDER,
        "created": created, "deleted": deleted, "forced": forced, "base_ref": None,
        "compare": f"https://github.com/octo-org/{name}/compare/{before[:12]}...{after[:12]}",
        "commits": commits, "head_commit": head,
    }


def ping_payload(name: str, hook_url: str) -> dict:
    return {
        "zen": "Design for failure.", "hook_id": GitHub.hook_id,
        "hook": {
            "type": "Repository", "id": GitHub.hook_id, "name": "web", "active": True, "events": ["push"],
            "config": {"content_type": "json", "insecure_ssl": "0", "url": hook_url},
            "updated_at": "2026-11-26T23:43:25Z", "created_at": "2026-11-26T23:43:25Z",
            "url": f"https://api.github.com/repos/octo-org/{name}/hooks/{GitHub.hook_id}",
            "test_url": f"https://api.github.com/repos/octo-org/{name}/hooks/{GitHub.hook_id}/test",
            "ping_url": f"https://api.github.com/repos/octo-org/{name}/hooks/{GitHub.hook_id}/pings",
            "deliveries_url": f"https://api.github.com/repos/octo-org/{name}/hooks/{GitHub.hook_id}/deliveries",
            "last_response": {"code": None, "status": "unused", "message": None},
        },
        "repository": repository(name), "sender": SENDER,
    }
