"""Security of the dashboard and the API, through the real binary (issue 11, round two).

- Secrets: a password under 12 characters or a token under 24 stops the start with exit 2.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import HOST, require_binary, server_env


# --- Secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable, value, minimum", [
    pytest.param("SLIPWAY_ADMIN_PASSWORD", "elevenchars", 12, id="password-11"),
    pytest.param("SLIPWAY_API_TOKEN", "tok-" + "x" * 19, 24, id="token-23"),
])
def test_a_short_secret_stops_the_start_with_exit_2(tmp_path: Path, variable: str, value: str, minimum: int):
    env = {**server_env(), variable: value}
    try:
        done = subprocess.run([str(require_binary()), "serve", "--host", HOST, "--port", "0", "--data-dir", str(tmp_path / "data")],
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{variable} of {len(value)} characters was accepted: the server started and served")
    assert done.returncode == 2, f"exit {done.returncode}; stderr: {done.stderr!r}"
    assert variable in done.stderr and str(minimum) in done.stderr, f"the message names neither: {done.stderr!r}"
    assert value not in done.stderr + done.stdout, "the refused secret was printed"
