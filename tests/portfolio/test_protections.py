"""Each protection blocks an entry in a scenario built for it, and the same scenario without that
protection enters: the test would fail if the protection did nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cryptoflow.brokers import ClosedTrade, Position
from cryptoflow.portfolio import Book, Bot, Intent, Lock, cooldown_lock, decide
from cryptoflow.testing.events import ms

Make = Callable[[str], Bot]

T0 = ms("2025-08-01T00:00:00Z")
CANDLE = 300_000  # 5m
DAY = 86_400_000


def closed(
    symbol: str, exit_candle: int, reason: str, pnl: float, *, quantity: float = 1.0, price: float = 1000.0
) -> ClosedTrade:
    """A long round trip closed on candle ``exit_candle`` (counted from T0) for ``pnl``."""
    exit_time = T0 + exit_candle * CANDLE
    exit_price = price + pnl / quantity
    return ClosedTrade(
        symbol, "long", exit_time - 3 * CANDLE, price, exit_time, exit_price, reason, quantity, pnl, 0.0
    )


def book_with(*trades: tuple[str, ClosedTrade], capital: float = 10_000.0) -> Book:
    book = Book(capital)
    for run_id, trade in trades:
        position = Position(trade.symbol, 1, trade.quantity, trade.entry_price, trade.entry_time)
        book.open(run_id, position)
        book.close(trade)
    return book


def entry(symbol: str, candle: int, run_id: str = "sig-basic") -> Intent:
    strategy = {"sig-basic": "basic", "sig-custom": "custom"}[run_id]
    return Intent(strategy, run_id, symbol, "entry_long", T0 + candle * CANDLE, 1000.0)


def only_lock(bot: Bot, book: Book, intent: Intent) -> Lock:
    decision = decide(bot, book, intent)
    assert (decision.verdict, decision.code) == ("skip", "locked"), decision
    assert len(decision.locks) == 1
    return decision.locks[0]


def enters(bot: Bot, book: Book, intent: Intent) -> bool:
    return decide(bot, book, intent).verdict == "enter"


# ---- max_open_positions ----------------------------------------------------------------------------


def test_max_open_positions_locks_every_entry_while_the_limit_is_open(make_bot: Make) -> None:
    book = Book(10_000.0)
    book.open("sig-basic", Position("ETHUSDT", 1, 1.0, 1000.0, T0))
    book.open("sig-custom", Position("BTCUSDT", -1, 0.1, 60_000.0, T0))
    sol = entry("SOLUSDT", 1)

    lock = only_lock(make_bot("[protections]\nmax_open_positions = 2\n"), book, sol)
    assert lock.protection == "max_open_positions"
    assert lock.until is None and lock.symbol is None
    assert lock.reason == "2 positions open, max_open_positions is 2; entries resume when one closes"

    assert enters(make_bot(""), book, sol)  # the same entry without the protection
    assert enters(make_bot("[protections]\nmax_open_positions = 3\n"), book, sol)


# ---- cooldown --------------------------------------------------------------------------------------

COOLDOWN = "[protections.cooldown]\nstop_duration_candles = 3\n"


def test_cooldown_locks_the_symbol_for_n_candles_after_a_stop(make_bot: Make) -> None:
    bot = make_bot(COOLDOWN)
    book = book_with(("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)))

    lock = only_lock(bot, book, entry("ETHUSDT", 1))
    assert (lock.protection, lock.symbol, lock.until) == ("cooldown", "ETHUSDT", T0 + 4 * CANDLE)
    assert lock.reason == "ETHUSDT closed by stop_loss at candle 2025-08-01T00:00:00.000Z"
    assert not enters(bot, book, entry("ETHUSDT", 3, "sig-custom"))  # every strategy, the symbol's lock
    assert enters(bot, book, entry("ETHUSDT", 4))  # three candles later
    assert enters(bot, book, entry("BTCUSDT", 1))  # another symbol

    assert enters(make_bot(""), book, entry("ETHUSDT", 1))  # without the protection


def test_cooldown_follows_stops_only_unless_told_otherwise(make_bot: Make) -> None:
    book = book_with(("sig-basic", closed("ETHUSDT", 0, "take_profit", 30.0)))
    assert enters(make_bot(COOLDOWN), book, entry("ETHUSDT", 1))
    any_exit = make_bot(COOLDOWN + "only_stop_loss = false\n")
    assert only_lock(any_exit, book, entry("ETHUSDT", 1)).protection == "cooldown"


def test_cooldown_in_minutes_ends_on_the_next_candle(make_bot: Make) -> None:
    bot = make_bot("[protections.cooldown]\nstop_duration = 7\n")  # 5m close + 7 min -> candle 3
    book = book_with(("sig-basic", closed("ETHUSDT", 0, "trailing_stop", -5.0)))
    assert only_lock(bot, book, entry("ETHUSDT", 2)).until == T0 + 3 * CANDLE
    assert enters(bot, book, entry("ETHUSDT", 3))


# ---- stoploss_guard --------------------------------------------------------------------------------

GUARD = """[protections.stoploss_guard]
lookback_period_candles = 12
trade_limit = 2
stop_duration_candles = 6
"""


def test_stoploss_guard_locks_every_symbol_after_trade_limit_stops(make_bot: Make) -> None:
    bot = make_bot(GUARD)
    book = book_with(
        ("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)),
        ("sig-custom", closed("BTCUSDT", 2, "stop_loss", -30.0)),
    )
    lock = only_lock(bot, book, entry("SOLUSDT", 3))
    assert (lock.protection, lock.symbol, lock.until) == ("stoploss_guard", None, T0 + 9 * CANDLE)
    assert lock.reason == "2 stops on the bot within 60 min up to 2025-08-01T00:10:00.000Z (trade_limit 2)"
    assert enters(bot, book, entry("SOLUSDT", 9))  # six candles after the second stop's candle

    assert enters(make_bot(""), book, entry("SOLUSDT", 3))  # without the protection
    one_stop = book_with(("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)))
    assert enters(bot, one_stop, entry("SOLUSDT", 3))  # below the trade limit


def test_stoploss_guard_counts_only_losing_stops_within_the_lookback(make_bot: Make) -> None:
    bot = make_bot(GUARD)
    far_apart = book_with(
        ("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)),
        ("sig-basic", closed("ETHUSDT", 13, "stop_loss", -20.0)),
    )
    assert enters(bot, far_apart, entry("SOLUSDT", 14))
    winning_trail = book_with(
        ("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)),
        ("sig-basic", closed("ETHUSDT", 2, "trailing_stop", 15.0)),
    )
    assert enters(bot, winning_trail, entry("SOLUSDT", 3))


def test_stoploss_guard_per_pair_locks_only_that_symbol(make_bot: Make) -> None:
    bot = make_bot(GUARD + "only_per_pair = true\n")
    book = book_with(
        ("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)),
        ("sig-custom", closed("ETHUSDT", 2, "stop_loss", -30.0)),
    )
    assert only_lock(bot, book, entry("ETHUSDT", 3)).symbol == "ETHUSDT"
    assert enters(bot, book, entry("SOLUSDT", 3))


# ---- max_drawdown ----------------------------------------------------------------------------------

DRAWDOWN = """[protections.max_drawdown]
lookback_period_candles = 48
trade_limit = 2
stop_duration_candles = 12
max_allowed_drawdown = 0.1
"""


def test_max_drawdown_locks_every_entry_after_the_equity_fell_too_far(make_bot: Make) -> None:
    bot = make_bot(DRAWDOWN)
    # 10,000 -> 10,100 -> 8,900: 11.9 % below the peak
    book = book_with(
        ("sig-basic", closed("ETHUSDT", 0, "take_profit", 100.0)),
        ("sig-custom", closed("BTCUSDT", 5, "stop_loss", -1200.0)),
    )
    lock = only_lock(bot, book, entry("SOLUSDT", 6, "sig-custom"))
    assert (lock.protection, lock.symbol, lock.run_id) == ("max_drawdown", None, None)
    assert lock.until == T0 + 18 * CANDLE
    assert lock.reason.startswith("drawdown 11.9% over the 2 trades up to 2025-08-01T00:25:00.000Z")
    assert enters(bot, book, entry("SOLUSDT", 18))

    assert enters(make_bot(""), book, entry("SOLUSDT", 6, "sig-custom"))  # without the protection
    shallow = book_with(
        ("sig-basic", closed("ETHUSDT", 0, "take_profit", 100.0)),
        ("sig-custom", closed("BTCUSDT", 5, "stop_loss", -900.0)),
    )
    assert enters(bot, shallow, entry("SOLUSDT", 6))  # 9.9 %: below the limit


def test_max_drawdown_needs_trade_limit_trades_in_the_lookback(make_bot: Make) -> None:
    bot = make_bot(DRAWDOWN)
    alone = book_with(("sig-custom", closed("BTCUSDT", 5, "stop_loss", -1200.0)))
    assert enters(bot, alone, entry("SOLUSDT", 6))


# ---- daily_loss ------------------------------------------------------------------------------------

DAILY = "[protections.daily_loss]\nmax_loss = 0.05\n"


def test_daily_loss_locks_the_losing_strategy_until_midnight(make_bot: Make) -> None:
    bot = make_bot(DAILY)  # basic's capital: 5,000; 5 % = 250
    book = book_with(
        ("sig-basic", closed("ETHUSDT", 10, "stop_loss", -200.0)),
        ("sig-basic", closed("BTCUSDT", 20, "signal", -60.0)),
    )
    lock = only_lock(bot, book, entry("SOLUSDT", 30))
    assert (lock.protection, lock.run_id, lock.symbol) == ("daily_loss", "sig-basic", None)
    assert lock.until == T0 + DAY  # the next UTC midnight
    assert lock.reason == "run sig-basic lost 260.00 today (5.2% of its capital 5000.00, max_loss 5.0%)"
    assert enters(bot, book, entry("SOLUSDT", 30, "sig-custom"))  # the other strategy trades on
    assert enters(bot, book, entry("SOLUSDT", DAY // CANDLE))  # a new UTC day

    assert enters(make_bot(""), book, entry("SOLUSDT", 30))  # without the protection


def test_daily_loss_counts_only_todays_trades(make_bot: Make) -> None:
    bot = make_bot(DAILY)
    yesterday = book_with(("sig-basic", closed("ETHUSDT", -10, "stop_loss", -400.0)))
    assert enters(bot, yesterday, entry("SOLUSDT", 1))


# ---- together ----------------------------------------------------------------------------------------


def test_every_lock_that_applies_is_reported(make_bot: Make) -> None:
    bot = make_bot("[protections]\nmax_open_positions = 1\n" + COOLDOWN)
    book = book_with(("sig-basic", closed("ETHUSDT", 0, "stop_loss", -20.0)))
    book.open("sig-custom", Position("BTCUSDT", 1, 0.1, 60_000.0, T0))
    decision = decide(bot, book, entry("ETHUSDT", 1))
    assert [lock.protection for lock in decision.locks] == ["max_open_positions", "cooldown"]
    assert decision.reason == "; ".join(lock.describe() for lock in decision.locks)
    assert decision.locks[1].describe() == (
        "cooldown locks ETHUSDT until 2025-08-01T00:20:00.000Z: "
        "ETHUSDT closed by stop_loss at candle 2025-08-01T00:00:00.000Z"
    )


@pytest.mark.parametrize("exit_candle", [1, 2])
def test_a_trade_closed_after_the_entry_time_does_not_lock_it(make_bot: Make, exit_candle: int) -> None:
    """A backtest asks about an entry at candle 0 with later trades already in the book: no lock from
    the future."""
    book = book_with(("sig-basic", closed("ETHUSDT", exit_candle, "stop_loss", -20.0)))
    bot = make_bot(COOLDOWN)
    assert bot.protections.cooldown is not None
    assert cooldown_lock(bot.protections.cooldown, book, "ETHUSDT", T0, CANDLE) is None
    assert cooldown_lock(bot.protections.cooldown, book, "ETHUSDT", T0 + 3 * CANDLE, CANDLE) is not None
