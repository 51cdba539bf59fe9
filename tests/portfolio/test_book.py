"""The book under any sequence of signals: one owner per symbol, exits only by the owner, and the book
survives a save and a load (the executor's restart)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoflow.brokers import Position
from cryptoflow.events import SignalAction
from cryptoflow.portfolio import Book, Bot, Intent, decide, load_bot

EXAMPLE = Path(__file__).resolve().parents[2] / "docker" / "bot.example.toml"


@pytest.fixture(scope="module")
def two_slots(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    """The example bot with at most two open positions (for three symbols)."""
    path = tmp_path_factory.mktemp("bot") / "bot.toml"
    path.write_text(EXAMPLE.read_text().replace("max_open_positions = 3", "max_open_positions = 2"))
    return load_bot(path)


T = 1_754_006_400_000
CANDLE = 300_000
RUNS = {"sig-basic": "basic", "sig-custom": "custom"}
ACTIONS: tuple[SignalAction, ...] = ("entry_long", "entry_short", "exit_long", "exit_short")

signals = st.lists(
    st.tuples(
        st.sampled_from(sorted(RUNS)),
        st.sampled_from(["ETHUSDT", "BTCUSDT", "SOLUSDT"]),
        st.sampled_from(ACTIONS),
        st.floats(10.0, 100.0),
    ),
    max_size=60,
)


def replay(bot: Bot, steps: list[tuple[str, str, SignalAction, float]]) -> tuple[Book, list[str]]:
    """Decide each signal (one per candle) and fill what is decided, as an executor would."""
    book = Book(bot.capital.total)
    log = []
    for candle, (run_id, symbol, action, price) in enumerate(steps):
        now = T + candle * CANDLE
        intent = Intent(RUNS[run_id], run_id, symbol, action, now, price)
        decision = decide(bot, book, intent)
        holding = book.holding(symbol)
        if decision.verdict == "enter":
            assert holding is None
            side = 1 if decision.side == "long" else -1
            book.open(run_id, Position(symbol, side, decision.budget / price, price, now))
        elif decision.verdict == "exit":
            assert holding is not None and holding.run_id == run_id and holding.side == decision.side
            book.close(holding.position.close(now, price, "signal", 0.0, f"x{candle}"))
        log.append(decision.code)
    return book, log


@settings(max_examples=150, deadline=None)
@given(signals)
def test_one_owner_per_symbol_and_exits_only_by_the_owner(two_slots: Bot, steps: list) -> None:
    book, log = replay(two_slots, steps)  # with every protection of the example on
    assert len(book.holdings) <= 2
    assert log.count("enter") == len(book.trades) + len(book.holdings)
    assert log.count("exit") == len(book.trades)
    assert {t.run_id for t in book.trades} <= set(RUNS)


@settings(max_examples=50, deadline=None)
@given(signals)
def test_the_book_survives_a_save_and_a_load(two_slots: Bot, steps: list) -> None:
    book, _ = replay(two_slots, steps)
    again = Book.of_document(json.loads(json.dumps(book.document())))
    assert again == book
