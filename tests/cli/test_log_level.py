"""``CRYPTOFLOW_LOG_LEVEL`` (the ``log_level`` setting) sets the level of the ``cryptoflow`` command's log;
``--verbose`` still means DEBUG. Run through the installed console script, the way docker compose runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cryptoflow.testing.fake_binance import FakeExchange, replay_exchange

pytestmark = pytest.mark.slow  # one console-script process per case

CONSOLE_SCRIPT = Path(sys.executable).with_name("cryptoflow")
INFO_LINE = " INFO cryptoflow.binance._download: downloaded "
DEBUG_LINE = " DEBUG urllib3.connectionpool: Starting new HTTP connection"


@pytest.fixture(scope="module")
def exchange(shared_data: Path) -> Iterator[FakeExchange]:
    ex = replay_exchange(shared_data, symbols=("ETHUSDT",), history=60, limit=8)
    yield ex
    ex.stop_thread()


def download(exchange: FakeExchange, folder: Path, *extra: str, level: str | None = None) -> str:
    """Download a few candles from the fake exchange; the log (stderr)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "CRYPTOFLOW_BINANCE__BASE_URL": exchange.base_url}
    start, end = (_iso(int(exchange.market.grid[i])) for i in (0, 10))  # candles already in the past
    if level is not None:
        env["CRYPTOFLOW_LOG_LEVEL"] = level
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), *extra, "data", "download", "--symbol", "ETHUSDT", "--interval", "5m",
         "--start", start, "--end", end, "--out", str(folder / "eth.csv"),
         "--min-interval", "0"],
        env=env, cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (folder / "eth.csv").unlink()
    return result.stderr


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_info_is_the_default(exchange: FakeExchange, tmp_path: Path) -> None:
    log = download(exchange, tmp_path)
    assert INFO_LINE in log
    assert " DEBUG " not in log


def test_debug_from_the_setting(exchange: FakeExchange, tmp_path: Path) -> None:
    log = download(exchange, tmp_path, level="DEBUG")
    assert DEBUG_LINE in log
    assert INFO_LINE in log


def test_warning_from_the_setting_hides_info(exchange: FakeExchange, tmp_path: Path) -> None:
    log = download(exchange, tmp_path, level="WARNING")
    assert " INFO " not in log
    assert " DEBUG " not in log


def test_the_setting_may_come_from_the_env_file(exchange: FakeExchange, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CRYPTOFLOW_LOG_LEVEL=WARNING\n")
    assert INFO_LINE not in download(exchange, tmp_path)


def test_verbose_still_means_debug(exchange: FakeExchange, tmp_path: Path) -> None:
    assert DEBUG_LINE in download(exchange, tmp_path, "--verbose", level="WARNING")


def test_a_wrong_level_is_a_configuration_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "data", "check", "nothing.csv"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CRYPTOFLOW_LOG_LEVEL": "LOUD"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CRYPTOFLOW_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in result.stderr
    assert "Traceback" not in result.stderr


def test_other_bad_settings_do_not_stop_a_command_that_does_not_read_them(tmp_path: Path) -> None:
    """``data check`` reads no Kafka setting: a wrong one must not stop it just because logging looked."""
    csv = tmp_path / "candles.csv"
    csv.write_text("open_time,open,high,low,close,volume\n2025-08-01T00:00:00Z,1,2,0.5,1.5,10\n")
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "data", "check", str(csv)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS": "nope"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS" not in result.stderr
    assert "Traceback" not in result.stderr
