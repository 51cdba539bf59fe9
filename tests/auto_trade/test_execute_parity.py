"""A paper bot's executor trades, signal for signal, what the portfolio backtest trades: the same
decisions, protections, sizing and fees on the three 2025-08 files, whatever order the signals of one
candle arrive in."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pandas as pd
import pytest

from auto_trade import Executor, bot_broker, executor_state_path
from backtesting import PortfolioSignal, run_portfolio_backtest, strategy_signals
from cryptoflow.candles import load_candles
from cryptoflow.events import SignalEvent, SignalPayload
from cryptoflow.portfolio import Bot, load_bot

pytestmark = pytest.mark.slow  # three strategies' backtests on three months of 5m candles

BOT = """
name = "parity"
interval = "5m"
symbols = ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
broker = "paper"

[capital]
total = 10000.0
leverage = 2

[[strategies]]
strategy = "basic"
run_id = "sig-basic"
fraction = 0.4
params = { stop_loss_pct = 1.0, take_profit_pct = 2.0 }

[[strategies]]
strategy = "custom"
run_id = "sig-custom"
fraction = 0.6
symbols = { ETHUSDT = 0.5, SOLUSDT = 0.5 }

[protections]
max_open_positions = 2

[protections.cooldown]
stop_duration_candles = 3

[protections.stoploss_guard]
lookback_period_candles = 24
trade_limit = 2
stop_duration_candles = 12

[protections.daily_loss]
max_loss = 0.02
"""


def _event(bot: Bot, signal: PortfolioSignal) -> SignalEvent:
    intent = signal.intent
    return SignalEvent.create(
        source="replay", run_id=intent.run_id, strategy=intent.strategy, symbol=intent.symbol,
        interval=bot.interval, time_ms=intent.candle_open_time + bot.interval_ms - 1,
        signal=SignalPayload(
            action=intent.action, price=intent.price, candle_open_time_ms=intent.candle_open_time,
            reason=signal.reason or None,
        ),
    )  # fmt: skip


def _ms(value: object) -> int:
    return int(pd.Timestamp(value).value // 1_000_000) if not isinstance(value, int) else value


def test_the_paper_executor_trades_what_the_portfolio_backtest_trades(
    shared_data: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(BOT)
    bot = load_bot(path)
    frames = {s: load_candles(shared_data / f"{s}_5m_2025-08.csv") for s in bot.symbols}
    signals = [
        signal
        for followed in bot.strategies
        for symbol in bot.symbols
        for signal in strategy_signals(frames[symbol], followed.load(), symbol=symbol, run_id=followed.run_id)
    ]
    result = run_portfolio_backtest(bot, frames, signals=signals)
    assert (
        len(result.trades) > 20
        and result.skips.get("locked", 0) > 0
        and result.skips.get("held_by_other", 0) > 0
    )

    events = [_event(bot, s) for s in signals]
    random.Random(7).shuffle(events)  # the order partitions deliver them in is not the decision order
    executor = Executor(
        bot, bot_broker(bot, tmp_path), executor_state_path(tmp_path, bot), lambda e: None, lambda: None
    )

    async def execute() -> None:
        await executor.start()
        for event in sorted(events, key=lambda e: (e.signal.candle_open_time_ms, executor.decision_key(e))):
            await executor.handle(event)

    asyncio.run(execute())

    traded = [
        (t.run_id, t.trade.symbol, t.trade.side, t.trade.entry_time, t.trade.exit_time, t.trade.exit_reason)
        for t in executor.book.trades
    ]
    expected = [
        (r.run_id, r.symbol, r.side, _ms(r.entry_time), _ms(r.exit_time), r.exit_reason)
        for r in result.trades.itertuples(index=False)
    ]
    assert traded == expected
    for mine, theirs in zip(executor.book.trades, result.trades.itertuples(index=False), strict=True):
        assert (mine.trade.entry_price, mine.trade.exit_price) == (theirs.entry_price, theirs.exit_price)
        assert mine.trade.quantity == pytest.approx(theirs.quantity, rel=1e-12)
        assert mine.trade.pnl == pytest.approx(theirs.pnl, rel=1e-9, abs=1e-9)
        assert mine.trade.fees == pytest.approx(theirs.fees, rel=1e-12)
    held = {h.position.symbol: h.run_id for h in executor.book.holdings.values()}
    assert held == {p["symbol"]: p["run_id"] for p in result.open_positions}
