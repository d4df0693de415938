"""End-to-end tests of app domains, through the real binary: the `domains` field of the API and
the dashboard's forms, its validation and conflicts, the app's URL (its first exact domain on the
edge's port while the edge runs, else its port URL), `--app-ports off`, and domains surviving a
restart.

Most apps here are created with `deploy: false`, so they need no Docker; the one that deploys
(under `--app-ports off`) runs with `--container-label slipway.test=1` and a name starting with
this run's prefix, and the teardown removes exactly its containers and images.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Optional

import pytest

from conftest import RawConnection, SlipwayServer, assert_json_error, start_server, tail
from dashboard_session import form_post, login, page
from deploykit import DRAIN_TIMEOUT_S, HEALTH_TIMEOUT_S, TEST_LABEL, Api, containers, free_port_range, remove_docker_objects, server_flags
from gitrepo import GitRepo, web_app
from loopback import free_port

# Apart from every other module's range (test_security_web.py has 44000-44999).
APP_PORT_RANGE = (3000, 3999)
# The dashboard's own name, which no app may have.
DASHBOARD_NAME = "deploy.example.com"


# --- Helpers ----------------------------------------------------------------------------------


def stop(server: SlipwayServer) -> None:
    if server.proc.poll() is None:
        server.assert_clean_stop()
    else:
        raise AssertionError(f"server died during the test with {server.proc.returncode}; "
                             f"stderr tail:\n{tail(server.stderr_text())}")


def edge_only_flags(http_port: int, *, allow_local: bool = False) -> list[str]:
    """deploykit.server_flags with `--app-ports off` in place of a range, and the edge on `http_port`."""
    flags = ["--app-ports", "off", "--http-port", str(http_port), "--container-label", TEST_LABEL,
             "--health-timeout", str(HEALTH_TIMEOUT_S), "--drain-timeout", str(DRAIN_TIMEOUT_S)]
    return ["--allow-local-repos", *flags] if allow_local else flags


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on: its socket inodes matched against /proc/net/tcp*.

    The apps' public ports are listened on by the server itself (PortForwarder), so this is
    exactly the set of ports it serves, the dashboard's included.
    """
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: TCP_LISTEN
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports



def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def field_error(html: str, field: str) -> Optional[str]:
    """The text of the error shown beside the form field `field`, if any."""
    match = re.search(rf'<p class="field-error" data-field="{field}">([^<]*)</p>', html)
    return match.group(1) if match else None


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prefix():
    """A prefix unique to this run for every app name; the teardown removes what carries it."""
    value = f"d{secrets.token_hex(3)}-"
    yield value
    problems = remove_docker_objects(value)
    assert not problems, "cleanup of test containers/images failed:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def edge_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory, edge_port: int):
    """A server with app ports, the edge on `edge_port`, and a public URL whose host name is the dashboard's."""
    work = tmp_path_factory.mktemp("domains")
    low, high = free_port_range(16, APP_PORT_RANGE)  # about ten apps; each refused one takes none
    server = start_server(work, extra_args=server_flags(low, high, extra=["--public-url", f"http://{DASHBOARD_NAME}",
                                                                          "--http-port", str(edge_port)]))
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture
def api(server) -> Api:
    return Api(server)


def create(api: Api, name: str, domains: list, **fields) -> dict:
    return api.expect(201, "POST", "/api/apps", {"repo_url": "https://example.com/o/app.git", "name": name,
                                                  "deploy": False, "domains": domains, **fields})


# --- The API ----------------------------------------------------------------------------------


def test_domains_are_stored_normalised_and_make_the_url(api: Api, prefix: str, edge_port: int):
    name = prefix + "norm"
    app = create(api, name, ["*.Norm.Example.com", "WWW.Norm.Example.COM.", "norm.example.com"])
    assert app["domains"] == ["*.norm.example.com", "www.norm.example.com", "norm.example.com"], app
    # The first exact name, on the edge's port (not 80 here): a wildcard names no one host to open.
    assert app["url"] == f"http://www.norm.example.com:{edge_port}", app
    assert isinstance(app["port"], int), "with app ports on, the app has a port as well"
    assert api.app(name)["domains"] == app["domains"]
    listed = {a["name"]: a for a in api.expect(200, "GET", "/api/apps")}
    assert listed[name]["domains"] == app["domains"] and listed[name]["url"] == f"http://www.norm.example.com:{edge_port}"

    bare = create(api, prefix + "bare", [])
    assert bare["domains"] == [] and bare["url"] == f"http://127.0.0.1:{bare['port']}", bare
    without = api.expect(201, "POST", "/api/apps", {"repo_url": "https://example.com/o/app.git", "name": prefix + "nofield",
                                                    "deploy": False})
    assert without["domains"] == [], without


