"""Parity: candles replayed by the fake exchange through auto_trade (paper broker) produce exactly the
trades the backtester (``close`` fill model) finds on the same candles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from auto_trade import AutoTrade, AutoTradeOptions
from backtesting import BacktestConfig, backtest_symbol
from cryptoflow.binance import BinanceEndpoints, SourceOptions
from cryptoflow.brokers import PaperBroker, TradingConfig
from cryptoflow.candles import load_candles
from cryptoflow.indicators import compute
from cryptoflow.strategies import load_strategy
from tests.testing.fake_binance.conftest import make_exchange

HISTORY, LIVE = 300, 400
SYMBOLS = ("ETHUSDT", "SOLUSDT")
STRATEGIES = {
    "stops": dict(rsi_oversold=45, rsi_overbought=55, stop_loss_pct=0.5, take_profit_pct=0.8),
    "trail_hold": dict(
        rsi_oversold=45,
        rsi_overbought=55,
        stop_loss_pct=1.0,
        take_profit_pct=None,
        trailing_stop_pct=0.3,
        max_holding_candles=12,
    ),
}


def run_trader(
    exchange,
    strategy,
    broker,
    tmp_path: Path,
    *,
    until: int | None = None,
    run_id: str = "parity",
    events: list | None = None,
    flush: Callable[[], object] = lambda: None,
) -> tuple[AutoTrade, list]:
    """Run auto_trade against ``exchange`` until every symbol decided the candle opened at ``until``
    (default: the last one of the replay); the events go to ``events``, ``flush`` is the producer's."""
    events = [] if events is None else events
    options = AutoTradeOptions(
        symbols=list(exchange.market.symbols),
        interval="5m",
        run_id=run_id,
        state_dir=tmp_path,
        source=SourceOptions(warmup_candles=HISTORY, silence_timeout_s=10),
        until_open_time=int(exchange.market.grid[-1]) if until is None else until,
    )
    trader = AutoTrade(
        options,
        strategy,
        broker,
        events.append,
        flush=flush,
        endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
    )
    decided: dict[int, int] = {}

    def release(candle) -> None:  # lockstep exchanges wait until every symbol decided the close
        decided[candle.open_time] = decided.get(candle.open_time, 0) + 1
        if decided[candle.open_time] == len(options.symbols):
            exchange.release()

    trader.on_decided = release

    async def main() -> None:
        async def start() -> None:
            while not exchange.subscribers:
                await asyncio.sleep(0.01)
            exchange.start_replay()  # no effect when it already runs

        starter = asyncio.create_task(start())
        await asyncio.wait_for(trader.run(), 90)
        starter.cancel()

    asyncio.run(main())
    return trader, events


def backtest_trades(shared_data: Path, symbol: str, strategy, config: TradingConfig) -> pd.DataFrame:
    candles = load_candles(shared_data / f"{symbol}_5m_2025-08.csv").iloc[: HISTORY + LIVE]
    indicators = compute(candles, preset=strategy.indicator_preset, **strategy.indicator_params())
    engine = BacktestConfig(
        cash=config.cash / len(SYMBOLS),
        fill="close",
        fee_rate=config.fee_rate,
        slippage_rate=config.slippage_rate,
        fraction=config.fraction,
        leverage=config.leverage,
    )
    return backtest_symbol(
        candles.iloc[HISTORY:], strategy, engine, indicators=indicators.iloc[HISTORY:], symbol=symbol
    ).trades


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_paper_trades_equal_backtest_trades(shared_data: Path, tmp_path: Path, name: str) -> None:
    strategy = load_strategy("basic", **STRATEGIES[name])
    config = TradingConfig(cash=10_000, fee_rate=0.0004, slippage_rate=0.0002, fraction=0.5, leverage=2)
    exchange = make_exchange(shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=200)
    try:
        broker = PaperBroker(config, tmp_path / "paper.json")
        runner, events = run_trader(exchange, strategy, broker, tmp_path)
    finally:
        exchange.stop_thread()
    total = 0
    for symbol in SYMBOLS:
        expected = backtest_trades(shared_data, symbol, strategy, config)
        live = runner.traders[symbol].trades
        assert len(live) == len(expected) and len(expected) >= 3, symbol
        total += len(expected)
        for got, want in zip(live, expected.itertuples(index=False), strict=True):
            assert got.side == want.side
            assert got.entry_time == want.entry_time.value // 1_000_000
            assert got.exit_time == want.exit_time.value // 1_000_000
            assert got.exit_reason == want.exit_reason
            assert (got.entry_price, got.exit_price, got.quantity, got.pnl, got.fees) == pytest.approx(
                (want.entry_price, want.exit_price, want.quantity, want.pnl, want.fees), rel=1e-12
            )
    # one candle event per closed live candle, a trade event per leg
    kinds = pd.Series([e.schema_name for e in events]).value_counts().to_dict()
    assert kinds["candle"] == LIVE * len(SYMBOLS)
    assert kinds["trade"] in (2 * total, 2 * total + 1, 2 * total + 2)  # + legs of still-open positions
    assert len({e.event_id for e in events}) == len(events)
