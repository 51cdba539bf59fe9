"""The bot file: the shipped example loads, and every mistake gets a message naming the file and the
field and saying how to fix it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoflow.config import BinanceSettings, Settings
from cryptoflow.errors import ConfigurationError
from cryptoflow.portfolio import Bot, budgets, check_broker, load_bot

EXAMPLE = Path(__file__).resolve().parents[2] / "docker" / "bot.example.toml"

Write = Callable[[str], Path]

HEAD = """
name = "b"
interval = "5m"
symbols = ["ETHUSDT", "BTCUSDT"]
"""
CAPITAL = """
[capital]
total = 1000
"""
BASIC = """
[[strategies]]
strategy = "basic"
run_id = "sig-basic"
"""


def error_of(path: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_bot(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


pytestmark = pytest.mark.usefixtures("no_settings")


def test_the_example_bot_file_loads() -> None:
    bot = load_bot(EXAMPLE)
    assert bot.source == f"bot file {str(EXAMPLE)!r}"
    assert (bot.name, bot.interval, bot.broker) == ("paper-two-strategies", "5m", "paper")
    assert [s.describe() for s in bot.strategies] == ["basic (run sig-basic)", "custom (run sig-custom)"]
    assert bot.strategies[0].load().stop_loss_pct == 2.0
    assert (bot.capital.leverage, bot.capital.margin_type, bot.entry.type) == (2, "ISOLATED", "limit")
    protections = bot.protections
    assert protections.max_open_positions == 3
    assert protections.cooldown is not None and protections.cooldown.stop_duration_candles == 3
    assert protections.stoploss_guard is not None and protections.stoploss_guard.trade_limit == 3
    assert protections.max_drawdown is not None and protections.max_drawdown.max_allowed_drawdown == 0.15
    assert protections.daily_loss is not None and protections.daily_loss.max_loss == 0.05
    split = budgets(bot)
    assert split[("sig-basic", "SOLUSDT")] == pytest.approx(5000 / 3)
    assert split[("sig-custom", "ETHUSDT")] == pytest.approx(2400.0)
    assert split[("sig-custom", "SOLUSDT")] == 0.0
    assert sum(split.values()) == pytest.approx(9000.0)


def test_a_strategy_that_does_not_exist(write_bot: Write) -> None:
    path = write_bot(HEAD + CAPITAL + BASIC + '[[strategies]]\nstrategy = "nosuch"\nrun_id = "r2"\n')
    assert error_of(path) == (
        f"bot file {str(path)!r}:\n"
        "  strategies[2].strategy: unknown strategy 'nosuch'; use one of basic, custom, ensemble, "
        "a file path 'path/to/file.py[:ClassName]' or 'package.module:ClassName'"
    )


def test_a_strategy_file_next_to_the_bot_file_and_a_missing_one(write_bot: Write, tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from cryptoflow.strategies import Strategy\n\n"
        "class Mine(Strategy):\n    name = 'mine'\n    rsi_below: float = 25.0\n"
    )
    entry = '[[strategies]]\nstrategy = "{}"\nrun_id = "sig-mine"\nparams = {{ rsi_below = 20 }}\n'
    bot = load_bot(write_bot(HEAD + CAPITAL + entry.format("mine.py:Mine")))
    assert bot.strategies[0].name == "mine"
    assert bot.strategies[0].load().params()["rsi_below"] == 20

    path = write_bot(HEAD + CAPITAL + entry.format("theirs.py"))
    missing = tmp_path / "theirs.py"
    assert error_of(path) == (
        f"bot file {str(path)!r}:\n  strategies[1].strategy: strategy file {str(missing)!r} does not exist"
    )


def test_a_parameter_the_strategy_does_not_have(write_bot: Write) -> None:
    path = write_bot(HEAD + CAPITAL + BASIC + "params = { stop_los_pct = 2 }\n")
    message = error_of(path)
    assert message.startswith(
        f"bot file {str(path)!r}:\n  strategies[1].params: unknown parameter(s) 'stop_los_pct' for "
        "strategy 'basic'; known: "
    )
    assert "stop_loss_pct" in message


def test_strategies_above_100_percent_of_the_capital(write_bot: Write) -> None:
    path = write_bot(
        HEAD + CAPITAL + BASIC + "fraction = 0.7\n"
        '[[strategies]]\nstrategy = "custom"\nrun_id = "sig-custom"\nfraction = 0.5\n'
    )
    assert error_of(path) == (
        f"bot file {str(path)!r}:\n"
        "  strategies[*].fraction: the strategies' shares add up to 120% (0.7 + 0.5), above 100% of the "
        "capital; lower them so that they add up to at most 1.0"
    )


def test_symbols_above_100_percent_of_a_strategy(write_bot: Write) -> None:
    path = write_bot(HEAD + CAPITAL + BASIC + "symbols = { ETHUSDT = 0.7, btcusdt = 0.5 }\n")
    assert error_of(path) == (
        f"bot file {str(path)!r}:\n"
        "  strategies[1].symbols: the symbols' shares add up to 120%, above 100% of basic's capital; "
        "lower them so that they add up to at most 1.0"
    )


def test_every_problem_at_once(write_bot: Write) -> None:
    path = write_bot(
        'name = "b"\ninterval = "7x"\nsymbols = ["ETHUSDT"]\n'
        "[capital]\ntotal = 1000\nleverge = 2\n"
        '[[strategies]]\nstrategy = "nosuch"\nrun_id = "r1"\n'
        "[protections.cooldown]\nstop_duration = 3\nstop_duration_candles = 2\n"
    )
    assert error_of(path).splitlines() == [
        f"bot file {str(path)!r}:",
        "  interval: unknown candle interval '7x': expected a number and a unit s, m, h, d or w (Binance's "
        "are 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w) (got '7x')",
        "  capital.leverge: unknown setting; did you mean 'leverage'?",
        "  protections.cooldown: give exactly one of stop_duration_candles (candles) or stop_duration "
        "(minutes)",
        "  strategies[1].strategy: unknown strategy 'nosuch'; use one of basic, custom, ensemble, a file "
        "path 'path/to/file.py[:ClassName]' or 'package.module:ClassName'",
    ]


def test_missing_settings_and_ids_used_twice(write_bot: Write) -> None:
    path = write_bot(HEAD + BASIC + BASIC)
    missing = f"bot file {str(path)!r}:\n  capital: missing; add it (see docker/bot.example.toml)"
    assert error_of(path) == missing
    path = write_bot(HEAD + CAPITAL + BASIC + BASIC)
    assert error_of(path) == (
        f"bot file {str(path)!r}:\n  strategies[2].run_id: 'sig-basic' is already the run of strategies[1]; "
        "each followed strategy trades the signals of its own run"
    )


def test_a_file_that_is_not_toml_or_not_there(write_bot: Write, tmp_path: Path) -> None:
    path = write_bot('name = "b\n')
    assert error_of(path).startswith(f"bot file {str(path)!r} is not valid TOML: ")
    assert error_of(tmp_path / "none.toml") == f"bot file {str(tmp_path / 'none.toml')!r} does not exist"


# ---- the broker -------------------------------------------------------------------------------------


def bot_on(write_bot: Write, broker: str, confirmed: bool = False) -> Bot:
    head = HEAD + f'broker = "{broker}"\nlive_confirmed = {str(confirmed).lower()}\n'
    return load_bot(write_bot(head + CAPITAL + BASIC))


KEYS = Settings(binance=BinanceSettings(api_key="k-123-secret", api_secret="s-456-secret"))


def test_a_live_bot_needs_a_confirmation(write_bot: Write) -> None:
    bot = bot_on(write_bot, "live")
    with pytest.raises(ConfigurationError) as caught:
        check_broker(bot, live_flag=False, settings=KEYS)
    assert str(caught.value) == (
        f"{bot.source}: broker: 'live' trades real money; confirm it with live_confirmed = true in the "
        "file or --live on the command line"
    )
    check_broker(bot, live_flag=True, settings=KEYS)
    check_broker(bot_on(write_bot, "live", confirmed=True), live_flag=False, settings=KEYS)


def test_live_flag_with_another_broker(write_bot: Write) -> None:
    bot = bot_on(write_bot, "paper")
    with pytest.raises(ConfigurationError) as caught:
        check_broker(bot, live_flag=True, settings=Settings())
    assert str(caught.value) == (
        f"{bot.source}: broker: --live confirms real-money trading but the bot's broker is 'paper'; "
        'drop --live, or set broker = "live"'
    )
    check_broker(bot, live_flag=False, settings=Settings())  # paper needs no keys


@pytest.mark.parametrize("broker", ["testnet", "live"])
def test_testnet_and_live_need_api_keys(write_bot: Write, broker: str) -> None:
    bot = bot_on(write_bot, broker, confirmed=True)
    with pytest.raises(ConfigurationError) as caught:
        check_broker(bot, live_flag=False, settings=Settings())
    assert str(caught.value) == (
        f"{bot.source}: broker: {broker!r} needs Binance API keys; set CRYPTOFLOW_BINANCE__API_KEY and "
        "CRYPTOFLOW_BINANCE__API_SECRET (environment or .env)"
    )
    half = Settings(binance=BinanceSettings(api_key="k-123-secret"))
    with pytest.raises(ConfigurationError) as caught:
        check_broker(bot, live_flag=False, settings=half)
    assert "set CRYPTOFLOW_BINANCE__API_SECRET (environment or .env)" in str(caught.value)
    assert "k-123-secret" not in str(caught.value)
    check_broker(bot, live_flag=False, settings=KEYS)
