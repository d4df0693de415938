"""Browser tests of the dashboard: headless Chromium driven by Selenium against the real binary.

One server serves the whole module, with a real git repository and the real Docker engine
behind it; the tests run in file order and share one app (its name, repository and
deployment ids live in `state`): log in, deploy from the form and watch the live log, open
the app on its port, redeploy, roll back, stop and start, the CSRF and origin checks, HTML
escaping, delete from the dashboard, log out. Two tests start servers of their own: one with the
HTTP edge (`--http-port`) opens an app at its domain, Chromium resolving the test names to
loopback (`--host-resolver-rules`); and login throttling, which locks 127.0.0.1 out for a minute,
runs last.

Nothing is downloaded at run time: the Debian packages' /usr/bin/chromium and
/usr/bin/chromedriver are used, and SE_OFFLINE keeps Selenium Manager from looking for
drivers. Every wait has a deadline (WebDriverWait or a polling loop), never a fixed sleep.

On a failure a screenshot and the page source go to test-artifacts/browser/<test>.png/.html.
Cleaning up: the apps are deleted through the API, then any container or image labelled
slipway.test=1 whose slipway.app label has this run's prefix is removed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import loopback
from conftest import (
    poll,
    ADMIN_PASSWORD,
    API_TOKEN,
    HOST,
    REPO_ROOT,
    HttpResult,
    SlipwayServer,
    require_binary,
    server_env,
    tail,
)
from gitrepo import BASE_IMAGE, GitRepo

os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoAlertPresentException,
        StaleElementReferenceException,
        TimeoutException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as exc:  # scripts/test-env.sh installs it; say so rather than erroring obscurely
    pytest.fail(f"selenium is not importable ({exc}); run scripts/test-env.sh or `python3 -m pip install selenium==4.27.1`",
                pytrace=False)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
    # Nothing outside loopback: no first-run, sync or component-update traffic.
    "--no-first-run", "--disable-background-networking", "--disable-extensions", "--disable-sync",
]

TEST_LABEL = "slipway.test=1"
APP_LABEL = "slipway.app"
APP_PORT_RANGE = (30000, 32767)
APP_PORT_COUNT = 10
ARTIFACT_DIR = REPO_ROOT / "test-artifacts" / "browser"

STARTUP_TIMEOUT_S = 20.0
PAGE_TIMEOUT_S = 15.0     # a page or an element on it
DEPLOY_TIMEOUT_S = 90.0   # a whole deployment of the busybox app (clone, build, start, check, swap)
SERVE_TIMEOUT_S = 30.0    # the app's port answers as expected after an operation

IN_PROGRESS = frozenset({"queued", "cloning", "building", "starting", "checking"})
HEX64 = re.compile(r"^[0-9a-f]{64}$")
XSS_SUBJECT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
XSS_ESCAPED = "&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror="


def free_port_range(count: int) -> tuple[int, int]:
    """`count` consecutive free ports in this module's APP_PORT_RANGE."""
    return loopback.free_port_range(count, APP_PORT_RANGE)


# --- The test app ------------------------------------------------------------------------------

def dockerfile(run_id: str) -> str:
    """busybox httpd serving /www/index.html on 5000, as in gitrepo.py, with two changes.

    A RUN step that prints, sleeps 2 s and prints again makes the first build slow enough for the
    live log to be seen growing; its text is unique to the run, so no build cache from an earlier
    run skips it (later builds in this run reuse the layer). And `sh` as PID 1 traps SIGTERM:
    busybox httpd as PID 1 ignores it, which would make every `docker stop` wait out its grace
    period.
    """
    return (
        f"FROM {BASE_IMAGE}\n"
        # In colour, as build tools print: the dashboard shows it green, with no escape in sight.
        f"RUN printf '\\033[32mslipway-build {run_id} step one\\033[0m\\n' && sleep 2 && echo \"slipway-build {run_id} step two\"\n"
        "COPY index.html /www/index.html\n"
        "EXPOSE 5000\n"
        'CMD ["sh", "-c", "trap \'exit 0\' TERM; printf \'\\\\033[33mslipway-test-app listening\\\\033[0m\\\\n\'; '
        'httpd -f -p 5000 -h /www & wait"]\n'
    )


def app_files(run_id: str, body: str) -> dict[str, Optional[str]]:
    return {"Dockerfile": dockerfile(run_id), "index.html": body + "\n"}


# --- Ports and the server ------------------------------------------------------------------------


def start_slipway(work_dir: Path, log_name: str, extra: tuple[str, ...] = ()) -> SlipwayServer:
    """`slipway serve` with the server's default HTTP timeouts (a browser keeps idle and
    preconnected sockets around; conftest's short test timeouts would cut those), local
    repositories allowed and apps on a free range of ports, plus the flags in `extra`; waits
    for GET /healthz."""
    low, high = free_port_range(APP_PORT_COUNT)
    return SlipwayServer.start(
        require_binary(),
        data_dir=work_dir / f"{log_name}-data",
        flags=["--allow-local-repos", "--app-ports", f"{low}-{high}", "--container-label", TEST_LABEL,
               "--health-timeout", "15", "--drain-timeout", "1", "--templates-dir", str(REPO_ROOT / "Templates"), *extra],
        env=server_env(),
        cwd=work_dir,
        stdout_path=work_dir / f"{log_name}.stdout.log",
        stderr_path=work_dir / f"{log_name}.stderr.log",
        startup_timeout=STARTUP_TIMEOUT_S,
    )


def stop_server(server: SlipwayServer) -> int:
    """SIGTERM, then SIGKILL after 15 s; returns the exit code."""
    return server.terminate(15).code


# --- Plain HTTP beside the browser ---------------------------------------------------------------

def api(server: SlipwayServer, method: str, path: str, body: Any = None, timeout: float = 60.0) -> HttpResult:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return server.request(method, path, headers=headers, body=data, timeout=timeout)


def form_post(server: SlipwayServer, path: str, fields: dict[str, str], *, cookie: Optional[str] = None,
              headers: Optional[dict[str, str]] = None) -> HttpResult:
    """A form POST the way a browser sends one, with the session cookie if given."""
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie is not None:
        h["Cookie"] = f"slipway_session={cookie}"
    h.update(headers or {})
    return server.request("POST", path, headers=h, body=urllib.parse.urlencode(fields).encode(), timeout=20.0)


def page_get(server: SlipwayServer, path: str, cookie: Optional[str]) -> HttpResult:
    headers = {"Cookie": f"slipway_session={cookie}"} if cookie else {}
    return server.request("GET", path, headers=headers, timeout=20.0)


