"""The conflict rule (one owner per symbol, the first entry wins) and what decide() skips before it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoflow.brokers import Position
from cryptoflow.events import SignalAction
from cryptoflow.portfolio import Book, Bot, Intent, decide, decision_order, load_bot, resolve_conflict

Make = Callable[[str], Bot]

T = 1_754_006_400_000  # 2025-08-01 00:00 UTC
RUNS = {"sig-basic": "basic", "sig-custom": "custom"}


def signal(run_id: str, action: SignalAction, symbol: str = "ETHUSDT", candle: int = 1) -> Intent:
    return Intent(RUNS.get(run_id, "basic"), run_id, symbol, action, T + candle * 300_000, 2500.0)


def verdict(book: Book, intent: Intent) -> tuple[str, str]:
    decision = resolve_conflict(book, intent)
    return decision.verdict, decision.code


def held_by_basic() -> Book:
    book = Book(10_000.0)
    book.open("sig-basic", Position("ETHUSDT", 1, 1.0, 2500.0, T))
    return book


def test_a_flat_symbol_goes_to_the_first_entry() -> None:
    book = Book(10_000.0)
    assert verdict(book, signal("sig-custom", "entry_short")) == ("enter", "enter")
    assert resolve_conflict(book, signal("sig-custom", "entry_short")).side == "short"


def test_the_owner_keeps_the_symbol_until_its_position_closes() -> None:
    book = held_by_basic()
    taken = resolve_conflict(book, signal("sig-custom", "entry_long"))
    assert (taken.verdict, taken.code) == ("skip", "held_by_other")
    assert taken.reason == (
        "ETHUSDT is held by run sig-basic (long); the first entry owns a symbol until its position closes"
    )
    assert verdict(book, signal("sig-custom", "entry_short")) == ("skip", "held_by_other")
    assert verdict(book, signal("sig-custom", "exit_long")) == ("skip", "held_by_other")
    assert verdict(book, signal("sig-custom", "entry_long", "BTCUSDT")) == ("enter", "enter")


def test_the_owner_neither_adds_nor_reverses_and_exits_only_its_side() -> None:
    book = held_by_basic()
    assert verdict(book, signal("sig-basic", "entry_long")) == ("skip", "already_open")
    assert verdict(book, signal("sig-basic", "entry_short")) == ("skip", "already_open")
    assert verdict(book, signal("sig-basic", "exit_short")) == ("skip", "other_side")
    assert verdict(book, signal("sig-basic", "exit_long")) == ("exit", "exit")
    assert verdict(Book(1.0), signal("sig-basic", "exit_long")) == ("skip", "no_position")


def test_after_the_owner_closes_the_next_entry_wins() -> None:
    book = held_by_basic()
    position = book.holdings["ETHUSDT"].position
    trade = position.close(T + 600_000, 2550.0, "signal", 0.0, "cf-x")
    recorded = book.close(trade)
    assert recorded.run_id == "sig-basic" and book.holding("ETHUSDT") is None
    assert verdict(book, signal("sig-custom", "entry_long", candle=3)) == ("enter", "enter")
    assert book.equity == 10_050.0


def test_decide_skips_what_the_bot_does_not_follow_or_trade(make_bot: Make) -> None:
    bot = make_bot("")
    book = Book(bot.capital.total)
    unknown = decide(bot, book, Intent("ensemble", "sig-x", "ETHUSDT", "entry_long", T, 2500.0))
    assert (unknown.verdict, unknown.code) == ("skip", "not_followed")
    assert unknown.reason == (
        f"{bot.source} does not follow strategy 'ensemble' of run 'sig-x' "
        "(it follows basic (run sig-basic), custom (run sig-custom))"
    )
    other_name = decide(bot, book, Intent("custom", "sig-basic", "ETHUSDT", "entry_long", T, 2500.0))
    assert other_name.code == "not_followed"  # the run's signals must come from its strategy
    symbol = decide(bot, book, signal("sig-basic", "entry_long", "XRPUSDT"))
    assert (symbol.code, symbol.reason) == (
        "unknown_symbol",
        f"{bot.source} does not trade XRPUSDT (symbols: ETHUSDT, BTCUSDT, SOLUSDT)",
    )


def test_decide_gives_an_entry_its_budget_and_applies_the_rule(make_bot: Make) -> None:
    bot = make_bot("")
    book = Book(bot.capital.total)
    first = decide(bot, book, signal("sig-basic", "entry_long"))
    assert (first.verdict, first.side) == ("enter", "long")
    assert first.budget == pytest.approx(10_000 * 0.5 / 3)
    book.open("sig-basic", Position("ETHUSDT", 1, 1.0, 2500.0, T))
    assert decide(bot, book, signal("sig-custom", "entry_long")).code == "held_by_other"
    assert decide(bot, book, signal("sig-basic", "exit_long")).verdict == "exit"


def test_decide_skips_an_entry_without_budget(write_bot: Callable[[str], Path]) -> None:
    path = write_bot(
        'name = "b"\ninterval = "5m"\nsymbols = ["ETHUSDT", "SOLUSDT"]\n[capital]\ntotal = 1000\n'
        '[[strategies]]\nstrategy = "basic"\nrun_id = "sig-basic"\nsymbols = { ETHUSDT = 1.0 }\n'
    )
    bot = load_bot(path)
    skipped = decide(bot, Book(1000.0), signal("sig-basic", "entry_long", "SOLUSDT"))
    assert (skipped.code, skipped.reason) == ("no_budget", "run sig-basic has no budget for SOLUSDT")
    assert decide(bot, Book(1000.0), signal("sig-basic", "entry_long")).budget == 1000.0


def test_a_symbol_closed_on_a_candle_is_entered_again_from_the_next_one() -> None:
    """An exit and another strategy's entry on the same candle: the same outcome in either order."""
    exit_first = held_by_basic()
    position = exit_first.holdings["ETHUSDT"].position
    exit_first.close(position.close(T + 300_000, 2550.0, "signal", 0.0, "cf-x"))  # closed on candle 1
    same_candle = resolve_conflict(exit_first, signal("sig-custom", "entry_long", candle=1))
    assert (same_candle.verdict, same_candle.code) == ("skip", "closed_this_candle")
    assert same_candle.reason == (
        "ETHUSDT closed on this candle (2025-08-01T00:05:00.000Z); a symbol is entered again from the "
        "next candle on"
    )
    entry_first = held_by_basic()
    assert verdict(entry_first, signal("sig-custom", "entry_long", candle=1)) == ("skip", "held_by_other")
    assert verdict(exit_first, signal("sig-custom", "entry_long", candle=2)) == ("enter", "enter")


def test_the_decision_order_puts_exits_first_then_the_bot_files_order(make_bot: Make) -> None:
    bot = make_bot("")
    signals = [
        signal("sig-custom", "entry_long", candle=2),
        signal("sig-custom", "entry_long", candle=1),
        signal("sig-x", "entry_long", candle=1),
        signal("sig-basic", "entry_short", candle=1),
        signal("sig-custom", "exit_long", candle=1),
    ]
    ordered = sorted(signals, key=lambda intent: decision_order(bot, intent))
    assert [(i.candle_open_time - T) // 300_000 for i in ordered] == [1, 1, 1, 1, 2]
    assert [(i.run_id, i.action) for i in ordered[:4]] == [
        ("sig-custom", "exit_long"),
        ("sig-basic", "entry_short"),
        ("sig-custom", "entry_long"),
        ("sig-x", "entry_long"),
    ]
