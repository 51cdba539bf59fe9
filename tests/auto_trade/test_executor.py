"""The executor's decisions on a paper bot, without Kafka: entries and exits, the conflict rule, each
protection blocking an entry (and not when it is off), at most once across a crash, errors, bad input,
exchange closes and the status read back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from auto_trade import Executor, bot_broker, bot_status, executor_state_path, signal_order_id
from cryptoflow.brokers import ClosedTrade, PaperBroker
from cryptoflow.errors import ConfigurationError, ExchangeRejection
from cryptoflow.events import ErrorEvent, Event, LockEvent, SignalEvent, TradeEvent
from cryptoflow.portfolio import load_bot
from tests.auto_trade._bots import FIVE_MIN, T0, bot_text, signal


class Run:
    """An executor of the test bot on a paper broker in ``folder``; events land in :attr:`events`."""

    def __init__(self, folder: Path, protections: str = "") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bot.toml"
        path.write_text(bot_text(protections))
        self.bot = load_bot(path)
        self.folder = folder
        self.events: list[Event] = []
        self.executor = Executor(
            self.bot,
            bot_broker(self.bot, folder),
            executor_state_path(folder, self.bot),
            self.events.append,
            lambda: None,
        )
        asyncio.run(self.executor.start())

    def feed(self, signals: Sequence[SignalEvent]) -> list[tuple[str, str] | None]:
        async def all_of_them() -> list[tuple[str, str] | None]:
            return [await self.executor.handle(s) for s in signals]

        return asyncio.run(all_of_them())

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_entries_and_exits_follow_the_conflict_rule_with_deterministic_order_ids(tmp_path: Path) -> None:
    run = Run(tmp_path)
    entry, other = signal(0, "entry_long", 4000.0), signal(0, "entry_short", 4000.0, strategy="custom")
    exit_other, exit_owner = (
        signal(2, "exit_short", 4100.0, strategy="custom"),
        signal(2, "exit_long", 4100.0, reason="take_profit"),
    )
    run.feed([entry, other, exit_other, exit_owner])

    opened, closed = run.of(TradeEvent)
    # basic entered first and owns ETHUSDT; custom's entry and exit were skipped
    assert (opened.strategy, opened.run_id, opened.source, opened.trade.side) == (
        "basic",
        "test-bot",
        "paper",
        "long",
    )
    # budget 10,000 x 0.5 / 3 symbols, leverage 2: 3333.33 USDT of ETH at 4000
    assert opened.trade.quantity == pytest.approx(10_000 * 0.5 / 3 * 2 / 4000.0)
    assert opened.trade.client_order_id == signal_order_id("test-bot", entry.event_id)
    assert closed.trade.client_order_id == signal_order_id("test-bot", exit_owner.event_id)
    assert (closed.trade.exit_reason, closed.trade.exit_price) == ("take_profit", 4100.0)
    fees = opened.trade.quantity * (4000.0 + 4100.0) * 0.0004
    assert closed.trade.pnl == pytest.approx(opened.trade.quantity * 100.0 - fees)
    assert run.executor.summary.skips == 2 and not run.executor.book.holdings
    # every bot has its own order ids for the same signal
    assert signal_order_id("other-bot", entry.event_id) != opened.trade.client_order_id


def test_a_signal_delivered_again_is_not_traded_again(tmp_path: Path) -> None:
    run = Run(tmp_path)
    entry = signal(0, "entry_long", 4000.0)
    run.feed([entry, entry])
    assert len(run.of(TradeEvent)) == 1
    # also after a restart: the signals handled are part of the state
    again = Run(tmp_path)
    again.feed([entry])
    assert again.events == [] and len(again.executor.book.holdings) == 1


def test_a_crash_after_the_fill_publishes_the_fill_again_instead_of_ordering_twice(tmp_path: Path) -> None:
    run = Run(tmp_path)
    entry = signal(0, "entry_long", 4000.0)
    state = executor_state_path(tmp_path, run.bot)
    before = state.read_bytes()
    run.feed([entry])
    state.write_bytes(before)  # the process died after the broker's fill, before its own state was saved

    again = Run(tmp_path)
    assert not again.executor.book.holdings  # the book as it was before the signal
    again.feed([entry])
    assert again.events == run.events  # the same events (same ids), from the fill the broker made
    broker = again.executor.broker
    assert isinstance(broker, PaperBroker)
    assert broker.cash["ETHUSDT"] == pytest.approx(10_000 / 3 - run.of(TradeEvent)[0].trade.fees)  # one fee


PROTECTIONS = {
    "max_open_positions": "[protections]\nmax_open_positions = 1\n",
    "cooldown": "[protections.cooldown]\nstop_duration_candles = 3\n",
    "stoploss_guard": (
        "[protections.stoploss_guard]\nlookback_period_candles = 24\ntrade_limit = 2\n"
        "stop_duration_candles = 12\n"
    ),
    "max_drawdown": (
        "[protections.max_drawdown]\nlookback_period_candles = 288\ntrade_limit = 1\n"
        "stop_duration_candles = 12\nmax_allowed_drawdown = 0.01\n"
    ),
    "daily_loss": "[protections.daily_loss]\nmax_loss = 0.01\n",
}


def _history(protection: str) -> list[SignalEvent]:
    """What triggers ``protection``, then an entry it must block (the last signal)."""
    if protection == "max_open_positions":
        return [signal(0, "entry_long", 4000.0), signal(1, "entry_long", 115_000.0, symbol="BTCUSDT")]
    stop = {"reason": "stop_loss"}
    losses = [
        signal(0, "entry_long", 4000.0),
        signal(1, "exit_long", 3800.0, **stop),  # -5 %: 166 USDT of 10,000, of basic's 5,000
    ]
    if protection == "stoploss_guard":
        losses += [
            signal(2, "entry_long", 115_000.0, symbol="BTCUSDT"),
            signal(3, "exit_long", 110_000.0, symbol="BTCUSDT", **stop),
        ]
        return [*losses, signal(4, "entry_long", 170.0, symbol="SOLUSDT")]
    if protection == "cooldown":
        return [*losses, signal(2, "entry_long", 3800.0)]
    return [*losses, signal(2, "entry_long", 170.0, symbol="SOLUSDT")]


@pytest.mark.parametrize("protection", list(PROTECTIONS))
def test_each_protection_blocks_an_entry_and_publishes_a_lock(tmp_path: Path, protection: str) -> None:
    history = _history(protection)
    blocked = history[-1]

    off = Run(tmp_path / "off")
    off.feed(history)
    entered = [e for e in off.of(TradeEvent) if e.trade.leg == "open"]
    assert (
        entered[-1].symbol == blocked.symbol
        and entered[-1].trade.entry_time_ms == blocked.signal.candle_open_time_ms
    )
    assert off.of(LockEvent) == []

    on = Run(tmp_path / "on", PROTECTIONS[protection])
    on.feed(history)
    opened = [e for e in on.of(TradeEvent) if e.trade.leg == "open"]
    assert len(opened) == len(entered) - 1  # only the blocked entry is missing
    (lock,) = on.of(LockEvent)
    assert lock.lock.protection == protection
    assert (lock.symbol, lock.strategy, lock.run_id, lock.time_ms) == (
        blocked.symbol, blocked.strategy, "test-bot", blocked.time_ms
    )  # fmt: skip
    if protection != "max_open_positions":
        assert lock.lock.until_ms is not None and lock.lock.until_ms > blocked.signal.candle_open_time_ms


def test_signals_the_bot_cannot_trade_are_refused_with_their_reason(tmp_path: Path) -> None:
    run = Run(tmp_path)
    wrong_strategy = signal(0, "entry_long", 4000.0, strategy="rsi_dip", run_id="sig-basic")
    wrong_symbol = signal(0, "entry_long", 0.5, symbol="DOGEUSDT")
    wrong_interval = signal(0, "entry_long", 4000.0, interval="1h")
    other_bot = signal(0, "entry_long", 4000.0, run_id="sig-of-another-bot")
    refused = run.feed([wrong_strategy, wrong_symbol, wrong_interval, other_bot])
    assert [r[0] if r else None for r in refused] == [
        "unknown_strategy",
        "unknown_symbol",
        "wrong_interval",
        None,
    ]
    assert refused[0] is not None and "'rsi_dip'" in refused[0][1] and "bot.toml" in refused[0][1]
    assert refused[1] is not None and "DOGEUSDT" in refused[1][1]
    assert run.events == [] and run.executor.summary.signals == 0


class Refusing(PaperBroker):
    """A paper broker whose exchange refuses the first entry (insufficient margin)."""

    refusals = 1

    async def open_position(self, symbol, side, candle, order_id, quantity=None):  # type: ignore[no-untyped-def]
        if self.refusals:
            self.refusals -= 1
            raise ExchangeRejection(-2019, "Margin is insufficient.")
        return await super().open_position(symbol, side, candle, order_id, quantity=quantity)


def test_an_exchange_rejection_publishes_an_error_and_trading_goes_on(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.executor.broker = Refusing(run.executor.broker.config, tmp_path / "refusing.json")  # type: ignore[attr-defined]
    asyncio.run(run.executor.broker.start(list(run.bot.symbols)))
    first, second = signal(0, "entry_long", 4000.0), signal(1, "entry_long", 4010.0)
    run.feed([first, second])
    (error,) = run.of(ErrorEvent)
    assert error.error.category == "exchange_rejection" and "-2019" in error.error.message
    assert error.error.signal_event_id == first.event_id and error.source == "paper"
    (opened,) = run.of(TradeEvent)
    assert opened.trade.entry_price == 4010.0


def test_every_order_fill_lock_and_position_change_is_one_info_line(tmp_path: Path, caplog) -> None:
    run = Run(tmp_path, PROTECTIONS["max_open_positions"])
    caplog.clear()  # what the start logged
    with caplog.at_level(logging.INFO, logger="auto_trade.execute"):
        run.feed([
            signal(0, "entry_long", 4000.0),
            signal(0, "entry_long", 115_000.0, symbol="BTCUSDT"),
            signal(1, "exit_long", 4040.0),
        ])  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if r.name == "auto_trade.execute"]
    starts = [line.split()[0] for line in lines]
    assert starts == ["ORDER", "ENTRY", "POSITIONS", "SKIP", "LOCK", "ORDER", "EXIT", "POSITIONS"]
    exit_line = lines[6]
    assert exit_line.startswith("EXIT ETHUSDT long 0.8333") and "@ 4040 PnL +" in exit_line
    assert "max_open_positions" in lines[4] and "ETHUSDT long" in lines[2]


def test_a_position_closed_by_the_exchange_is_the_owners_exit(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.feed([signal(0, "entry_short", 4000.0, strategy="custom")])
    position = run.executor.book.holdings["ETHUSDT"].position
    stop = position.close(T0 + 3 * FIVE_MIN, 4080.0, "stop_loss", 0.5, "cf-stop")

    async def reported(trade: ClosedTrade) -> None:  # as the broker's hook reports it, from its loop
        following = asyncio.create_task(run.executor.follow_exchange_closes())
        run.executor.on_exchange_close(trade)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(run.of(TradeEvent)) > 1:
                break
        following.cancel()

    asyncio.run(reported(stop))
    closed = run.of(TradeEvent)[-1]
    assert (closed.trade.leg, closed.strategy, closed.trade.exit_reason) == ("close", "custom", "stop_loss")
    assert run.executor.book.trades[-1].trade == stop and not run.executor.book.holdings
    # a close of something the book does not hold changes nothing
    asyncio.run(run.executor.record_exchange_close(stop))
    assert len(run.of(TradeEvent)) == 2


def test_status_shows_positions_todays_pnl_and_locks(tmp_path: Path) -> None:
    run = Run(tmp_path, PROTECTIONS["cooldown"])
    run.feed(
        _history("cooldown")[:2] + [signal(2, "entry_short", 115_000.0, symbol="BTCUSDT", strategy="custom")]
    )
    status = bot_status(run.bot, executor_state_path(tmp_path, run.bot), T0 + 3 * FIVE_MIN)
    (held,) = status.open_positions
    assert (held.position.symbol, held.side, held.run_id) == ("BTCUSDT", "short", "sig-custom")
    (loss,) = status.today
    assert (
        status.today_pnl == loss.trade.pnl < 0
        and status.pnl_by_run(status.today)["sig-basic"] == loss.trade.pnl
    )
    assert [lock.protection for lock in status.locks] == ["cooldown"] and status.locks[0].symbol == "ETHUSDT"
    # the next day: no trade today, the cooldown is over
    later = bot_status(run.bot, executor_state_path(tmp_path, run.bot), T0 + 86_400_000)
    assert later.today == [] and later.locks == []
    with pytest.raises(ConfigurationError, match="no executor state"):
        bot_status(run.bot, tmp_path / "nowhere.json", T0)
