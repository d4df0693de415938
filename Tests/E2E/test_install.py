"""`make install`: the binary, the templates, a systemd unit and the settings file, staged under
DESTDIR (the `install-files` target, with the binary the tests run, so no second build). The
installed binary is then started from where it was put: it finds its templates beside it; after
installing again, a reload (SIGHUP) hands over to the binary now at that path.

Cleaning up: everything is in the test's own temporary directories; the server it starts, and
its successor, are stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

from conftest import REPO_ROOT, SERVE_FLAGS, SlipwayServer, require_binary, server_env, wait_until
from slipway_process import alive


def install(destdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "install-files", f"DESTDIR={destdir}", f"BIN={require_binary()}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_make_install_stages_the_binary_templates_unit_and_a_private_settings_file(tmp_path):
    destdir = tmp_path / "root"
    done = install(destdir)
    assert done.returncode == 0, done.stdout + done.stderr
    binary = destdir / "opt/slipway/slipway"
    assert binary.is_file() and mode(binary) == 0o755
    assert (destdir / "opt/slipway/Templates/layout.html").is_file()
    unit = (destdir / "etc/systemd/system/slipway.service").read_text()
    for line in ["ExecStart=/opt/slipway/slipway serve", "Restart=always", "EnvironmentFile=/etc/slipway/env",
                 "Environment=SLIPWAY_DATA_DIR=/var/lib/slipway", "StateDirectory=slipway", "User=slipway",
                 "Type=notify", "NotifyAccess=all", "ExecReload=/bin/kill -HUP $MAINPID"]:
        assert line in unit.splitlines(), f"{line!r} not in the unit:\n{unit}"
    assert "@" not in unit, "every placeholder is filled"
    env = destdir / "etc/slipway/env"
    assert mode(env) == 0o600 and mode(destdir / "etc/slipway") == 0o700
    assert "SLIPWAY_HTTP_PORT=80" in env.read_text()

    # The installed binary, started from where it was put, finds its templates beside it.
    work = Path(tempfile.mkdtemp(prefix="slw-inst-"))  # a short path: DATA_DIR/takeover.sock is a Unix socket
    server = SlipwayServer.start(binary, data_dir=work / "data", flags=[*SERVE_FLAGS, "--app-ports", "off"], env=server_env(True),
                                 cwd=work, stdout_path=work / "out.log", stderr_path=work / "err.log")
    successor = 0
    try:
        login = server.request("GET", "/login")
        assert login.status == 200 and b"<form" in login.body, login.body[:300]

        # Installing again (an upgrade) replaces the binary and templates and keeps the settings.
        env.write_text("SLIPWAY_HTTP_PORT=8080\n")
        env.chmod(0o644)
        again = install(destdir)
        assert again.returncode == 0, again.stdout + again.stderr
        assert env.read_text() == "SLIPWAY_HTTP_PORT=8080\n" and mode(env) == 0o600, "the settings are kept, and private"

        # The reload (SIGHUP) runs the file now at the installed path, not the replaced one.
        server.proc.send_signal(signal.SIGHUP)
        assert server.proc.wait(30) == 0, (work / "err.log").read_text()[-2000:]
        found = [int(p) for p in os.listdir("/proc") if p.isdigit() and Path(f"/proc/{p}/cmdline").exists()
                 and str(work).encode() in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(found) == 1, found
        successor = found[0]
        assert os.readlink(f"/proc/{successor}/exe") == str(binary), "the successor is the newly installed binary"
        login = server.request("GET", "/login")
        assert login.status == 200 and b"<form" in login.body, "the successor serves the dashboard on the same port"
    finally:
        if server.proc.poll() is None:
            server.assert_clean_stop()
        if successor:
            os.kill(successor, signal.SIGTERM)
            wait_until(lambda: not alive(successor), 15, "the successor to stop on SIGTERM")
        shutil.rmtree(work, ignore_errors=True)