def fetch_app(port: int) -> tuple[int, str] | str:
    """(status, body) of GET / on an app's port, or the error's description."""
    conn = http.client.HTTPConnection(HOST, port, timeout=3.0)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def wait_app_answers(port: int, status: int, body: Optional[str] = None, timeout: float = SERVE_TIMEOUT_S) -> str:
    def probe():
        seen = fetch_app(port)
        ok = isinstance(seen, tuple) and seen[0] == status and (body is None or seen[1] == body)
        return ok, seen
    return poll(probe, timeout, f"port {port} to answer {status}" + (f" {body!r}" if body else ""))[1]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def ping_webhook(server: SlipwayServer, app: str, secret: str) -> HttpResult:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    return server.request("POST", f"/hooks/github/{app}", body=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": secrets.token_hex(8), "X-Hub-Signature-256": sign(secret, body)})


# --- Docker cleanup ------------------------------------------------------------------------------

def _docker(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def remove_docker_objects(app_prefix: str) -> list[str]:
    """Removes containers and images labelled slipway.test=1 whose slipway.app starts with
    `app_prefix`; returns what could not be removed."""
    problems: list[str] = []
    rows = _docker("ps", "-a", "--no-trunc", "--filter", f"label={TEST_LABEL}",
                   "--format", f'{{{{.ID}}}}\t{{{{.Label "{APP_LABEL}"}}}}').stdout
    doomed = [cid for cid, _, app in (r.partition("\t") for r in rows.splitlines()) if app.startswith(app_prefix)]
    if doomed:
        proc = _docker("rm", "-f", "-v", *doomed)
        if proc.returncode != 0:
            problems.append(f"docker rm: {proc.stderr.strip()}")
    image_ids = list(dict.fromkeys(_docker("images", "-q", "--no-trunc", "--filter", f"label={TEST_LABEL}").stdout.split()))
    if image_ids:
        rows = _docker("image", "inspect", "--format", f'{{{{.Id}}}}\t{{{{index .Config.Labels "{APP_LABEL}"}}}}',
                       *image_ids).stdout
        for iid, _, app in (r.partition("\t") for r in rows.splitlines()):
            if app.startswith(app_prefix):
                proc = _docker("rmi", "-f", iid)
                if proc.returncode != 0 and "No such image" not in proc.stderr:
                    problems.append(f"docker rmi {iid}: {proc.stderr.strip()}")
    return problems


# --- Fixtures ------------------------------------------------------------------------------------

@dataclass
class State:
    """What the tests of this module hand on to each other, in file order."""
    run_id: str
    app: str
    repo: Optional[GitRepo] = None
    port: Optional[int] = None
    logged_in: bool = False
    secret: Optional[str] = None
    deployments: dict[str, int] = field(default_factory=dict)  # "v1", "v2", "rollback", "xss" -> id
    deleted: bool = False

    def need(self, *what: str) -> None:
        """Skips a test whose prerequisite (an earlier test of the module) did not get there."""
        missing = [w for w in what if not (self.deployments.get(w) if w in ("v1", "v2", "rollback", "xss")
                                           else getattr(self, w))]
        if missing:
            pytest.skip(f"an earlier test of this module did not get as far as: {', '.join(missing)}")


_current_driver: Optional["WebDriver"] = None


class _FailureArtifacts:
    """A plugin registered while this module runs: on a failed setup or call, saves a
    screenshot and the page source of the browser as test-artifacts/browser/<test>.png/.html.
    (Hooks defined in a test module itself are not called by pytest, hence the registration.)"""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.failed and report.when in ("setup", "call") and item.module.__name__ == __name__:
            save_artifacts(item.name)


def save_artifacts(name: str) -> None:
    driver = _current_driver
    if driver is None:
        return
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    try:
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        try:  # an open confirm() would make every other command fail
            driver.switch_to.alert.dismiss()
        except (NoAlertPresentException, WebDriverException):
            pass
        driver.save_screenshot(str(ARTIFACT_DIR / f"{safe}.png"))
        (ARTIFACT_DIR / f"{safe}.html").write_text(f"<!-- {driver.current_url} -->\n{driver.page_source}")
    except Exception as exc:  # artifacts are a diagnostic; never mask the real failure
        print(f"could not save browser artifacts for {name}: {exc}")


@pytest.fixture(scope="module", autouse=True)
def failure_artifacts(pytestconfig):
    plugin = _FailureArtifacts()
    pytestconfig.pluginmanager.register(plugin, f"slipway-browser-artifacts-{id(plugin)}")
    yield
    pytestconfig.pluginmanager.unregister(plugin)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def state() -> State:
    run_id = secrets.token_hex(3)
    return State(run_id=run_id, app=f"bt{run_id}-web")


@pytest.fixture(scope="module")
def server(work: Path, state: State):
    srv = start_slipway(work, "server")
    try:
        yield srv
    finally:
        problems = []
        if srv.proc.poll() is None and not state.deleted:
            try:
                resp = api(srv, "DELETE", f"/api/apps/{state.app}")
                if resp.status not in (204, 404):
                    problems.append(f"DELETE /api/apps/{state.app}: {resp.status} {resp.body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                problems.append(f"DELETE /api/apps/{state.app}: {exc}")
        code = stop_server(srv)
        problems += remove_docker_objects(f"bt{state.run_id}")
        if code != 0:
            problems.append(f"server exited with {code} after SIGTERM; stderr tail:\n{tail(srv.stderr_text())}")
        assert not problems, "cleanup: " + "; ".join(problems)


@pytest.fixture(scope="module")
def driver():
    global _current_driver
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing; scripts/test-env.sh installs Debian's chromium and chromium-driver",
                        pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(10)
    _current_driver = drv
    try:
        yield drv
    finally:
        _current_driver = None
        drv.quit()


# --- Browser helpers -----------------------------------------------------------------------------

def css(driver: WebDriver, selector: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: WebDriver, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait_css(driver: WebDriver, selector: str, timeout: float = PAGE_TIMEOUT_S) -> WebElement:
    try:
        return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))
    except TimeoutException:
        raise AssertionError(f"no element {selector!r} on {driver.current_url} after {timeout:.0f}s; page text:\n"
                             f"{body_text(driver)[:1500]}") from None


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str, timeout: float = PAGE_TIMEOUT_S) -> Any:
    """WebDriverWait with a failure message naming what was awaited, the page and its text."""
    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; on {driver.current_url}, page text:\n"
                             f"{body_text(driver)[:1500]}") from None