@pytest.mark.parametrize("name, why", [
    ("bad_name.example.com", "has the character '_'"),
    ("-dash.example.com", "starts or ends with a hyphen"),
    ("a..example.com", "has an empty label"),
    ("192.0.2.10", "is an IP address"),
    ("[::1]", "is an IP address"),
    ("example.com:8080", "has a port"),
    ("https://example.com", "is a URL or a path"),
    ("www.*.example.com", "is not the whole first label"),
    ("*.com", "would cover a whole top-level domain"),
    ("intranet", "is a single label"),
    ("localhost", "loopback name"),
    ("b\u00fccher.example", "is not ASCII"),
    ("x" * 64 + ".example.com", "longer than 63 characters"),
    ("Deploy.Example.com.", "is the dashboard's own host name"),
])
def test_each_invalid_name_is_a_400_naming_it(api: Api, prefix: str, name: str, why: str):
    app = prefix + "invalid"
    resp = api.request("POST", "/api/apps", {"repo_url": "https://example.com/o/app.git", "name": app, "deploy": False,
                                             "domains": ["ok.invalid.example.com", name]})
    error = assert_json_error(resp, 400)
    assert error["code"] == "invalid_domains", error
    shown = name.lower().rstrip(".") if why == "is the dashboard's own host name" else name
    assert error["message"].startswith(f"domains: {shown} "), error
    assert why in error["message"], error
    assert api.request("GET", f"/api/apps/{app}").status == 404, "the refused app was created"


def test_the_list_itself_is_checked(api: Api, prefix: str):
    for domains, message in [
        ("example.com", "domains must be an array of strings"),
        ([1], "domains must be an array of strings"),
        (["twice.example.com", "TWICE.example.com."], "domains: twice.example.com is given more than once"),
        ([f"n{i}.example.com" for i in range(101)], "domains: at most 100 per app, got 101"),
    ]:
        resp = api.request("POST", "/api/apps", {"repo_url": "https://example.com/o/app.git", "name": prefix + "list",
                                                 "deploy": False, "domains": domains})
        assert assert_json_error(resp, 400)["message"] == message
    hundred = create(api, prefix + "hundred", [f"n{i}.hundred.example.com" for i in range(100)])
    assert len(hundred["domains"]) == 100


def test_a_name_another_app_has_is_a_409_naming_that_app(api: Api, prefix: str):
    owner, other = prefix + "owner", prefix + "other"
    create(api, owner, ["owner.example.com", "*.owner.example.com"])
    resp = api.request("POST", "/api/apps", {"repo_url": "https://example.com/o/app.git", "name": other, "deploy": False,
                                             "domains": ["other.example.com", "Owner.Example.com"]})
    error = assert_json_error(resp, 409)
    assert error["message"] == f"owner.example.com is already a domain of app {owner}", error
    assert api.request("GET", f"/api/apps/{other}").status == 404, "the refused app was created"

    create(api, other, ["other.example.com"])
    resp = api.request("PATCH", f"/api/apps/{other}", {"branch": "dev", "domains": ["*.owner.example.com"]})
    error = assert_json_error(resp, 409)
    assert error["message"] == f"*.owner.example.com is already a domain of app {owner}", error
    kept = api.app(other)
    assert kept["domains"] == ["other.example.com"] and kept["branch"] == "main", "the refused PATCH stored something"
    # A wildcard is a name of its own: it does not hold the names it covers.
    assert api.expect(200, "PATCH", f"/api/apps/{other}", {"domains": ["www.owner.example.com"]})["domains"] == ["www.owner.example.com"]


