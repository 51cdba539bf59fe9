"""Options of the live commands that used to be accepted silently, through the real console script: each
is refused up front with one message naming the option and the fix, exit 2 (usage), no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))  # the console script pip installed
INTERVALS = "1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = clean_env()
    # a guard only: before, these ran (and retried) until killed
    return subprocess.run([CRYPTOFLOW, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


@pytest.mark.parametrize("command", ["trade", "indicators"])
@pytest.mark.parametrize("interval", ["7m", "1M", "5"])
def test_an_interval_binance_does_not_stream_is_refused(tmp_path: Path, command: str, interval: str) -> None:
    result = run(command, "--interval", interval, "--no-kafka", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: --interval {interval!r} is not a kline interval Binance streams; use one of {INTERVALS}\n"
    )
    assert not (tmp_path / "state").exists()  # refused before anything was set up


@pytest.mark.parametrize("broker", ["paper", "testnet"])
def test_live_flag_without_the_live_broker_is_refused(tmp_path: Path, broker: str) -> None:
    result = run("trade", "--broker", broker, "--live", "--no-kafka", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "error: --live confirms real-money trading with --broker live; it does not go with "
        f"--broker {broker}: "
        "drop --live, or use --broker live\n"
    )


def test_live_broker_still_needs_the_live_flag(tmp_path: Path) -> None:
    result = run("trade", "--broker", "live", "--no-kafka", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: --broker live trades real money: add --live to confirm\n"
