"""A real ACME CA for the tests, offline: Debian's `pebble` and its fake DNS `pebble-challtestsrv`.

Both run on loopback with ports of the caller's choosing (scripts/test-env.sh installs them).
Pebble validates HTTP-01 by connecting to the domain's address (127.0.0.1 from the fake DNS
unless `records` says otherwise) on its `httpPort`, and TLS-ALPN-01 on its `tlsPort`; it refuses
5 % of good nonces on purpose (`badNonce`), which the client must retry. Its own HTTPS
certificate is made here with openssl and given to Slipway as `--acme-ca-file`; its issuing root,
made anew at each start, is fetched from its management port (`issuing_root`).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import HOST, poll
from deploykit import DRAIN_TIMEOUT_S, HEALTH_TIMEOUT_S, TEST_LABEL
from loopback import free_port


@dataclass
class CA:
    directory: str
    ca_file: Path
    management: int
    log: Path
    # Starts pebble (again) on the same ports and configuration; stops it.
    start_pebble: Callable[[], None]
    stop_pebble: Callable[[], None]

    def issuing_root(self, into: Path) -> Path:
        """Pebble's issuing root, made anew at each start: what a client of the apps trusts."""
        with urllib.request.urlopen(f"https://localhost:{self.management}/roots/0",
                                    context=ssl.create_default_context(cafile=str(self.ca_file)), timeout=10) as resp:
            root = resp.read().decode()
        path = into / "root.pem"
        path.write_text(root)
        return path


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is missing; scripts/test-env.sh installs it", pytrace=False)
    return path


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def pebble_ca(work: Path, http_port: int, tls_port: int, validity_s: int, records: dict[str, str] = {},
              nonce_reject_percent: int = 5) -> Iterator[CA]:
    """Pebble validating challenges on `http_port` (HTTP-01) and `tls_port` (TLS-ALPN-01), issuing
    certificates valid `validity_s` and refusing `nonce_reject_percent` of good nonces (`badNonce`;
    its default is 5); `records` are A records for the fake DNS (name to address), every other
    name resolving to 127.0.0.1."""
    dns, dns_management, listen, management = free_port(), free_port(), free_port(), free_port()
    cert, key = work / "pebble.crt", work / "pebble.key"
    made = subprocess.run([need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", str(key), "-out", str(cert), "-days", "7", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    config = work / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"{HOST}:{listen}", "managementListenAddress": f"{HOST}:{management}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": tls_port,
        "ocspResponderURL": "", "externalAccountBindingRequired": False, "certificateValidityPeriod": validity_s}}))
    logs = []
    dns_log = open(work / "challtestsrv.log", "wb")
    logs.append(dns_log)
    fake_dns = subprocess.Popen([need("pebble-challtestsrv"), "-dns01", f"{HOST}:{dns}", "-http01", "", "-https01", "",
                                 "-tlsalpn01", "", "-management", f"{HOST}:{dns_management}", "-defaultIPv4", HOST,
                                 "-defaultIPv6", ""], stdout=dns_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log_path = work / "pebble.log"
    pebble_log = open(log_path, "ab")
    logs.append(pebble_log)
    pebble: dict[str, subprocess.Popen] = {}
    trust = ssl.create_default_context(cafile=str(cert))

    def answering():
        try:
            with urllib.request.urlopen(f"https://localhost:{listen}/dir", context=trust, timeout=2) as resp:
                return resp.status == 200, resp.status
        except OSError as exc:
            return False, repr(exc)

    def start_pebble():
        pebble["proc"] = subprocess.Popen([need("pebble"), "-config", str(config), "-dnsserver", f"{HOST}:{dns}"],
                                          env=dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT=str(nonce_reject_percent)), cwd=work,
                                          stdout=pebble_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        poll(answering, 30, "pebble's directory to answer")

    def stop_pebble():
        stop(pebble["proc"])

    def add_record(name: str, address: str):
        def added():
            try:
                request = urllib.request.Request(f"http://{HOST}:{dns_management}/add-a", method="POST",
                                                 data=json.dumps({"host": name + ".", "addresses": [address]}).encode())
                with urllib.request.urlopen(request, timeout=2) as resp:
                    return resp.status == 200, resp.status
            except OSError as exc:
                return False, repr(exc)

        poll(added, 30, f"the fake DNS to take the record for {name}")

    try:
        start_pebble()
        for name, address in records.items():
            add_record(name, address)
        yield CA(f"https://localhost:{listen}/dir", cert, management, log_path, start_pebble, stop_pebble)
    finally:
        if "proc" in pebble:
            stop(pebble["proc"])
        stop(fake_dns)
        for log in logs:
            log.close()


# --- Slipway with an app ordering from it ----------------------------------------------------------


def acme_server_flags(ca: CA, http_port: int, https_port: int, retry_s: int, *extra: str) -> list[str]:
    """Slipway's flags for an edge-only server ordering its certificates from `ca`."""
    return ["--allow-local-repos", "--app-ports", "off", "--container-label", TEST_LABEL,
            "--health-timeout", str(HEALTH_TIMEOUT_S), "--drain-timeout", str(DRAIN_TIMEOUT_S),
            "--http-port", str(http_port), "--https-port", str(https_port), *extra,
            "--acme-email", "ops@example.com", "--acme-directory", ca.directory, "--acme-ca-file", str(ca.ca_file),
            "--acme-retry-seconds", str(retry_s)]


# --- Clients that verify the chain against pebble's root ------------------------------------------


def curl_get(url: str, root: Path, host: str, port: int) -> subprocess.CompletedProcess:
    """curl verifying against `root` only, `host` resolved to loopback."""
    return subprocess.run([need("curl"), "--silent", "--show-error", "--max-time", "10", "--cacert", str(root),
                           "--resolve", f"{host}:{port}:{HOST}", "--", url], capture_output=True, text=True, timeout=30)


def chromium_dom(url: str, root: Path, host: str, work: Path) -> str:
    """The page headless Chromium shows for `url`, trusting `root` through an NSS database of its
    own (a HOME of its own: Chromium on Linux reads $HOME/.pki/nssdb), `host` resolved to
    loopback. A certificate it does not trust shows Chromium's error page instead."""
    home = work / "chromium-home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(home))
    for args in (["-N", "--empty-password"], ["-A", "-n", "pebble-root", "-t", "C,,", "-i", str(root)]):
        made = subprocess.run([need("certutil"), "-d", f"sql:{nssdb}", *args], capture_output=True, text=True, timeout=30, env=env)
        assert made.returncode == 0 or "already exists" in made.stderr, made.stderr
    shown = subprocess.run([need("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--no-first-run", "--disable-background-networking", "--disable-extensions", "--disable-sync",
                            f"--user-data-dir={work / 'chromium-profile'}", f"--host-resolver-rules=MAP {host} {HOST}",
                            "--dump-dom", url], capture_output=True, text=True, timeout=60, env=env)
    return shown.stdout