def test_patch_replaces_clears_or_keeps_the_list(api: Api, prefix: str, edge_port: int):
    name = prefix + "patch"
    create(api, name, ["a.patch.example.com", "b.patch.example.com"])
    assert api.expect(200, "PATCH", f"/api/apps/{name}", {"branch": "dev"})["domains"] == [
        "a.patch.example.com", "b.patch.example.com"], "absent: unchanged"
    replaced = api.expect(200, "PATCH", f"/api/apps/{name}", {"domains": ["C.Patch.Example.com"]})
    assert replaced["domains"] == ["c.patch.example.com"] and replaced["url"] == f"http://c.patch.example.com:{edge_port}", replaced
    error = assert_json_error(api.request("PATCH", f"/api/apps/{name}", {"domains": ["d.patch.example.com", "no_pe.example.com"]}), 400)
    assert error["message"].startswith("domains: no_pe.example.com "), error
    assert api.app(name)["domains"] == ["c.patch.example.com"], "the refused PATCH stored something"
    cleared = api.expect(200, "PATCH", f"/api/apps/{name}", {"domains": []})
    assert cleared["domains"] == [] and cleared["url"] == f"http://127.0.0.1:{cleared['port']}", cleared
    # The name is free again for another app.
    create(api, prefix + "patch2", ["c.patch.example.com"])


# --- The dashboard ----------------------------------------------------------------------------


def test_the_dashboard_forms_round_trip(server: SlipwayServer, api: Api, prefix: str, edge_port: int):
    cookie = login(server)
    name = prefix + "form"
    create(api, prefix + "formowner", ["taken.form.example.com"])

    # The deploy form: a bad name comes back beside the field, with what was typed.
    csrf = csrf_of(page(server, "/deploy", cookie))
    typed = "ok.form.example.com\nbad_one.form.example.com"
    resp = form_post(server, "/deploy", {"csrf": csrf, "repo_url": "https://example.com/o/app.git", "name": name,
                                         "domains": typed}, cookie)
    html = resp.body.decode()
    assert resp.status == 400, f"POST /deploy with a bad name: {resp.status}"
    assert "bad_one.form.example.com" in (field_error(html, "domains") or ""), html[:2000]
    assert ">ok.form.example.com\nbad_one.form.example.com</textarea>" in html, "the typed names were lost"
    assert api.request("GET", f"/api/apps/{name}").status == 404

    # One per line or separated by commas, normalised.
    resp = form_post(server, "/deploy", {"csrf": csrf, "repo_url": "https://example.com/o/app.git", "name": name,
                                         "domains": "WWW.Form.Example.com.\r\n*.form.example.com, form.example.com"}, cookie)
    assert resp.status == 303, f"POST /deploy: {resp.status} {resp.body[:500]!r}"
    app = api.app(name)
    assert app["domains"] == ["www.form.example.com", "*.form.example.com", "form.example.com"], app

    # Shown with links to the edge on the app page and in the list; the wildcard is not a link.
    html = page(server, f"/apps/{name}", cookie)
    assert (f'<a class="domain-link" href="http://www.form.example.com:{edge_port}" rel="noopener">'
            'www.form.example.com</a>') in html
    assert "<code>*.form.example.com</code>" in html
    assert f'<a class="app-link" href="http://www.form.example.com:{edge_port}"' in html, "the URL is the first exact domain"
    assert ">www.form.example.com\n*.form.example.com\nform.example.com</textarea>" in html
    listing = page(server, "/", cookie)
    assert f'href="http://form.example.com:{edge_port}" rel="noopener">form.example.com</a>' in listing

    # The settings form: a conflict and a bad name are shown beside the field; nothing changes.
    csrf = csrf_of(html)
    for domains, expected in [("www.form.example.com\ntaken.form.example.com",
                               f"taken.form.example.com is already a domain of app {prefix}formowner"),
                              ("a.form.example.com, 10.0.0.1", "10.0.0.1 is an IP address")]:
        resp = form_post(server, f"/apps/{name}/settings", {"csrf": csrf, "branch": "other", "domains": domains}, cookie)
        html = resp.body.decode()
        assert resp.status == 400, f"settings with {domains!r}: {resp.status}"
        assert expected in (field_error(html, "domains") or ""), html[:2000]
        assert f">{domains}</textarea>" in html, "the typed names were lost"
        kept = api.app(name)
        assert kept["domains"] == app["domains"] and kept["branch"] == "main", "a refused form stored something"

    resp = form_post(server, f"/apps/{name}/settings", {"csrf": csrf, "domains": "shop.form.example.com"}, cookie)
    assert resp.status == 303, f"settings: {resp.status} {resp.body[:500]!r}"
    assert api.app(name)["domains"] == ["shop.form.example.com"]
    resp = form_post(server, f"/apps/{name}/settings", {"csrf": csrf, "domains": ""}, cookie)
    assert resp.status == 303 and api.app(name)["domains"] == [], "an empty field clears the list"


# --- --app-ports off, and restarts ------------------------------------------------------------


