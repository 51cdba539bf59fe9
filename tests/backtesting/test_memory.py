"""A backtest's working set: what it keeps (RSI, equity, drawdown: 8 bytes a candle each; the int8 flags)
and little more. Measured with tracemalloc, which sees numpy's and the compiled kernels' arrays alike."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd

from backtesting import BacktestConfig, run_backtest


def _candles(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.r_[100.0, close[:-1]]
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="open_time")
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )
    frame.attrs.update(symbol="TESTUSDT", interval="1m")
    return frame


def test_a_backtest_allocates_little_more_than_the_arrays_it_keeps():
    n = 200_000
    candles = _candles(n)
    config = BacktestConfig(fill="intrabar")
    run_backtest(candles.iloc[:500], "custom", config)  # compiled code loads outside the measure
    tracemalloc.start()
    try:
        result = run_backtest(candles, "custom", config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.trades) > 0
    per_candle = peak / n
    # the kept arrays are 26 bytes a candle; the rules' float64 copies, the signals, the trade buffer
    # and the statistics' temporaries took 130 before they were trimmed or freed between stages
    assert 24 <= per_candle <= 40, f"{per_candle:.1f} bytes per candle"
