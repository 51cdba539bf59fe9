"""A testnet bot's executor on the fake exchange (real signed HTTP, the real user data stream): an entry
gets the owner's protective orders; a stop the exchange fills is booked as the owner's exit, while the
executor runs and after a restart (nothing sent then); an exit signal after it sends nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from auto_trade import Executor, bot_broker, executor_state_path, signal_order_id
from cryptoflow.config import load_settings
from cryptoflow.events import Event, SignalEvent, SignalPayload, TradeEvent
from cryptoflow.portfolio import Bot, load_bot
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange, replay_exchange

pytestmark = pytest.mark.slow  # replays candles through the fake exchange

SYMBOL = "ETHUSDT"
HISTORY = 60
REPLAYED = 20


def _candles(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / f"{SYMBOL}_5m_2025-08.csv")


def _bot(folder: Path, stop_loss_pct: float) -> Bot:
    path = folder / "bot.toml"
    path.write_text(
        f"""
name = "testnet-bot"
interval = "5m"
symbols = ["{SYMBOL}"]
broker = "testnet"

[capital]
total = 10000.0
fraction = 0.5
leverage = 2

[[strategies]]
strategy = "basic"
run_id = "sig-basic"
params = {{ stop_loss_pct = {stop_loss_pct:.6f}, take_profit_pct = 20.0 }}
"""
    )
    return load_bot(path)


def _entry(shared_data: Path, action: str = "entry_long", candle: int = HISTORY - 1) -> SignalEvent:
    """The signal decided on a candle of the file (default: the last one the exchange serves as history,
    whose close is its last price before the replay)."""
    row = _candles(shared_data).iloc[candle]
    opened = int(pd.Timestamp(row["Open time"], tz="UTC").value // 1_000_000)
    return SignalEvent.create(
        source="live", run_id="sig-basic", strategy="basic", symbol=SYMBOL, interval="5m",
        time_ms=opened + 299_999,
        signal=SignalPayload(
            action=action, price=float(row["Close"]), candle_open_time_ms=opened,  # type: ignore[arg-type]
            reason=None if action.startswith("entry") else "signal",
        ),
    )  # fmt: skip


def _crossed_stop_pct(shared_data: Path) -> float:
    """A long's stop (percent below the last history close) that the replayed candles' lows cross."""
    frame = _candles(shared_data)
    close = float(frame.iloc[HISTORY - 1]["Close"])
    low = float(frame.iloc[HISTORY : HISTORY + REPLAYED]["Low"].min())
    return (close - low) / close * 100 / 2


class OnFakeExchange:
    """The bot's executor on ``exchange``, in its own event loop run by the test."""

    def __init__(self, bot: Bot, exchange: FakeExchange, folder: Path) -> None:
        settings = load_settings(
            binance={
                "base_url": exchange.base_url,
                "stream_url": exchange.stream_url,
                "api_key": API_KEY,
                "api_secret": API_SECRET,
            }
        )
        self.events: list[Event] = []
        broker = bot_broker(bot, folder, settings, lambda trade: self.executor.on_exchange_close(trade))
        self.executor = Executor(
            bot, broker, executor_state_path(folder, bot), self.events.append, lambda: None
        )

    def legs(self) -> list[TradeEvent]:
        return [e for e in self.events if isinstance(e, TradeEvent)]


async def _until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_a_stop_filled_while_the_executor_runs_is_the_owners_exit(shared_data: Path, tmp_path: Path) -> None:
    bot = _bot(tmp_path, _crossed_stop_pct(shared_data))
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=REPLAYED, speed=20)
    entry, late_exit = _entry(shared_data), _entry(shared_data, "exit_long", HISTORY + REPLAYED - 1)
    run = OnFakeExchange(bot, exchange, tmp_path)

    async def main() -> int:
        executor = run.executor
        await executor.start()
        following = asyncio.create_task(executor.follow_exchange_closes())
        try:
            await executor.handle(entry)
            protective = {a.client_algo_id: a.order_type for a in exchange.account.algo_orders.values()}
            order_id = signal_order_id(bot.name, entry.event_id)
            assert protective == {f"{order_id}-sl": "STOP_MARKET", f"{order_id}-tp": "TAKE_PROFIT_MARKET"}
            exchange.start_replay()
            await _until(lambda: len(run.legs()) == 2)
            sent = len(exchange.account.requests)
            await executor.handle(late_exit)  # the strategy's exit comes after the exchange's: nothing to do
            return len(exchange.account.requests) - sent
        finally:
            following.cancel()
            await executor.broker.stop()

    try:
        sent_for_exit = asyncio.run(main())
    finally:
        exchange.stop_thread()
    opened, closed = run.legs()
    stop_fill = exchange.account.trades[-1]
    assert (opened.source, opened.run_id, opened.strategy) == ("testnet", "testnet-bot", "basic")
    assert opened.trade.client_order_id == signal_order_id(bot.name, entry.event_id)
    assert closed.trade.exit_reason == "stop_loss" and closed.trade.client_order_id.endswith("-sl")
    assert (
        closed.trade.exit_price == float(stop_fill["price"])
        and closed.trade.exit_time_ms == stop_fill["time"]
    )
    assert sent_for_exit == 0 and run.executor.summary.skips == 1
    assert not run.executor.book.holdings and exchange.account.positions[SYMBOL].amount == 0


def test_an_executor_restarted_after_the_exchange_stopped_its_position_books_it_and_sends_nothing(
    shared_data: Path, tmp_path: Path
) -> None:
    bot = _bot(tmp_path, _crossed_stop_pct(shared_data))
    exchange = replay_exchange(shared_data, symbols=(SYMBOL,), history=HISTORY, limit=REPLAYED)
    entry = _entry(shared_data)

    async def first(run: OnFakeExchange) -> None:
        await run.executor.start()
        await run.executor.handle(entry)
        await run.executor.broker.stop()  # the process ends with the position open (its state saved)

    async def second(run: OnFakeExchange) -> None:
        await run.executor.start()
        following = asyncio.create_task(run.executor.follow_exchange_closes())
        await asyncio.sleep(0.5)  # the broker's report of what it found at start is booked already
        following.cancel()
        await run.executor.broker.stop()

    try:
        before = OnFakeExchange(bot, exchange, tmp_path)
        asyncio.run(first(before))
        exchange.start_replay()  # no executor runs: the stop closes the position on the exchange
        assert exchange.wait_done(30)
        sent = len(exchange.account.requests)
        after = OnFakeExchange(bot, exchange, tmp_path)
        asyncio.run(second(after))
        orders = exchange.account.requests[sent:]  # every order request the exchange accepted
    finally:
        exchange.stop_thread()
    (closed,) = after.legs()
    stop_fill = exchange.account.trades[-1]
    assert closed.trade.leg == "close" and closed.trade.exit_reason == "stop_loss"
    assert (
        closed.trade.exit_price == float(stop_fill["price"])
        and closed.trade.exit_time_ms == stop_fill["time"]
    )
    assert closed.trade.entry_time_ms == before.legs()[0].trade.entry_time_ms
    assert orders == []  # nothing was sent
    assert not after.executor.book.holdings and len(after.executor.book.trades) == 1
