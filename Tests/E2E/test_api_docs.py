"""docs/API.md against the real server: every example is run, and its answer compared.

The document marks each example with an HTML comment (see its top):

    <!-- check create-app: 201 -->          before a ```sh block: one status per curl command
    <!-- check app-object: 200 GET /api/apps/hello-app -->
                                            before a ```json block that no curl command precedes

Each ```sh block is run by bash as written, with `curl` wrapped by a shell function that records
what the server answered to each call (status, headers, body) and still prints the body, so
pipes such as `| jq .deployment_id` work. The block after it documents the last call's answer.
What is compared:

- the status of every curl call, with the one the comment gives;
- JSON: the keys of every object, in order (the document promises the order), recursively; an
  object with a "..." key is cut short, so its keys must start the live ones; the keys of
  `steps` are data (step names), not fields; each element of a live array against the first
  documented one; scalars by kind (string, number, boolean) where neither side is null;
- an error's `code` and `message`, exactly;
- an HTTP/1.1 block: its status line, the value of each header it lists (but Date and
  Content-Length) and its body;
- a plain-text block: that the answer is text/plain.

The examples name `hello-app`, its repository, its port and deployment ids. SCENES says, for each
example, which app of the test server plays `hello-app` and what state it must be in, and
`Scene.substitutions` swaps the document's names for the live ones in one place. An example that
cannot be checked goes in UNCHECKED with the reason; every example must be in one or the other,
so a new one cannot go unchecked by accident.

The server runs with --container-label slipway.test=1, and every app name starts with a prefix
unique to the run; the teardown deletes the apps and removes what docker objects carry that
prefix, and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import conftest
from conftest import API_TOKEN, REPO_ROOT, HttpResult, SlipwayServer, poll, start_server, tail
from deploykit import FINISHED, Api, remove_docker_objects, server_flags, wait_serving
from loopback import free_port_range
from docexamples import (
    Answer,
    Block,
    Example,
    read_examples,
    response_problems,
    run_script,
    section,
    shell_commands,
    subsections,
    table_fields,
)
from gitrepo import DumbHttpRemote, GitRepo, dockerfile_with_cmd, dockerfile_with_run, run_git, web_app

DOC = REPO_ROOT / "docs" / "API.md"
# The API's handler types, which read the request fields and query parameters.
API_HANDLERS = REPO_ROOT / "Sources" / "HookServer" / "Routes" / "API"

# Below the kernel's ephemeral ports and apart from the other modules' ranges
# (deploykit 12000-19999, test_pipeline 20000-29999, test_browser 30000-39999).
APP_PORT_RANGE = (10000, 11999)
# The story server's apps (about six) with room to spare, plus one port for a server whose
# range is full.
APP_PORT_COUNT = 12

# What the examples call things. Scene.substitutions swaps each for the live value.
DOC_REPO_URL = "https://github.com/you/hello-app"
DOC_APP_URL = "http://127.0.0.1:8001"
DOC_PORT_RANGE = "8001-8100"
DOC_APP = "hello-app"

IN_PROGRESS = frozenset({"queued", "cloning", "building", "starting", "checking"})
SLOW_BUILD_S = 120

# busybox httpd as PID 1 ignores SIGTERM, so `docker stop` would wait 10 s at every stop and
# restart; a shell that exits on TERM makes them quick.
QUICK_STOP_CMD = '["sh", "-c", "trap \'exit 0\' TERM; httpd -f -p 5000 -h /www & wait"]'


EXAMPLES = read_examples(DOC.read_text(), "docs/API.md")


# --- The test server and its apps ---------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Story:
    """A server, a repository served over http with git's dumb protocol, and the apps the
    examples act on, each made the first time an example needs it."""

    server: SlipwayServer
    api: Api
    work: Path
    prefix: str
    source: GitRepo
    remote: DumbHttpRemote
    full_port: int  # kept free for the server whose port range is full
    full_server: Optional[SlipwayServer] = None

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    def repo_url(self, name: str) -> str:
        """The repository, served under a path whose last segment is `name`, so the name an app
        derives from the URL is `name`."""
        bare = self.remote.root / f"{name}.git"
        if not bare.exists():
            run_git(self.remote.root, "clone", "-q", "--bare", str(self.source.path), str(bare))
            run_git(bare, "update-server-info")
        return f"http://{conftest.HOST}:{self.remote.port}/{name}.git"

    def wait_idle(self, server: Optional[SlipwayServer] = None, timeout: float = 120) -> None:
        """Until no deployment of any app of the server is queued or running."""
        api = Api(server or self.server)

        def probe():
            busy = [(a["name"], d["id"], d["status"]) for a in api.expect(200, "GET", "/api/apps")
                    for d in api.deployments(a["name"], limit=5) if d["status"] in IN_PROGRESS]
            return not busy, busy

        poll(probe, timeout, "no deployment in progress", interval=0.2)

    def app(self, suffix: str, deploy: bool = True, **settings) -> str:
        """An app whose first deployment succeeded (or, with deploy=False, that has none)."""
        name = self.name(suffix)
        if self.api.request("GET", f"/api/apps/{name}").status == 404:
            created = self.api.create(name, self.repo_url(name), deploy=deploy, **settings)
            if deploy:
                self.api.finish(created["deployment_id"], why=f"first deployment of {name}")
                wait_serving(created["port"], "v1")
        return name

    def main(self) -> str:
        return self.app("hello-app", env={"GREETING": "hello"})

    def succeeded(self, name: str, at_least: int) -> list[dict]:
        """The app's succeeded deployments, newest first, redeploying until there are enough."""
        while True:
            done = [d for d in self.api.deployments(name) if d["status"] == "succeeded"]
            if len(done) >= at_least:
                return done
            dep = self.api.expect(202, "POST", f"/api/apps/{name}/redeploy")
            self.api.finish(dep["id"], why=f"redeploy of {name}")

    def running(self, name: str) -> None:
        app = self.api.app(name)
        if app["status"] != "running":
            self.api.expect(200, "POST", f"/api/apps/{name}/start")
        wait_serving(app["port"], "v1")

    def stopped(self, name: str) -> None:
        if self.api.app(name)["status"] != "stopped":
            self.api.expect(200, "POST", f"/api/apps/{name}/stop")

    def rollback(self, name: str) -> dict:
        """The app's newest finished rollback, made if there is none."""
        rollbacks = [d for d in self.api.deployments(name) if d["trigger"] == "rollback" and d["status"] in FINISHED]
        if rollbacks:
            return rollbacks[0]
        self.succeeded(name, 2)
        dep = self.api.expect(202, "POST", f"/api/apps/{name}/rollback")
        return self.api.finish(dep["id"], why=f"rollback of {name}")

    def secret(self, name: str) -> str:
        """A new webhook secret for the app (the only way to learn one after its creation)."""
        return self.api.expect(200, "POST", f"/api/apps/{name}/webhook-secret")["webhook_secret"]

    def ping(self, name: str) -> None:
        body = json.dumps({"zen": "Practicality beats purity.", "hook_id": 1}).encode()
        resp = self.server.request("POST", f"/hooks/github/{name}", body=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": secrets.token_hex(8), "X-Hub-Signature-256": sign(self.secret(name), body)})
        assert resp.status == 200, f"ping: {resp.status} {resp.body[:300]!r}"

    def building(self, name: str) -> dict:
        """A deployment of the branch `slow` (a build that sleeps), once it is building."""
        dep = self.api.expect(202, "POST", f"/api/apps/{name}/deployments", {"ref": "slow"})

        def probe():
            d = self.api.deployment(dep["id"])
            return d["status"] == "building" or d["status"] in FINISHED, d["status"]

        status = poll(probe, 60, f"deployment {dep['id']} to start building")
        assert status == "building", f"the slow deployment ended {status!r} before it was cancelled"
        return dep

    def full(self) -> SlipwayServer:
        """A second server with a range of one port, taken by an app."""
        if self.full_server is None:
            work = self.work / "full"
            work.mkdir(exist_ok=True)
            self.full_server = start_server(work, extra_args=server_flags(self.full_port, self.full_port))
            Api(self.full_server).create(self.name("occupant"), "https://example.invalid/x.git", deploy=False)
        return self.full_server


@dataclass
class Scene:
    """Who plays the document's hello-app in one example, and what else the example names."""

    app: str
    repo_url: Optional[str] = None
    app_url: Optional[str] = None
    port_range: Optional[str] = None
    server: Optional[SlipwayServer] = None
    env: dict[str, str] = field(default_factory=dict)
    extra: list[tuple[str, str]] = field(default_factory=list)  # (as documented, live), e.g. ids
    continues: Optional[str] = None  # an example whose shell variables this one uses

    def substitutions(self) -> dict[str, Optional[str]]:
        return {DOC_REPO_URL: self.repo_url, DOC_APP_URL: self.app_url, DOC_PORT_RANGE: self.port_range,
                DOC_APP: self.app, **dict(self.extra)}

    def apply(self, text: str, strict: bool = True) -> str:
        """`text` with every documented name replaced by its live value, in one pass (the live
        repository URL contains the app's name, which must not be replaced again). `strict`: a
        name with no live value is an error (in a command; in an answer, only errors' values are
        compared, and a wrong one shows there)."""
        subs = {documented: live for documented, live in self.substitutions().items() if documented in text}
        unset = [documented for documented, live in subs.items() if live is None]
        assert not (strict and unset), f"the example names {unset} but its scene has no value for them"
        subs = {documented: live for documented, live in subs.items() if live is not None}
        if not subs:
            return text
        # Longest first, so the repository URL wins over the app name inside it.
        pattern = re.compile("|".join(re.escape(d) for d in sorted(subs, key=len, reverse=True)))
        return pattern.sub(lambda m: subs[m.group(0)], text)


def on(story: Story, name: str, **kw) -> Scene:
    app = story.api.app(name)
    return Scene(name, repo_url=app["repo_url"], app_url=app["url"], **kw)


def fresh(story: Story, suffix: str, **kw) -> Scene:
    """An app name not taken yet, with its repository served under that name."""
    name = story.name(suffix)
    story.api.delete(name)
    return Scene(name, repo_url=story.repo_url(name), **kw)


def deployment_path(documented_id: int, live_id: int) -> tuple[str, str]:
    """The document's deployment id, as it appears in paths, and the live one."""
    return f"/api/deployments/{documented_id}", f"/api/deployments/{live_id}"


def webhook(continues: Optional[str]) -> Callable[[Story], Scene]:
    """The main app, its webhook secret in $WEBHOOK_SECRET; `continues`: an example whose
    shell variables ($body, $sig) the block uses."""
    def scene(story: Story) -> Scene:
        main = story.main()
        return on(story, main, env={"WEBHOOK_SECRET": story.secret(main)}, continues=continues)
    return scene


def all_settings(story: Story) -> Scene:
    name = story.name("api")
    story.api.delete(name)
    return Scene(name, extra=[('"name": "api"', f'"name": "{name}"')])


def rollback(story: Story) -> Scene:
    """The main app with two successes; the document's deployment 2 is the older one."""
    main = story.main()
    older = story.succeeded(main, 2)[-1]
    return on(story, main, extra=[('"deployment_id": 2', f'"deployment_id": {older["id"]}')])


def full_range(story: Story) -> Scene:
    """The second server, whose one app port is taken."""
    return Scene(story.name("hello-app"), repo_url=DOC_REPO_URL, server=story.full(),
                 port_range=f"{story.full_port}-{story.full_port}")


def deploy_key_scene(story: Story) -> Scene:
    main = story.main()
    if story.api.app(main)["deploy_key"] is None:
        story.api.expect(201, "POST", f"/api/apps/{main}/deploy-key")
    return on(story, main)


def on_main(prepare: Optional[Callable[[Story, str], None]] = None) -> Callable[[Story], Scene]:
    def scene(story: Story) -> Scene:
        main = story.main()
        if prepare is not None:
            prepare(story, main)
        return on(story, main)
    return scene


def with_deployment(documented_id: int, pick: Callable[[Story, str], dict]) -> Callable[[Story], Scene]:
    """The main app, with the document's deployment `documented_id` played by `pick`'s."""
    def scene(story: Story) -> Scene:
        main = story.main()
        live = pick(story, main)
        return on(story, main, extra=[deployment_path(documented_id, live["id"])])
    return scene


def live_deployment(story: Story, name: str) -> dict:
    return story.succeeded(name, 1)[0]


# What each example needs. Every example of the document is here or in UNCHECKED.
SCENES: dict[str, Callable[[Story], Scene]] = {
    "no-token": on_main(),
    "error-shape": on_main(),
    "unknown-field": on_main(),
    "wrong-content-type": on_main(),
    "name-taken": on_main(),
    "port-range-full": full_range,
    "app-object": on_main(),
    "deployment-object": with_deployment(3, live_deployment),
    "list-apps": on_main(),
    "create-app": lambda s: fresh(s, "created"),
    "create-app-all-settings": all_settings,
    "create-app-domains": lambda s: fresh(s, "named"),
    # The app that has hello.example.com: the one create-app-domains made, or one made now.
    "domain-taken": lambda s: on(s, s.app("named", deploy=False, domains=["hello.example.com"])),
    "get-app": on_main(),
    "patch-app": on_main(),
    "domain-invalid": on_main(),
    "body-limit-invalid": on_main(),
    "delete-app": lambda s: on(s, s.app("doomed", deploy=False)),
    "deploy": on_main(),
    "redeploy": on_main(),
    "rollback": rollback,
    "rollback-finished": with_deployment(4, lambda s, name: s.rollback(name)),
    "history": on_main(),
    "stop": on_main(lambda s, name: s.running(name)),
    "start-restart": on_main(lambda s, name: s.stopped(name)),
    "container-logs": on_main(lambda s, name: s.running(name)),
    "deliveries": on_main(lambda s, name: s.ping(name)),
    "requests": on_main(),
    "rotate-secret": on_main(),
    "deploy-key-create": on_main(),
    "deploy-key-get": deploy_key_scene,
    "deploy-key-delete": deploy_key_scene,
    "webhook-ping": webhook(continues=None),
    "webhook-unsigned": webhook(continues="webhook-ping"),
    "webhook-no-event": webhook(continues="webhook-ping"),
    "webhook-content-type": webhook(continues="webhook-ping"),
    "get-deployment": with_deployment(3, live_deployment),
    "deployment-log": with_deployment(2, live_deployment),
    "follow-log": with_deployment(2, live_deployment),
    "create-and-watch": lambda s: fresh(s, "watched"),
    "cancel": with_deployment(7, lambda s, name: s.building(name)),
    "healthz": on_main(),
}

# Examples that cannot be checked, and why. None today: keep it that way where you can.
UNCHECKED: dict[str, str] = {
    "server-object": "a server needs a second host with its own engine and sshd; test_servers.py builds one and checks these fields",
    # The story's app has no domain and no HTTPS edge runs beside it; test_https_edge.py uploads
    # through this endpoint, with the openssl command's certificates, and checks each field.
    "certificate-upload": "needs a domain, its PEM chain and key files, and --https-port",
}

# Commands an example needs besides bash and curl.
TOOLS = {"create-and-watch": ["jq"], "webhook-ping": ["openssl"], "webhook-no-event": ["openssl"],
         "webhook-content-type": ["openssl"]}


# --- Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    work = tmp_path_factory.mktemp("apidocs")
    prefix = f"d{secrets.token_hex(3)}-"
    source = GitRepo.create(work / "source", web_app("v1", dockerfile_with_cmd(QUICK_STOP_CMD)), message="v1: first version")
    source.git("tag", "v1.2.0")
    source.git("checkout", "-q", "-b", "slow")
    # A unique RUN line finds the classic builder's intermediate container, if any, at the end.
    source.commit(web_app("slow", dockerfile_with_run(f"echo {prefix}slow && sleep {SLOW_BUILD_S}")), "Slow build")
    source.git("checkout", "-q", "main")
    remote = DumbHttpRemote(source, work / "served", name=f"{prefix}hello-app.git")
    low, high = free_port_range(APP_PORT_COUNT + 1, APP_PORT_RANGE)
    server = start_server(work, extra_args=server_flags(low, high - 1))
    s = Story(server, Api(server), work, prefix, source, remote, full_port=high)
    try:
        yield s
    finally:
        # Every step runs whatever failed before it; the problems are reported together.
        problems = []
        for srv in (server, s.full_server):
            if srv is None:
                continue
            if srv.proc.poll() is not None:
                problems.append(f"server died with {srv.proc.returncode}; stderr tail:\n{tail(srv.stderr_text())}")
                continue
            try:
                for app in Api(srv).expect(200, "GET", "/api/apps"):
                    Api(srv).delete(app["name"])
            except Exception as exc:  # the docker cleanup below still removes what the apps left
                problems.append(f"deleting the apps: {exc}")
            try:
                srv.assert_clean_stop()
            except AssertionError as exc:
                problems.append(str(exc))
        remote.close()
        problems += remove_docker_objects(prefix)
        problems += remove_build_leftovers(f"{prefix}slow")
        assert not problems, "\n".join(problems)


def remove_build_leftovers(needle: str) -> list[str]:
    """The classic builder's intermediate container of the slow build (labelled slipway.test=1 by
    the base image, but with no slipway.app) is found by its RUN line."""
    rows = subprocess.run(["docker", "ps", "-a", "--no-trunc", "--filter", "label=slipway.test=1",
                           "--format", "{{.ID}}\t{{.Command}}"], capture_output=True, text=True, timeout=60).stdout
    doomed = [cid for cid, _, cmd in (r.partition("\t") for r in rows.splitlines()) if needle in cmd]
    if doomed:
        proc = subprocess.run(["docker", "rm", "-f", "-v", *doomed], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            return [f"docker rm: {proc.stderr.strip()}"]
    return []


# --- The tests ---------------------------------------------------------------------------------


def test_every_example_is_checked_or_explained():
    names = [e.name for e in EXAMPLES]
    assert names, "no examples found in docs/API.md"
    both = set(SCENES) & set(UNCHECKED)
    assert not both, f"examples both checked and unchecked: {sorted(both)}"
    unknown = [n for n in names if n not in SCENES and n not in UNCHECKED]
    assert not unknown, f"examples of docs/API.md with no entry in SCENES or UNCHECKED: {unknown}"
    gone = sorted((set(SCENES) | set(UNCHECKED)) - set(names))
    assert not gone, f"SCENES or UNCHECKED name examples docs/API.md no longer has: {gone}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_answers_as_documented(example: Example, story: Story, tmp_path: Path):
    if example.name in UNCHECKED:
        pytest.skip(f"{example}: {UNCHECKED[example.name]}")
    missing = [t for t in TOOLS.get(example.name, []) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{example} needs {', '.join(missing)}, which is not installed")
    scene = SCENES[example.name](story)
    server = scene.server or story.server
    try:
        answers = run_example(example, scene, server, tmp_path)
        got = [a.status for a in answers]
        assert got == example.statuses, (
            f"{example}: documented status {example.statuses}, the server answered {got}:\n"
            + "\n".join(a.describe() for a in answers))
        if example.response is not None:
            problems = response_problems(Block(example.response.line, example.response.lang,
                                               scene.apply(example.response.text, strict=False)), answers[-1])
            assert not problems, (f"{example}: the answer differs from the document "
                                  f"(line {example.response.line}):\n  " + "\n  ".join(problems)
                                  + f"\nthe answer: {answers[-1].describe()}")
    finally:
        story.wait_idle(server)


def run_example(example: Example, scene: Scene, server: SlipwayServer, tmp_path: Path) -> list[Answer]:
    if example.request is not None:
        method, path, body = example.request
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        resp: HttpResult = server.request(method, scene.apply(path), headers=headers,
                                          body=None if body is None else scene.apply(body).encode(), timeout=30)
        return [Answer(resp.status, list(resp.headers.items()), resp.body)]
    script = scene.apply(example.script)
    if scene.continues is not None:
        earlier = next(e for e in EXAMPLES if e.name == scene.continues)
        script = "\n".join(c for c in shell_commands(scene.apply(earlier.script)) if "curl" not in c) + "\n" + script
    answers, output = run_script(script, {"SLIPWAY": server.url("").rstrip("/"), "SLIPWAY_API_TOKEN": server.token,
                                          **scene.env}, tmp_path / "curl")
    assert len(answers) == len(example.statuses), (
        f"{example}: the comment gives {len(example.statuses)} statuses, the block made {len(answers)} curl calls; "
        f"output:\n{output[-2000:]}")
    return answers


def documented_json(name: str) -> Any:
    example = next(e for e in EXAMPLES if e.name == name)
    return json.loads(example.response.text)


def test_object_tables_list_the_fields_of_the_examples():
    text = DOC.read_text()
    app_fields = table_fields(section(text, "### The app object"), "Field")
    assert app_fields == [*documented_json("app-object"), "webhook_secret", "deployment_id"], (
        "the app object's table and its example disagree")
    deployment_fields = table_fields(section(text, "### The deployment object"), "Field")
    assert deployment_fields == list(documented_json("deployment-object")), (
        "the deployment object's table and its example disagree")
    created = documented_json("create-app")
    assert list(created) == [*documented_json("app-object"), "webhook_secret", "deployment_id"], (
        "POST /api/apps: the example's keys are not the app object's plus webhook_secret and deployment_id")


def test_request_tables_name_every_field_the_server_reads():
    """The field and query tables of the endpoints against what the API's handlers read.

    A field the server takes but the document never names (git_token and github_token were) is
    as much a disagreement as a documented field the server refuses as unknown.
    """
    source = "\n".join(path.read_text() for path in sorted(API_HANDLERS.glob("*.swift")))
    read = set(re.findall(r'body\.(?:string|int|double|bool|byteSize|stringMap|stringList|volumes|has|secretChange)\("([a-z_]+)"\)', source))
    queries = set(re.findall(r'request\.query\["([a-z_]+)"\]', source))
    queries |= set(re.findall(r'boundedQuery\(request, "([a-z_]+)"', source))
    assert read and queries, f"no body fields or query parameters found in {API_HANDLERS}: has the code changed shape?"
    endpoints = subsections(section(DOC.read_text(), "## Endpoints"))
    # The field tables of GET endpoints (deliveries) describe answers, not requests.
    documented = {f for heading, text in endpoints if heading.split()[1] in ("POST", "PATCH", "PUT")
                  for f in table_fields(text, "Field")}
    documented_queries = {q.split("=")[0] for _, text in endpoints for q in table_fields(text, "Query")}
    assert read - documented == set(), f"request fields the server reads but docs/API.md does not document: {sorted(read - documented)}"
    assert documented - read == set(), f"request fields docs/API.md documents but the server does not read: {sorted(documented - read)}"
    assert queries == documented_queries, f"query parameters: the server reads {sorted(queries)}, docs/API.md documents {sorted(documented_queries)}"
