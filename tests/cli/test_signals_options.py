"""``cryptoflow signals`` refuses bad strategies and parameters up front, through the real console script:
exit 2 (usage), one line naming the option and the fix, no traceback, nothing set up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))  # the console script pip installed


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # Kafka is never reached: a case that got that far would fail on the timeout, not pass
    env = clean_env(
        CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1", CRYPTOFLOW_KAFKA__CONNECT_TIMEOUT_S="1"
    )
    return subprocess.run(
        [CRYPTOFLOW, "signals", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-s", "nope"],
            "unknown strategy 'nope'; use one of basic, custom, ensemble, a file path "
            "'path/to/file.py[:ClassName]' or 'package.module:ClassName'",
        ),
        (
            ["-s", "basic", "-p", "rsi_oversold=low"],
            "--strategy 'basic' (run basic): parameter 'rsi_oversold' expects a number, got 'low'",
        ),
        (
            ["-s", "basic@a", "-p", "a.stop_loss_pct=150"],
            "--strategy 'basic' (run a): basic: stop_loss_pct must be in (0, 100) or None, got 150",
        ),
        (
            ["-s", "basic@a", "-s", "custom@b", "-p", "c.rsi_oversold=20"],
            "--param 'c.rsi_oversold=20': no --strategy has run id 'c'; write RUN_ID.rsi_oversold=20 with "
            "RUN_ID one of: a, b",
        ),
        (
            ["-s", "basic@a", "-s", "custom@b", "-p", "rsi_oversold=20"],
            "--param 'rsi_oversold=20': say which strategy it is for; write RUN_ID.rsi_oversold=20 with "
            "RUN_ID one of: a, b",
        ),
        (
            ["-s", "basic", "-p", "a.rsi_oversold"],
            "--param expects RUN_ID.name=value (e.g. basic.stop_loss_pct=2), got 'a.rsi_oversold'",
        ),
        (
            ["-s", "basic", "-s", "basic"],
            "--strategy 'basic': run id 'basic' is taken by --strategy 'basic'; give each strategy its own: "
            "--strategy basic@ANOTHER_RUN_ID",
        ),
        (["-s", "basic@"], "--strategy 'basic@': the run id after '@' is empty"),
        ([], "give at least one --strategy NAME[@RUN_ID] (or --bot FILE)"),
        (["-s", "basic", "--candles-preset", "tv"], "unknown indicator preset 'tv': choose one of ta, seed"),
        (["--bot", "nothere.toml"], "bot file 'nothere.toml' does not exist"),
        (
            ["--bot", "nothere.toml", "-s", "basic"],
            "--bot names the strategies and their parameters: drop --strategy/--param",
        ),
    ],
)
def test_bad_strategies_and_parameters_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(*args, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, f"error: {message}\n")
    assert result.stdout == ""
    assert not (tmp_path / "state").exists()  # refused before anything was set up


def test_an_unknown_parameter_names_the_known_ones(tmp_path: Path) -> None:
    result = run("-s", "custom@c", "-p", "c.rsi_oversld=20", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "error: --strategy 'custom' (run c): unknown parameter(s) 'rsi_oversld' for strategy 'custom'; "
        "known: "
    )
    assert "rsi_oversold" in result.stderr and "Traceback" not in result.stderr