def browser_shows(driver: WebDriver, url: str, text: str, timeout: float = SERVE_TIMEOUT_S) -> list[str]:
    """Opens `url` and reloads it until the page's text is `text`; returns what each load showed.

    A reload (not another plain navigation) makes Chromium revalidate what it may have cached
    heuristically from an earlier version: busybox httpd sends Last-Modified and no Cache-Control.
    """
    seen: list[str] = []
    driver.get(url)

    def probe():
        shown = body_text(driver).strip()
        source = driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0];"
            "return n ? (n.transferSize === 0 ? 'cache' : 'network') : '?'")
        seen.append(f"{shown!r} ({source})")
        if shown != text:
            driver.refresh()
        return shown == text, seen[-5:]
    poll(probe, timeout, f"the browser to show {text!r} at {url}", interval=0.2)
    return seen


def body_text(driver: WebDriver) -> str:
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException as exc:
        return f"(no body: {exc.msg})"


def path_of(driver: WebDriver) -> str:
    return urllib.parse.urlsplit(driver.current_url).path


def unloaded(old: "WebElement") -> Callable[[WebDriver], bool]:
    """True once `old` belongs to a page that is gone, like EC.staleness_of. While the page is being
    replaced, chromedriver sometimes reports the old node as "Node with given id does not belong to
    the document" rather than as stale; that means the same thing here."""
    def check(_driver: WebDriver) -> bool:
        try:
            old.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
    return check


def navigates(driver: WebDriver, action: Callable[[], None], timeout: float = PAGE_TIMEOUT_S) -> None:
    """Runs `action` (a click that submits a form, say) and waits until a new page has loaded."""
    old = driver.find_element(By.TAG_NAME, "html")
    action()
    try:
        WebDriverWait(driver, timeout).until(unloaded(old))
        WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")
    except TimeoutException:
        raise AssertionError(f"no new page within {timeout:.0f}s; still on {driver.current_url}") from None


def accept_confirm(driver: WebDriver, expect_in_text: str = "") -> str:
    alert = wait_for(driver, EC.alert_is_present(), "a confirm() dialog")
    text = alert.text
    alert.accept()
    assert expect_in_text in text, f"confirm() asked {text!r}, expected it to mention {expect_in_text!r}"
    return text


def badge(driver: WebDriver, selector: str) -> Optional[str]:
    found = all_css(driver, selector)
    return found[0].get_attribute("data-status") if found else None


def wait_badge_after_reloads(driver: WebDriver, selector: str, status: str, timeout: float = SERVE_TIMEOUT_S) -> None:
    """Reloads the page until the badge at `selector` says `status` (pages are server-rendered)."""
    def probe():
        seen = badge(driver, selector)
        if seen != status:
            driver.refresh()
            seen = badge(driver, selector)
        return seen == status, seen
    poll(probe, timeout, f"{selector} on {driver.current_url} to say {status!r}", interval=0.3)


def assert_only_same_origin_resources(driver: WebDriver) -> None:
    """Every script, stylesheet, icon, image and frame the page names is a path on this server,
    and every resource it actually fetched came from its own origin."""
    refs = driver.execute_script("""
        return Array.from(document.querySelectorAll('script[src], link[href], img[src], iframe[src], source[src]'))
                    .map(e => e.tagName.toLowerCase() + ' ' + (e.getAttribute('src') || e.getAttribute('href')));""")
    assert any(r.startswith("script ") for r in refs) and any(r.startswith("link ") for r in refs), (
        f"expected the layout's script and stylesheet on {driver.current_url}; found {refs}")
    outside = [r for r in refs if not r.split(" ", 1)[1].startswith("/") or r.split(" ", 1)[1].startswith("//")]
    assert not outside, f"{driver.current_url} names resources that are not same-origin paths: {outside}"
    origin = driver.execute_script("return location.origin")
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    foreign = [u for u in fetched if not (u == origin or u.startswith(origin + "/"))]
    assert not foreign, f"{driver.current_url} fetched from other origins: {foreign}"


def assert_page_headers(resp: HttpResult, what: str) -> None:
    csp = resp.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (
        f"{what}: Content-Security-Policy {csp!r} lacks default-src 'self' or frame-ancestors 'none'")
    assert resp.headers.get("x-content-type-options", "").lower() == "nosniff", (
        f"{what}: X-Content-Type-Options {resp.headers.get('x-content-type-options')!r}, expected nosniff")
    assert resp.headers.get("content-type", "").startswith("text/html"), f"{what}: {resp.headers.get('content-type')!r}"


def session_cookie(driver: WebDriver) -> str:
    cookie = driver.get_cookie("slipway_session")
    assert cookie and cookie.get("value"), f"the browser has no slipway_session cookie: {driver.get_cookies()}"
    return cookie["value"]


def log_in(driver: WebDriver, server: SlipwayServer, password: str) -> None:
    driver.get(server.url("/login"))
    field = wait_css(driver, "form#login-form input[name=password]")
    field.clear()
    field.send_keys(password)
    navigates(driver, lambda: css(driver, "button#login-submit").click())


SAMPLE_DEPLOYMENT_JS = """
    if (document.readyState === 'loading') return null;
    const pre = document.getElementById('log');
    if (!pre) return null;
    if (!window.__swPage) window.__swPage = Math.random().toString(36).slice(2);
    const result = document.getElementById('result');
    const b = document.querySelector('#deployment-status .badge');
    return {page: window.__swPage, len: pre.textContent.length, text: pre.textContent,
            result: result ? result.getAttribute('data-status') : null,
            badge: b ? b.getAttribute('data-status') : null,
            cancel: !!document.querySelector('button[data-action="cancel"]'),
            follow: pre.getAttribute('data-follow') || ''};
"""


def deployment_id_from_url(driver: WebDriver) -> int:
    m = re.fullmatch(r"/deployments/(\d+)", path_of(driver))
    assert m, f"expected a /deployments/ID page, got {driver.current_url}: {body_text(driver)[:800]}"
    return int(m.group(1))


def watch_deployment(driver: WebDriver, server: SlipwayServer, timeout: float = DEPLOY_TIMEOUT_S) -> list[dict]:
    """Samples the deployment page (which reloads itself when the deployment ends) until
    p#result appears; returns every sample, the last one with the result."""
    samples: list[dict] = []

    def sample(d: WebDriver):
        try:
            s = d.execute_script(SAMPLE_DEPLOYMENT_JS)
        except WebDriverException:
            return False  # mid-reload
        if s:
            samples.append(s)
            return s["result"] is not None
        return False

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1).until(sample)
    except TimeoutException:
        last = samples[-1] if samples else {}
        dep_id = deployment_id_from_url(driver)
        dep = api(server, "GET", f"/api/deployments/{dep_id}")
        raise AssertionError(
            f"no p#result on {driver.current_url} after {timeout:.0f}s; last sample: badge {last.get('badge')!r}, "
            f"log tail:\n{tail(last.get('text', ''), 15)}\nAPI: {dep.status} {dep.body[:600]!r}\n"
            f"server stderr tail:\n{tail(server.stderr_text(), 15)}") from None
    return samples


