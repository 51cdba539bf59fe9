"""The `cryptoflow` entry point: usage errors are one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", *args], capture_output=True, text=True, timeout=120
    )


def test_unknown_option_is_a_usage_error() -> None:
    result = run("stack", "status", "--no-such-option")
    assert result.returncode == 2
    assert "No such option: --no-such-option" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "No such command 'no-such-command'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bare_command_shows_the_subcommands() -> None:
    result = run()
    output = result.stdout + result.stderr
    for command in ("stack", "config", "data", "backtest", "sink", "replay", "demo"):
        assert command in output
    assert "Traceback" not in output
