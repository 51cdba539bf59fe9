"""A backtest computes only the indicators its strategy's rules read; the rest on demand, same values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtesting import BacktestConfig, backtest_symbol, run_backtest
from cryptoflow.errors import DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import compute
from cryptoflow.strategies import Strategy, load_strategy


class RsiOnly(Strategy):
    name = "rsi_only"

    def entry_long(self, ind):
        return ind["rsi"] < 30

    def entry_short(self, ind):
        return ind["rsi"] > 70


def _candles(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 2)
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="open_time")
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index
    )
    frame.attrs.update(symbol="TESTUSDT", interval="1h")
    return frame


def test_a_strategy_reading_only_rsi_computes_neither_macd_nor_cci():
    result = run_backtest(_candles(), RsiOnly(), BacktestConfig())
    only = result.symbols["TESTUSDT"]
    assert len(result.trades) > 0
    assert only.computed_indicators == ("rsi",)


def test_custom_computes_rsi_and_engulfing_only():
    only = run_backtest(_candles(), "custom", BacktestConfig()).symbols["TESTUSDT"]
    assert "macd" not in only.computed_indicators and "cci" not in only.computed_indicators
    assert {"rsi", "engulfing"} <= set(only.computed_indicators)


@pytest.mark.parametrize("preset", ["ta", "seed"])
def test_the_indicator_frame_is_completed_on_demand_with_the_batch_engine_values(preset):
    candles = _candles()
    only = run_backtest(candles, RsiOnly(), BacktestConfig(), preset=preset).symbols["TESTUSDT"]
    frame = only.indicators
    assert only.computed_indicators == INDICATOR_NAMES  # the report and the replay show them all
    expected = compute(candles, preset=preset)
    pd.testing.assert_frame_equal(frame, expected)
    assert frame.attrs["indicator_preset"] == preset


@pytest.mark.parametrize("strategy", ["custom", "basic", "ensemble"])
def test_trades_are_those_of_the_full_indicator_frame(strategy):
    candles = _candles()
    lazy = run_backtest(candles, strategy, BacktestConfig())
    given = compute(candles, preset="ta")
    full = backtest_symbol(candles, load_strategy(strategy), BacktestConfig(), indicators=given)
    assert len(full.trades) > 0
    pd.testing.assert_frame_equal(lazy.trades, full.trades)
    assert full.computed_indicators == ()  # a given frame is read, not computed


def test_a_nan_price_is_named_even_when_no_indicator_is_computed():
    candles = _candles(200)
    candles.iloc[5, candles.columns.get_loc("low")] = np.nan

    class Never(Strategy):
        name = "never"

    with pytest.raises(DataError, match="low is NaN at row 5"):
        run_backtest(candles, Never(), BacktestConfig())