def expect_succeeded(samples: list[dict], server: SlipwayServer, what: str) -> dict:
    final = samples[-1]
    assert final["result"] == "succeeded" and final["badge"] == "succeeded", (
        f"{what}: p#result says {final['result']!r}, badge {final['badge']!r}; log tail:\n{tail(final['text'], 25)}\n"
        f"server stderr tail:\n{tail(server.stderr_text(), 15)}")
    assert "is live" in final["text"], f"{what}: the finished page's log lacks 'is live':\n{tail(final['text'], 25)}"
    assert not final["cancel"], f"{what}: a finished deployment still offers Cancel"
    assert final["follow"] == "", f"{what}: a finished deployment still follows {final['follow']!r}"
    return final


def click_action(driver: WebDriver, scope: str, action: str) -> None:
    """Clicks button[data-action=action] inside `scope` and waits for the next page."""
    button = css(driver, f'{scope} button[data-action="{action}"]')
    navigates(driver, button.click)


# --- Tests: logging in ---------------------------------------------------------------------------

def test_login_page_rejects_a_wrong_password(server: SlipwayServer, driver: WebDriver):
    driver.get(server.url("/"))
    wait_for(driver, lambda d: path_of(d) == "/login", "GET / without a session to end on /login")
    assert all_css(driver, "form#login-form") and all_css(driver, "button#login-submit")
    assert not all_css(driver, "p#login-error"), "a fresh login page shows an error"
    assert not all_css(driver, "button#logout"), "the login page offers Log out to a visitor"
    assert_only_same_origin_resources(driver)

    log_in(driver, server, "not-the-password")
    assert path_of(driver) == "/login", f"a wrong password led to {driver.current_url}"
    error = wait_css(driver, "p#login-error")
    assert "Wrong password" in error.text, f"p#login-error says {error.text!r}"
    assert driver.get_cookie("slipway_session") is None, "a wrong password set a session cookie"

    resp = form_post(server, "/login", {"password": "also-wrong"})
    assert resp.status == 401, f"POST /login with a wrong password: expected 401, got {resp.status}"
    assert 'id="login-error"' in resp.body.decode(errors="replace")
    assert "set-cookie" not in resp.headers, f"a failed login set a cookie: {resp.headers['set-cookie']!r}"
    assert_page_headers(resp, "POST /login (401)")


def test_login_sets_an_httponly_samesite_strict_session(server: SlipwayServer, driver: WebDriver, state: State):
    # The header exactly as sent, through plain HTTP (this login also resets the failure count).
    resp = form_post(server, "/login", {"password": ADMIN_PASSWORD})
    assert resp.status == 303 and resp.headers.get("location") == "/", (
        f"POST /login with the right password: expected 303 to /, got {resp.status} {resp.headers.get('location')!r}")
    set_cookie = resp.headers.get("set-cookie", "")
    attrs = [a.strip().lower() for a in set_cookie.split(";")]
    assert attrs[0].startswith("slipway_session=") and len(attrs[0]) > len("slipway_session=") + 20, set_cookie
    assert "httponly" in attrs, f"session cookie without HttpOnly: {set_cookie!r}"
    assert "samesite=strict" in attrs, f"session cookie without SameSite=Strict: {set_cookie!r}"
    assert "path=/" in attrs, f"session cookie without Path=/: {set_cookie!r}"

    log_in(driver, server, ADMIN_PASSWORD)
    assert path_of(driver) == "/", f"logging in led to {driver.current_url}: {body_text(driver)[:500]}"
    cookie = driver.get_cookie("slipway_session")
    assert cookie is not None, f"no session cookie after logging in: {driver.get_cookies()}"
    assert cookie.get("httpOnly") is True, f"the browser holds a non-HttpOnly session cookie: {cookie}"
    assert cookie.get("sameSite") == "Strict", f"the browser holds the cookie with SameSite {cookie.get('sameSite')!r}"
    assert driver.execute_script("return document.cookie").find("slipway_session") == -1, "script can read the session"

    assert all_css(driver, 'header a[href="/deploy"]'), "no Deploy link in the header"
    assert all_css(driver, 'header form[action="/logout"] button#logout'), "no Log out button in the header"
    wait_css(driver, "section#empty-state")
    assert not all_css(driver, "article.app-card"), "a fresh server lists apps"
    assert_only_same_origin_resources(driver)
    state.logged_in = True


# --- Tests: deploying ----------------------------------------------------------------------------

def test_deploy_form_marks_the_invalid_field_and_keeps_the_input(server: SlipwayServer, driver: WebDriver,
                                                                 state: State):
    state.need("logged_in")
    driver.get(server.url("/"))
    navigates(driver, lambda: css(driver, 'header a[href="/deploy"]').click())
    assert path_of(driver) == "/deploy"
    assert_only_same_origin_resources(driver)
    assert css(driver, "input[name=branch]").get_attribute("value") == "main"
    assert css(driver, "input[name=internal_port]").get_attribute("value") == "5000"
    assert not css(driver, "input[name=health_path]").is_displayed(), "the Advanced section starts open"

    css(driver, "input[name=repo_url]").send_keys("ftp://nope")
    css(driver, "input[name=name]").send_keys("keep-this-name")
    navigates(driver, lambda: css(driver, "button#deploy-submit").click())
    error = wait_css(driver, 'p.field-error[data-field="repo_url"]')
    assert error.text.strip(), "the repo_url field error is empty"
    assert css(driver, "input[name=repo_url]").get_attribute("value") == "ftp://nope", "the repo_url input was not kept"
    assert css(driver, "input[name=name]").get_attribute("value") == "keep-this-name", "the name input was not kept"
    assert len(all_css(driver, "p.field-error")) == 1, "more than the one field is marked"
    assert css(driver, "form#deploy-form details").get_attribute("open") is not None, "Advanced is closed on an error"

    # The status, through plain HTTP with the browser's session: 400, and nothing was created.
    cookie = session_cookie(driver)
    csrf = css(driver, "form#deploy-form input[name=csrf]").get_attribute("value")
    resp = form_post(server, "/deploy", {"csrf": csrf, "repo_url": "ftp://nope", "name": "keep-this-name",
                                         "branch": "main", "internal_port": "5000"}, cookie=cookie)
    page = resp.body.decode(errors="replace")
    assert resp.status == 400, f"POST /deploy with repo_url ftp://nope: expected 400, got {resp.status}: {page[:300]!r}"
    assert 'data-field="repo_url"' in page and 'value="ftp://nope"' in page
    assert api(server, "GET", "/api/apps/keep-this-name").status == 404, "an invalid deploy form created an app"


