"""A logged-in dashboard session for tests that drive the dashboard's forms over plain HTTP:
log in, post a form, read a page (standard library only)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Optional

from conftest import ADMIN_PASSWORD, SlipwayServer


def login(server: SlipwayServer) -> str:
    """The session cookie of a dashboard login with the test admin password."""
    resp = form_post(server, "/login", {"password": ADMIN_PASSWORD})
    assert resp.status == 303, f"POST /login: {resp.status} {resp.body[:200]!r}"
    match = re.match(r"slipway_session=([^;]+)", resp.headers.get("set-cookie", ""))
    assert match, f"no session cookie: {resp.headers!r}"
    return match.group(1)


def form_post(server: SlipwayServer, path: str, fields: dict[str, str], cookie: Optional[str] = None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["Cookie"] = f"slipway_session={cookie}"
    return server.request("POST", path, headers=headers, body=urllib.parse.urlencode(fields).encode(), timeout=20.0)


def page(server: SlipwayServer, path: str, cookie: str) -> str:
    resp = server.request("GET", path, headers={"Cookie": f"slipway_session={cookie}"}, timeout=20.0)
    assert resp.status == 200, f"GET {path}: {resp.status}"
    return resp.body.decode()
