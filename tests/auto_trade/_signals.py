"""Helpers of the strategy worker's tests: three strategies, the candle events ``cryptoflow indicators``
publishes for the shared 2025-08 candles, and the signals each strategy's own backtest finds on them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auto_trade import StrategyRun
from backtesting import BacktestConfig, backtest_symbol
from cryptoflow.candles import load_candles
from cryptoflow.events import INDICATOR_NAMES, CandleEvent
from cryptoflow.indicators import compute
from cryptoflow.strategies import load_strategy
from tests._trading import HISTORY, STRATEGIES

LIVE = 400
CUSTOM = dict(rsi_oversold=45, rsi_overbought=55, stop_loss_pct=0.6, take_profit_pct=0.9)
SYMBOLS = ("ETHUSDT", "SOLUSDT")


def three_runs() -> list[StrategyRun]:
    """Three strategies on the candles' own indicator settings (``ta``, default periods)."""
    return [
        StrategyRun("sig-stops", load_strategy("basic", **STRATEGIES["stops"])),
        StrategyRun("sig-trail", load_strategy("basic", **STRATEGIES["trail_hold"])),
        StrategyRun("sig-custom", load_strategy("custom", **CUSTOM)),
    ]


def candle_frame(shared_data: Path, symbol: str, live: int = LIVE) -> pd.DataFrame:
    return load_candles(shared_data / f"{symbol}_5m_2025-08.csv").iloc[: HISTORY + live]


def candle_events(shared_data: Path, symbol: str, live: int = LIVE) -> list[CandleEvent]:
    """The closed candle events ``cryptoflow indicators`` (``--preset ta``) publishes for the ``live``
    candles after the warm-up: each with the indicators of the whole history up to it."""
    frame = candle_frame(shared_data, symbol, live)
    indicators = compute(frame, preset="ta")
    columns = {
        "open_time_ms": frame.index.asi8 // 1_000_000,
        "close_time_ms": frame["close_time"].to_numpy(),
        **{name: frame[name].to_numpy() for name in ("open", "high", "low", "close", "volume")},
        **{name: indicators[name].to_numpy(dtype=float) for name in INDICATOR_NAMES},
    }
    return [
        CandleEvent.of_columns(columns, row, source="live", run_id="realtime", symbol=symbol, interval="5m")
        for row in range(HISTORY, HISTORY + live)
    ]


def expected_signals(shared_data: Path, symbol: str, run: StrategyRun, live: int = LIVE) -> list[tuple]:
    """The entries and exits of ``run``'s own ``close``-model backtest on the ``live`` candles (indicators
    over the whole history before them), as ``(candle open time, action, exit reason, price)``."""
    frame = candle_frame(shared_data, symbol, live)
    strategy = run.strategy
    indicators = compute(frame, preset=strategy.indicator_preset, **strategy.indicator_params())
    declared = strategy.declared_indicators()
    if declared:  # computed from the first candle on, as the worker's warm-up feeds them
        indicators = indicators.join(declared.compute(frame))
    result = backtest_symbol(
        frame.iloc[HISTORY:],
        strategy,
        BacktestConfig(fill="close", slippage_rate=0.0),
        indicators=indicators.iloc[HISTORY:],
        symbol=symbol,
    )
    out = []
    for t in result.trades.itertuples():
        out.append((t.entry_time.value // 1_000_000, f"entry_{t.side}", None, t.entry_price))
        out.append((t.exit_time.value // 1_000_000, f"exit_{t.side}", t.exit_reason, t.exit_price))
    if result.open_position is not None:
        p = result.open_position
        entry = pd.Timestamp(p["entry_time"], tz="UTC").value // 1_000_000
        out.append((entry, f"entry_{p['side']}", None, p["entry_price"]))
    return out