def test_deploy_from_the_form_streams_the_log_until_live(server: SlipwayServer, driver: WebDriver, state: State,
                                                         work: Path):
    state.need("logged_in")
    state.repo = GitRepo.create(work / "repo", app_files(state.run_id, "v1"), message="v1")

    driver.get(server.url("/deploy"))
    css(driver, "input[name=repo_url]").send_keys(state.repo.url)
    css(driver, "input[name=name]").send_keys(state.app)
    branch = css(driver, "input[name=branch]")
    branch.clear()
    branch.send_keys("main")
    css(driver, "form#deploy-form details summary").click()
    health = css(driver, "input[name=health_path]")
    wait_for(driver, lambda d: health.is_displayed(), "the Advanced section to open")
    health.clear()
    health.send_keys("/index.html")
    css(driver, "textarea[name=env]").send_keys("GREETING=hello-secret-value\nOTHER=second-secret")
    navigates(driver, lambda: css(driver, "button#deploy-submit").click())

    dep_id = deployment_id_from_url(driver)
    state.deployments["v1"] = dep_id
    # The webhook secret, once, on the page the form leads to.
    secret = wait_css(driver, "div#new-secret code#webhook-secret").text.strip()
    assert HEX64.match(secret), f"the new webhook secret is not 64 hex characters: {secret!r}"
    state.secret = secret
    wait_css(driver, f'section#deployment[data-deployment="{dep_id}"]')

    samples = watch_deployment(driver, server)
    final = expect_succeeded(samples, server, f"first deployment {dep_id}")

    running = [s for s in samples if s["result"] is None]
    assert running, "the deployment page never showed the deployment running"
    assert all(s["badge"] in IN_PROGRESS for s in running), f"badges while running: {sorted({s['badge'] for s in running})}"
    assert any(s["cancel"] for s in running), "no Cancel button while the deployment ran"
    assert all(s["follow"] == f"/deployments/{dep_id}/log" for s in running), f"pre#log follows {running[0]['follow']!r}"
    # Growth within one page load: the log arrived in pieces while the deployment ran.
    grew = any(a["page"] == b["page"] and 0 < a["len"] < b["len"] for a, b in zip(running, running[1:]))
    assert grew, ("pre#log never grew while the deployment ran; lengths seen: "
                  f"{[s['len'] for s in running][:40]}")
    assert f"slipway-build {state.run_id} step one" in final["text"], f"build output missing:\n{tail(final['text'], 25)}"
    # The build's colour code, shown as a colour in the finished log (ANSIText, on the server).
    green = all_css(driver, "pre#log span.ansi-fg-2")
    assert any(f"slipway-build {state.run_id} step one" in s.text for s in green), [s.text for s in green]
    assert "\x1b" not in final["text"] and "[32m" not in final["text"].replace("\\033[32m", ""), tail(final["text"], 10)
    assert len({s["page"] for s in samples}) >= 2, "the page did not reload itself when the deployment ended"

    # The secret was shown once: the reload does not show it again, nor does another visit.
    assert not all_css(driver, "div#new-secret"), "the webhook secret was shown again after the page reloaded"
    driver.refresh()
    wait_css(driver, "p#result")
    assert not all_css(driver, "div#new-secret"), "the webhook secret was shown again on a reload"
    assert state.secret not in driver.page_source
    assert_only_same_origin_resources(driver)

    app = api(server, "GET", f"/api/apps/{state.app}").json()
    assert app["status"] == "running" and app["live_deployment_id"] == dep_id, app
    assert app["health_path"] == "/index.html" and sorted(app["env_keys"]) == ["GREETING", "OTHER"], app
    state.port = app["port"]