def test_app_ports_off_then_on_keeps_ports_and_domains_across_restarts(tmp_path: Path, prefix: str):
    low, high = free_port_range(4, APP_PORT_RANGE)
    data = tmp_path / "data"
    first = start_server(tmp_path, data_dir=data, extra_args=server_flags(low, high), log_name="ports-on")
    try:
        api = Api(first)
        kept = create(api, prefix + "kept", ["Kept.Example.com."])
        port = kept["port"]
        assert low <= port <= high and port in listening_ports(first.proc.pid), kept
        # No edge serves the domain: the URL is the port's, where the app is served.
        assert kept["url"] == f"http://127.0.0.1:{port}", kept
    finally:
        stop(first)

    http_port = free_port()
    edge = start_server(tmp_path, data_dir=data, extra_args=edge_only_flags(http_port), log_name="ports-off")
    try:
        api = Api(edge)
        app = api.app(prefix + "kept")
        assert app["domains"] == ["kept.example.com"], "the restart lost the domains"
        assert app["port"] is None and app["url"] == f"http://kept.example.com:{http_port}", app
        made = create(api, prefix + "edgeonly", ["edgeonly.example.com"])
        assert made["port"] is None and made["url"] == f"http://edgeonly.example.com:{http_port}", made
        bare = create(api, prefix + "noaddr", [])
        assert bare["port"] is None and bare["url"] is None, bare
        assert listening_ports(edge.proc.pid) == {edge.port, http_port}, "with --app-ports off the server listens on no app port"
        assert f"app {prefix}edgeonly created without a port" in edge.stderr_text()
        error = assert_json_error(api.request("POST", "/api/apps", {"repo_url": "https://example.com/o/app.git",
                                                                    "name": prefix + "thief", "deploy": False,
                                                                    "domains": ["KEPT.example.com"]}), 409)
        assert error["message"] == f"kept.example.com is already a domain of app {prefix}kept", error
    finally:
        stop(edge)

    again = start_server(tmp_path, data_dir=data, extra_args=server_flags(low, high), log_name="ports-again")
    try:
        api = Api(again)
        assert api.app(prefix + "kept")["port"] == port, "the stored port was not kept"
        given = api.app(prefix + "edgeonly")
        assert low <= given["port"] <= high and given["port"] != port, given
        assert given["domains"] == ["edgeonly.example.com"] and given["url"] == f"http://127.0.0.1:{given['port']}", given
        assert {port, given["port"]} <= listening_ports(again.proc.pid)
    finally:
        stop(again)


def test_a_deployment_under_app_ports_off_goes_live_without_a_port(tmp_path: Path, prefix: str):
    name = prefix + "live"
    repo = GitRepo.create(tmp_path / "repo", web_app("edge only"))
    http_port = free_port()
    server = start_server(tmp_path, extra_args=edge_only_flags(http_port, allow_local=True))
    try:
        api = Api(server)
        app = api.create(name, repo.url, domains=["live.example.com"])
        assert app["port"] is None and app["url"] == f"http://live.example.com:{http_port}", app
        dep = api.finish(app["deployment_id"], why="a deployment under --app-ports off")
        log = api.log(dep["id"])
        assert "the new container is live; the app has no open port" in log and "now forwards" not in log, tail(log, 20)
        assert api.app(name)["status"] == "running"
        assert len(containers(f"slipway.app={name}", running_only=True)) == 1
        assert listening_ports(server.proc.pid) == {server.port, http_port}

        # Served at its domain by the edge, and recorded in its access log with its deployment.
        with RawConnection(http_port) as c:
            c.send(f"GET /?q=secret HTTP/1.1\r\nHost: LIVE.example.com:{http_port}\r\nX-Request-Id: e2e-1\r\nConnection: close\r\n\r\n")
            resp = c.read_response()
        assert resp.status == 200 and b"edge only" in resp.body, resp
        records = api.expect(200, "GET", f"/api/apps/{name}/requests")
        assert [(r["method"], r["path"], r["status"], r["deployment_id"], r["request_id"]) for r in records] == \
            [("GET", "/", 200, dep["id"], "e2e-1")], records
        assert records[0]["bytes"] > len(b"edge only"), records
        traffic = api.app(name)["traffic"]
        assert traffic["requests"]["2xx"] == 1 and traffic["requests_total"] == 1 and traffic["upstream_errors"] == 0, traffic
        api.delete(name)
        assert not containers(f"slipway.app={name}"), "the delete left a container"
    finally:
        stop(server)
