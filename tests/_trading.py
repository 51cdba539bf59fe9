"""Helpers of the trading tests (auto_trade, the testnet broker): the parity scenario (symbols, warm-up,
strategies), auto_trade run against the fake exchange, the backtest it (and the whole chain) must agree
with, and a candle-topic worker on ETHUSDT. They need the application packages, so they live beside the
tests, not in ``cryptoflow.testing``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from auto_trade import AutoTrade, AutoTradeOptions, CandleTopicWorker, WorkerOptions
from backtesting import BacktestConfig, backtest_symbol
from cryptoflow.binance import BinanceEndpoints, SourceOptions
from cryptoflow.brokers import PaperBroker, TradingConfig
from cryptoflow.candles import Candle, load_candles
from cryptoflow.config import load_settings
from cryptoflow.indicators import EMA, Bollinger, compute
from cryptoflow.strategies import Strategy, crossed_above, crossed_below, load_strategy

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


class EmaBands(Strategy):
    """Declared indicators and a look-back: in the EMAs' trend, the close coming back inside its
    Bollinger bands (%B crossing 0.2 upwards, or 0.8 downwards)."""

    name = "ema_bands"
    indicators = {"ema_fast": EMA(12), "ema_slow": EMA(50), "bb": Bollinger(20, 2)}
    stop_loss_pct = 0.5
    take_profit_pct = 0.8

    def entry_long(self, ind):
        return (ind["ema_fast"] > ind["ema_slow"]) & crossed_above(ind, "bb_pct_b", 0.2)

    def entry_short(self, ind):
        return (ind["ema_fast"] < ind["ema_slow"]) & crossed_below(ind, "bb_pct_b", 0.8)


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


def backtest_trades(
    shared_data: Path,
    symbol: str,
    strategy,
    config: TradingConfig,
    *,
    live: int = LIVE,
    symbols: int = len(SYMBOLS),
) -> pd.DataFrame:
    """What the backtester (``close`` fills) trades on ``symbol``'s ``live`` candles after :data:`HISTORY`,
    with ``config``'s costs and an equal share of its cash for each of ``symbols`` symbols."""
    candles = load_candles(shared_data / f"{symbol}_5m_2025-08.csv").iloc[: HISTORY + live]
    indicators = compute(candles, preset=strategy.indicator_preset, **strategy.indicator_params())
    declared = strategy.declared_indicators()
    if declared:  # computed from the first candle on, as live trading's warm-up feeds them
        indicators = indicators.join(declared.compute(candles))
    engine = BacktestConfig(
        cash=config.cash / symbols,
        fill="close",
        fee_rate=config.fee_rate,
        slippage_rate=config.slippage_rate,
        fraction=config.fraction,
        leverage=config.leverage,
    )
    return backtest_symbol(
        candles.iloc[HISTORY:], strategy, engine, indicators=indicators.iloc[HISTORY:], symbol=symbol
    ).trades


def make_worker(
    exchange,
    tmp_path: Path,
    events: list,
    strategy_params: dict | None = None,
    flush: Callable[[], object] = lambda: None,
    **options,
) -> CandleTopicWorker:
    """A candle-topic worker trading ETHUSDT 5m with the ``basic`` strategy on a paper broker per symbol,
    warmed up by ``exchange``'s REST; its events go to ``events``, ``flush`` is the producer's."""
    return CandleTopicWorker(
        WorkerOptions(["ETHUSDT"], "5m", "w", tmp_path, warmup_candles=HISTORY, **options),
        load_settings().kafka,
        load_strategy("basic", **(strategy_params or {})),
        lambda symbol: PaperBroker(TradingConfig(cash=1_000), tmp_path / f"w.{symbol}.paper.json"),
        events.append,
        flush=flush,
        endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
    )


def eth_candles(shared_data: Path) -> pd.DataFrame:
    """The shared ETHUSDT 5m 2025-08 candles."""
    return load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")


def live_candles(shared_data: Path, count: int) -> list[Candle]:
    """The ``count`` ETHUSDT candles after the :data:`HISTORY` warm-up, as the worker receives them."""
    frame = eth_candles(shared_data).iloc[HISTORY : HISTORY + count]
    return [
        Candle(
            "ETHUSDT",
            "5m",
            t.value // 1_000_000,
            int(row.close_time),
            row.open,
            row.high,
            row.low,
            row.close,
            row.volume,
        )  # fmt: skip
        for t, row in zip(frame.index, frame.itertuples(), strict=True)
    ]