def test_dashboard_card_links_to_the_app_on_its_port(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port")
    driver.get(server.url("/"))
    card = f'article.app-card[data-app="{state.app}"]'
    wait_css(driver, card)
    assert not all_css(driver, "section#empty-state"), "the empty state shows beside an app"
    assert badge(driver, f"{card} span.badge") == "running"
    link = css(driver, f"{card} a.app-link")
    url = f"http://{HOST}:{state.port}"
    assert link.get_attribute("href").rstrip("/") == url and link.text.strip() == url, (
        f"a.app-link: href {link.get_attribute('href')!r}, text {link.text!r}; expected {url}")
    actions = {b.get_attribute("data-action") for b in all_css(driver, f"{card} button[data-action]")}
    assert actions == {"redeploy", "stop", "restart", "delete"}, f"a running app's card offers {sorted(actions)}"

    browser_shows(driver, url, "v1")


def test_app_page_masks_env_values_and_shows_runtime_logs(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port")
    driver.get(server.url(f"/apps/{state.app}"))
    wait_css(driver, f'section#app[data-app="{state.app}"]')
    assert badge(driver, "span#app-status .badge") == "running"
    for section in ("history", "settings", "env", "webhook", "credentials", "runtime-logs"):
        assert all_css(driver, f"section#{section}"), f"the app page has no section#{section}"
    env_lines = css(driver, "textarea#env-text").get_attribute("value").splitlines()
    assert sorted(env_lines) == ["GREETING=********", "OTHER=********"], f"textarea#env-text holds {env_lines}"
    source = driver.page_source
    assert "hello-secret-value" not in source and "second-secret" not in source, "an env value is in the app page"
    assert state.secret not in source, "the webhook secret is in the app page"
    assert_only_same_origin_resources(driver)

    logs = css(driver, "pre#app-logs")
    css(driver, "button#refresh-logs").click()
    wait_for(driver, lambda d: "slipway-test-app listening" in logs.text, "pre#app-logs to show the container's output")
    # Its colour code is shown as a colour (app.js), never as an escape.
    coloured = all_css(driver, "pre#app-logs span.ansi-fg-3")
    assert any("slipway-test-app listening" in s.text for s in coloured), [s.text for s in coloured]
    assert "\x1b" not in logs.text and "[33m" not in logs.text, logs.text[-300:]


def test_webhook_secret_rotates_and_is_shown_once(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port", "secret")
    assert ping_webhook(server, state.app, state.secret).status == 200, "the secret shown after creating the app is refused"
    driver.get(server.url(f"/apps/{state.app}"))
    url = wait_css(driver, "code#webhook-url").text.strip()
    assert url == server.url(f"/hooks/github/{state.app}"), f"code#webhook-url says {url!r}"
    assert not all_css(driver, "div#new-secret")

    old = driver.find_element(By.TAG_NAME, "html")
    css(driver, 'section#webhook button[data-action="rotate-secret"]').click()
    accept_confirm(driver, "secret")
    wait_for(driver, unloaded(old), "the page after rotating the secret")
    new = wait_css(driver, "div#new-secret code#webhook-secret").text.strip()
    assert HEX64.match(new) and new != state.secret, f"rotating gave {new!r} (old {state.secret!r})"
    assert path_of(driver) == f"/apps/{state.app}"

    assert ping_webhook(server, state.app, state.secret).status == 401, "the old secret still works after rotating"
    assert ping_webhook(server, state.app, new).status == 200, "the new secret shown once does not work"
    state.secret = new

    driver.refresh()
    wait_css(driver, "section#app")
    assert not all_css(driver, "div#new-secret"), "the rotated secret was shown again on a reload"
    assert len(all_css(driver, "table#deliveries tbody tr")) >= 3, "the pings are not listed under Latest deliveries"


def test_redeploy_serves_the_new_commit(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port", "v1")
    state.repo.commit(app_files(state.run_id, "v2"), "v2")
    driver.get(server.url(f"/apps/{state.app}"))
    wait_css(driver, "section#app")
    click_action(driver, "section#app", "redeploy")
    dep_id = deployment_id_from_url(driver)
    assert dep_id != state.deployments["v1"]
    expect_succeeded(watch_deployment(driver, server), server, f"redeploy {dep_id}")
    state.deployments["v2"] = dep_id
    wait_app_answers(state.port, 200, "v2")
    browser_shows(driver, f"http://{HOST}:{state.port}/", "v2")


def test_rollback_button_on_the_v1_row_serves_v1_again(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("v1", "v2")
    v1, v2 = state.deployments["v1"], state.deployments["v2"]
    driver.get(server.url(f"/apps/{state.app}"))
    row_v1, row_v2 = f'section#history tr[data-deployment="{v1}"]', f'section#history tr[data-deployment="{v2}"]'
    wait_css(driver, row_v1)
    assert badge(driver, f"{row_v1} .badge[data-status]") == "succeeded"
    assert badge(driver, f"{row_v2} .badge[data-status]") == "succeeded"
    assert not all_css(driver, f'{row_v2} button[data-action="rollback"]'), "the live deployment offers a rollback to itself"
    button = css(driver, f'{row_v1} button[data-action="rollback"]')
    assert button.text.strip() == "Rollback to this"
    navigates(driver, button.click)
    dep_id = deployment_id_from_url(driver)
    assert dep_id not in (v1, v2)
    expect_succeeded(watch_deployment(driver, server), server, f"rollback {dep_id}")
    state.deployments["rollback"] = dep_id
    dep = api(server, "GET", f"/api/deployments/{dep_id}").json()
    assert dep["trigger"] == "rollback" and dep["source_deployment_id"] == v1, dep
    wait_app_answers(state.port, 200, "v1")
    # Right after the swap a socket Chromium opened earlier may still reach the old container
    # for the drain period (by design); the reloads in browser_shows wait that out.
    browser_shows(driver, f"http://{HOST}:{state.port}/", "v1")


def test_stop_then_start_from_the_app_page(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("rollback")
    driver.get(server.url(f"/apps/{state.app}"))
    wait_css(driver, "section#app")
    click_action(driver, "section#app", "stop")
    assert path_of(driver) == f"/apps/{state.app}", f"Stop on the app page led to {driver.current_url}"
    wait_badge_after_reloads(driver, "span#app-status .badge", "stopped")
    assert all_css(driver, 'section#app button[data-action="start"]'), "a stopped app offers no Start"
    assert not all_css(driver, 'section#app button[data-action="stop"]'), "a stopped app still offers Stop"
    body = wait_app_answers(state.port, 503)
    assert "stopped" in body.lower(), f"the stopped app's port answers 503 with {body!r}"

    click_action(driver, "section#app", "start")
    assert path_of(driver) == f"/apps/{state.app}", f"Start on the app page led to {driver.current_url}"
    wait_app_answers(state.port, 200, "v1")
    wait_badge_after_reloads(driver, "span#app-status .badge", "running")
    assert all_css(driver, 'section#app button[data-action="stop"]'), "a running app offers no Stop"


# --- Tests: CSRF, origins, escaping --------------------------------------------------------------

def test_state_changes_need_csrf_token_and_same_origin(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port")
    driver.get(server.url(f"/apps/{state.app}"))
    csrf = wait_css(driver, 'section#app form[action$="/redeploy"] input[name=csrf]').get_attribute("value")
    assert len(csrf) >= 32, f"the CSRF token {csrf!r} is short"
    cookie = session_cookie(driver)
    path = f"/apps/{state.app}/redeploy"
    before = len(api(server, "GET", f"/api/apps/{state.app}/deployments?limit=100").json())
    same_origin = server.url("").rstrip("/")

    refused = {
        "no csrf field": ({"x": "1"}, {}),
        "an empty body": (None, {}),
        "a wrong csrf": ({"csrf": "0" * len(csrf)}, {}),
        "a csrf of another length": ({"csrf": csrf[:-1]}, {}),
        "the right csrf, Origin http://evil.example": ({"csrf": csrf}, {"Origin": "http://evil.example"}),
        "the right csrf, Origin of the app's port (same site)": ({"csrf": csrf}, {"Origin": f"http://{HOST}:{state.port}"}),
        "the right csrf, Sec-Fetch-Site: cross-site": ({"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
        "the right csrf, Sec-Fetch-Site: same-site": ({"csrf": csrf}, {"Sec-Fetch-Site": "same-site"}),
    }
    failures = []
    for what, (fields, headers) in refused.items():
        if fields is None:
            resp = server.request("POST", path, headers={"Cookie": f"slipway_session={cookie}",
                                                         "Content-Type": "application/x-www-form-urlencoded",
                                                         "Content-Length": "0", **headers}, body=b"")
        else:
            resp = form_post(server, path, fields, cookie=cookie, headers=headers)
        if resp.status != 403:
            failures.append(f"POST {path} with the session and {what}: expected 403, got {resp.status} "
                            f"(Location {resp.headers.get('location')!r}) {resp.body[:200]!r}")

    resp = server.request("GET", path, headers={"Cookie": f"slipway_session={cookie}"})
    if resp.status != 405:
        failures.append(f"GET {path}: expected 405, got {resp.status} {resp.body[:200]!r}")
    elif "POST" not in resp.headers.get("allow", ""):
        failures.append(f"GET {path}: 405 without POST in Allow ({resp.headers.get('allow')!r})")

    # Without a session the right token gets nowhere either: to the login page.
    resp = form_post(server, path, {"csrf": csrf})
    if resp.status != 303 or resp.headers.get("location") != "/login":
        failures.append(f"POST {path} with the csrf but no session: expected 303 to /login, got {resp.status} "
                        f"{resp.headers.get('location')!r}")
    # Logging in from another site is refused too (login CSRF).
    resp = form_post(server, "/login", {"password": ADMIN_PASSWORD}, headers={"Origin": "http://evil.example"})
    if resp.status != 403 or "set-cookie" in resp.headers:
        failures.append(f"POST /login with Origin http://evil.example: expected 403 without a cookie, got {resp.status} "
                        f"Set-Cookie {resp.headers.get('set-cookie')!r}")

    # The control: the same session, token and origin do get through (an env save changes nothing).
    resp = form_post(server, f"/apps/{state.app}/env", {"csrf": csrf, "env": "GREETING=********\nOTHER=********"},
                     cookie=cookie, headers={"Origin": same_origin, "Sec-Fetch-Site": "same-origin"})
    if resp.status != 303 or resp.headers.get("location") != f"/apps/{state.app}":
        failures.append(f"POST /apps/{state.app}/env with the right csrf and Origin {same_origin}: expected 303 to "
                        f"/apps/{state.app}, got {resp.status} {resp.headers.get('location')!r} {resp.body[:200]!r}")

    after = len(api(server, "GET", f"/api/apps/{state.app}/deployments?limit=100").json())
    if after != before:
        failures.append(f"refused requests still queued deployments: {before} before, {after} after")
    env_keys = api(server, "GET", f"/api/apps/{state.app}").json()["env_keys"]
    if sorted(env_keys) != ["GREETING", "OTHER"]:
        failures.append(f"saving the masked env changed the variables: {env_keys}")
    assert not failures, "\n".join(failures)


def test_commit_message_is_escaped_on_every_page(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port")
    state.repo.commit(app_files(state.run_id, "v3"), XSS_SUBJECT)
    assert state.repo.subject() == XSS_SUBJECT
    driver.get(server.url(f"/apps/{state.app}"))
    wait_css(driver, "section#app")
    click_action(driver, "section#app", "redeploy")
    dep_id = deployment_id_from_url(driver)
    expect_succeeded(watch_deployment(driver, server), server, f"deployment {dep_id} of the <script> commit")
    state.deployments["xss"] = dep_id
    wait_app_answers(state.port, 200, "v3")

    cookie = session_cookie(driver)
    failures = []
    for path in (f"/deployments/{dep_id}", f"/apps/{state.app}", "/"):
        driver.get(server.url(path))
        wait_css(driver, "main")
        pwned = driver.execute_script("return window.__pwned")
        if pwned is not None:
            failures.append(f"{path}: window.__pwned is {pwned!r}")
        injected = driver.execute_script(
            "return document.querySelectorAll('img[src=\"x\"], img[onerror], main script').length")
        if injected:
            failures.append(f"{path}: the commit message became {injected} element(s)")
        if XSS_ESCAPED not in driver.page_source:
            failures.append(f"{path}: the escaped commit message is not in the page")
        try:
            assert_only_same_origin_resources(driver)
        except AssertionError as exc:
            failures.append(str(exc))

        resp = page_get(server, path, cookie)
        html = resp.body.decode(errors="replace")
        if resp.status != 200:
            failures.append(f"GET {path}: {resp.status}")
        if XSS_ESCAPED not in html:
            failures.append(f"GET {path}: the HTML lacks {XSS_ESCAPED!r}")
        if "<script>window.__pwned" in html or "<img src=x" in html:
            failures.append(f"GET {path}: the commit message is in the HTML unescaped")
        try:
            assert_page_headers(resp, f"GET {path}")
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_pages_send_security_headers_and_name_only_same_origin_resources(server: SlipwayServer,
                                                                         driver: WebDriver, state: State):
    state.need("v1")
    cookie = session_cookie(driver)
    for path in ("/", "/deploy", f"/apps/{state.app}", f"/deployments/{state.deployments['v1']}"):
        assert_page_headers(page_get(server, path, cookie), f"GET {path}")
        driver.get(server.url(path))
        wait_css(driver, "main")
        assert_only_same_origin_resources(driver)
    assert_page_headers(page_get(server, "/login", None), "GET /login")
    for asset, ctype in (("/static/app.js", "text/javascript"), ("/static/app.css", "text/css")):
        resp = page_get(server, asset, None)
        assert resp.status == 200 and resp.headers.get("content-type", "").startswith(ctype), (
            f"GET {asset}: {resp.status} {resp.headers.get('content-type')!r}")
        assert resp.headers.get("x-content-type-options", "").lower() == "nosniff", f"GET {asset} without nosniff"


# --- Tests: deleting, logging out ----------------------------------------------------------------

def test_delete_from_the_dashboard_after_confirming(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("port")
    driver.get(server.url("/"))
    card = f'article.app-card[data-app="{state.app}"]'
    wait_css(driver, card)

    # Dismissing the confirmation deletes nothing.
    css(driver, f'{card} button[data-action="delete"]').click()
    alert = wait_for(driver, EC.alert_is_present(), "the delete confirmation")
    assert state.app in alert.text, f"the confirmation {alert.text!r} does not name the app"
    alert.dismiss()
    assert all_css(driver, card) and path_of(driver) == "/"
    assert api(server, "GET", f"/api/apps/{state.app}").status == 200, "dismissing the confirmation deleted the app"

    old = driver.find_element(By.TAG_NAME, "html")
    css(driver, f'{card} button[data-action="delete"]').click()
    accept_confirm(driver, state.app)
    wait_for(driver, unloaded(old), "the dashboard after deleting", DEPLOY_TIMEOUT_S)
    wait_css(driver, "section#empty-state")
    assert path_of(driver) == "/", f"deleting led to {driver.current_url}"
    assert not all_css(driver, card), "the deleted app's card is still there"
    assert api(server, "GET", f"/api/apps/{state.app}").status == 404, "the app still exists after deleting it"
    state.deleted = True
    poll(lambda: (lambda seen: (not (isinstance(seen, tuple) and seen[0] == 200), seen))(fetch_app(state.port)),
         SERVE_TIMEOUT_S, f"the deleted app's port {state.port} to stop serving")


def test_logout_ends_the_session(server: SlipwayServer, driver: WebDriver, state: State):
    state.need("logged_in")
    driver.get(server.url("/"))
    cookie = session_cookie(driver)
    navigates(driver, lambda: css(driver, "button#logout").click())
    assert path_of(driver) == "/login", f"logging out led to {driver.current_url}"
    assert driver.get_cookie("slipway_session") is None, f"the session cookie survived logging out: {driver.get_cookies()}"
    driver.get(server.url("/"))
    wait_for(driver, lambda d: path_of(d) == "/login", "GET / after logging out to end on /login")
    wait_css(driver, "form#login-form")
    # The old cookie is dead on the server too, not just forgotten by the browser.
    resp = page_get(server, "/", cookie)
    assert resp.status == 303 and resp.headers.get("location") == "/login", (
        f"GET / with the logged-out session: expected 303 to /login, got {resp.status} {resp.headers.get('location')!r}")
    state.logged_in = False


# --- Tests: an app at its domain, through the HTTP edge (a server of its own) ---------------------------

# Chromium resolves every name under .test to loopback, so the browser asks for the app by name and
# sends that name in Host, as it would for a real domain whose DNS points at the server.
HOST_RESOLVER_RULES = "MAP *.test 127.0.0.1"


def dump_dom(url: str, profile: Path, timeout: float = 60.0) -> str:
    """The DOM headless Chromium ends up with at `url`, scripts run (`--dump-dom`)."""
    proc = subprocess.run(
        [CHROMIUM, *CHROME_FLAGS, "--no-proxy-server", f"--host-resolver-rules={HOST_RESOLVER_RULES}",
         f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"chromium --dump-dom {url} exited {proc.returncode}:\n{tail(proc.stderr, 20)}"
    return proc.stdout


def test_an_app_opens_at_its_domain_through_the_edge(work: Path, state: State):
    for path in (CHROMIUM,):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing; scripts/test-env.sh installs Debian's chromium", pytrace=False)
    edge_port = loopback.free_port()
    edge = start_slipway(work, "edge", ("--http-port", str(edge_port)))
    name, domain = f"bt{state.run_id}-edge", f"web-{state.run_id}.bt.test"
    page = (f'<!doctype html><html><body><h1 id="greeting">served at its domain {state.run_id}</h1>'
            '<p id="where"></p><script>document.getElementById("where").textContent = "opened as " + location.host;'
            "</script></body></html>")
    problems = []
    try:
        repo = GitRepo.create(work / "edge-repo", {"Dockerfile": dockerfile(state.run_id), "index.html": page + "\n"},
                              message="the edge's page")
        resp = api(edge, "POST", "/api/apps", {"repo_url": repo.url, "name": name, "domains": [domain.upper()]})
        assert resp.status == 201, f"POST /api/apps: {resp.status} {resp.body[:300]!r}"
        dep_id = resp.json()["deployment_id"]

        def finished():
            dep = api(edge, "GET", f"/api/deployments/{dep_id}").json()
            return dep["status"] not in IN_PROGRESS, dep["status"]

        status = poll(finished, DEPLOY_TIMEOUT_S, f"deployment {dep_id} of {name} to finish", interval=0.2)
        assert status == "succeeded", (f"deployment {dep_id} ended {status}; log tail:\n"
                                       f"{tail(api(edge, 'GET', f'/api/deployments/{dep_id}/log').body.decode(), 20)}")

        url = f"http://{domain}:{edge_port}/"
        dom = dump_dom(url, work / "chromium-edge-profile")
        assert f'<h1 id="greeting">served at its domain {state.run_id}</h1>' in dom, f"{url} showed:\n{dom[:1500]}"
        assert f'<p id="where">opened as {domain}:{edge_port}</p>' in dom, f"the page's script saw another host:\n{dom[:1500]}"

        # A name no app has: the edge's own page, naming no app.
        other = dump_dom(f"http://nobody-{state.run_id}.bt.test:{edge_port}/", work / "chromium-edge-profile")
        assert "No app here" in other and name not in other, other[:1500]
    finally:
        try:
            resp = api(edge, "DELETE", f"/api/apps/{name}")
            if resp.status not in (204, 404):
                problems.append(f"DELETE /api/apps/{name}: {resp.status} {resp.body[:200]!r}")
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"DELETE /api/apps/{name}: {exc}")
        code = stop_server(edge)
        problems += remove_docker_objects(name)
        if code != 0:
            problems.append(f"the edge server exited with {code}; stderr tail:\n{tail(edge.stderr_text())}")
    assert not problems, "cleanup: " + "; ".join(problems)


# --- Tests: login throttling (its own server: it locks 127.0.0.1 out for a minute) ------------------

def test_sixth_failed_login_within_a_minute_is_throttled(work: Path, driver: WebDriver):
    throttled = start_slipway(work, "throttle")
    try:
        for attempt in range(1, 6):
            resp = form_post(throttled, "/login", {"password": f"wrong-{attempt}"})
            assert resp.status == 401, f"failed login {attempt} of 5: expected 401, got {resp.status}"

        # The sixth attempt, in the browser and with the right password: refused before it is checked.
        driver.delete_all_cookies()
        log_in(driver, throttled, ADMIN_PASSWORD)
        error = wait_css(driver, "p#login-error")
        assert "Too many failed attempts" in error.text, f"the sixth login attempt shows {error.text!r}"
        assert driver.get_cookie("slipway_session") is None, "a throttled login set a session cookie"
        driver.get(throttled.url("/"))
        wait_for(driver, lambda d: path_of(d) == "/login", "GET / after a throttled login to end on /login")

        resp = form_post(throttled, "/login", {"password": ADMIN_PASSWORD})
        page = resp.body.decode(errors="replace")
        assert resp.status == 429, f"POST /login after 5 failures: expected 429, got {resp.status}"
        assert "Too many failed attempts" in page and "set-cookie" not in resp.headers
        retry = resp.headers.get("retry-after", "")
        assert retry.isdigit() and 1 <= int(retry) <= 60, f"Retry-After {retry!r}"
    finally:
        code = stop_server(throttled)
        assert code == 0, f"the throttling server exited with {code}; stderr tail:\n{tail(throttled.stderr_text())}"
