"""``cryptoflow execute`` and ``cryptoflow status`` through the console script: a bot file's problems
stop the command with exit code 2, naming the file and the field; the status of a bot read back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from auto_trade import Executor, bot_broker, executor_state_path
from cryptoflow.portfolio import load_bot
from cryptoflow.testing.services import clean_env
from tests.auto_trade._bots import bot_text, signal

pytestmark = pytest.mark.slow  # one console-script process per case


def cryptoflow(folder: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = clean_env(CRYPTOFLOW_STACK__HOME=str(folder / "home"), COLUMNS="200", **settings)
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        env=env,
    )


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda text: text.replace('"basic"', '"no_such_strategy"'), "strategies[1].strategy"),
        (
            lambda text: text.replace("fraction = 0.5", "fraction = 0.6"),
            "strategies[*].fraction: the strategies' shares add up to 120%",
        ),
        (
            lambda text: text.replace('broker = "paper"', 'broker = "live"'),
            "broker: 'live' trades real money",
        ),
        (lambda text: text.replace('broker = "paper"', 'broker = "testnet"'), "CRYPTOFLOW_BINANCE__API_KEY"),
        (
            lambda text: text.replace("total = 10000.0", "totl = 10000.0"),
            "capital.totl: unknown setting; did you mean 'total'?",
        ),
    ],
    ids=[
        "unknown strategy",
        "allocation above 100 %",
        "live without --live",
        "testnet without keys",
        "a typo",
    ],
)
def test_a_bad_bot_file_stops_execute_naming_file_and_field(tmp_path: Path, edit, says: str) -> None:
    (tmp_path / "bot.toml").write_text(edit(bot_text()))
    result = cryptoflow(tmp_path, "execute", "--bot", "bot.toml")
    assert result.returncode == 2, result.stderr
    assert "bot file 'bot.toml'" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_bot_file_and_a_missing_state_are_named(tmp_path: Path) -> None:
    missing = cryptoflow(tmp_path, "execute", "--bot", "nowhere.toml")
    assert missing.returncode == 2 and "bot file 'nowhere.toml' does not exist" in missing.stderr
    (tmp_path / "bot.toml").write_text(bot_text())
    never_ran = cryptoflow(tmp_path, "status", "--bot", "bot.toml", "--state-dir", "state")
    assert never_ran.returncode == 2 and "no executor state for bot 'test-bot'" in never_ran.stderr


def test_status_shows_the_positions_the_profit_and_the_locks(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(bot_text("[protections]\nmax_open_positions = 1\n"))
    bot = load_bot(path)
    state = tmp_path / "state"
    executor = Executor(
        bot, bot_broker(bot, state), executor_state_path(state, bot), lambda e: None, lambda: None
    )

    async def trade() -> None:
        await executor.start()
        for event in (
            signal(0, "entry_long", 4000.0),
            signal(1, "exit_long", 4040.0),
            signal(2, "entry_short", 115_000.0, symbol="BTCUSDT", strategy="custom"),
        ):
            await executor.handle(event)

    asyncio.run(trade())
    result = cryptoflow(tmp_path, "status", "--bot", "bot.toml", "--state-dir", "state")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "bot test-bot (paper)" in out and "1 open position(s)" in out
    assert "BTCUSDT" in out and "short" in out and "custom (run sig-custom)" in out
    # the ETHUSDT round trip (0.8333 x +40 minus 2.68 fees) closed on 2025-08-01: in the total, not today's
    (basic,) = [line for line in out.splitlines() if "basic (run sig-basic)" in line]
    assert [cell.strip() for cell in basic.split("│")[2:6]] == ["0", "+0.00", "1", "+30.65"]
    assert "LOCK max_open_positions locks all symbols" in out
