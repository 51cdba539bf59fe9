"""Rules that look back (``ind.ago``, ``crossed_above``/``crossed_below``): the same rule code gives the
same signals on a backtest's arrays and on live values, and reads no further back than declared."""

from __future__ import annotations

import re
from collections import deque
from typing import Any

import numpy as np
import pandas as pd
import pytest

from backtesting import BacktestConfig, run_backtest
from cryptoflow.errors import ConfigurationError
from cryptoflow.indicators import EMA, compute
from cryptoflow.strategies import LiveInputs, Strategy, StrategyError, crossed_above, crossed_below


class Crossings(Strategy):
    """RSI crossing 30 upwards above the close of two candles before, the fast EMA crossing under the slow
    one for shorts, and a three-candle rising close to exit shorts."""

    name = "crossings"
    indicators = {"ema_fast": EMA(5), "ema_slow": EMA(20)}
    lookback = 2
    stop_loss_pct = None
    take_profit_pct = None

    def entry_long(self, ind: Any) -> Any:
        return crossed_above(ind, "rsi", 30) & (ind["close"] > ind.ago("close", 2))

    def entry_short(self, ind: Any) -> Any:
        return crossed_below(ind, "ema_fast", "ema_slow")

    def exit_short(self, ind: Any) -> Any:
        return (ind["close"] > ind.ago("close", 1)) & (ind.ago("close", 1) > ind.ago("close", 2))


def _candles(n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(23)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 2)
    open_ = np.r_[100.0, close[:-1]]
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="open_time")
    frame = pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
         "close": close, "volume": 1.0},
        index=index,
    )  # fmt: skip
    frame.attrs.update(symbol="TESTUSDT", interval="1h")
    return frame


def _rows(candles: pd.DataFrame, strategy: Strategy) -> pd.DataFrame:
    columns = compute(candles).join(strategy.declared_indicators().compute(candles))
    return candles[["open", "high", "low", "close", "volume"]].join(columns)


def test_the_same_rules_give_the_same_signals_on_arrays_and_live() -> None:
    strategy, candles = Crossings(), _candles()
    result = run_backtest(candles, strategy, BacktestConfig()).symbols["TESTUSDT"]
    assert len(result.trades) > 0
    arrays = strategy.evaluate(result._inputs)
    past: deque[dict[str, Any]] = deque(maxlen=strategy.lookback)  # as the live trader keeps them
    for i, row in enumerate(_rows(candles, strategy).to_dict("records")):
        values = {key: np.float64(value) for key, value in row.items()}
        live = strategy.evaluate(LiveInputs(values, tuple(past), strategy.lookback))
        past.append(values)
        for hook in ("entry_long", "entry_short", "exit_long", "exit_short"):
            assert bool(getattr(live, hook)) == bool(getattr(arrays, hook)[i]), (hook, i)
    assert arrays.entry_long.sum() > 0 and arrays.entry_short.sum() > 0 and arrays.exit_short.sum() > 0


def test_ago_shifts_arrays_and_reads_the_live_past() -> None:
    strategy, candles = Crossings(), _candles(50)
    inputs = run_backtest(candles, strategy, BacktestConfig()).symbols["TESTUSDT"]._inputs
    close = candles["close"].to_numpy()
    np.testing.assert_array_equal(inputs.ago("close", 2), np.r_[np.nan, np.nan, close[:-2]])
    assert inputs.ago("close", 0) is inputs["close"]
    live = LiveInputs({"close": np.float64(3.0)}, ({"close": np.float64(1.0)}, {"close": np.float64(2.0)}), 2)
    assert (live.ago("close", 0), live.ago("close", 1), live.ago("close", 2)) == (3.0, 2.0, 1.0)
    assert np.isnan(LiveInputs({"close": np.float64(3.0)}, (), 2).ago("close", 2))  # before the first
    with pytest.raises(KeyError):
        LiveInputs({"close": np.float64(3.0)}, (), 2).ago("rsx", 1)


def test_reading_further_back_than_declared_names_the_fix_in_backtest_and_live() -> None:
    class Greedy(Crossings):
        name = "greedy"
        lookback = 1

    expected = "a rule reads 2 candle(s) back but the strategy declares lookback = 1; set lookback = 2"
    with pytest.raises(StrategyError, match=re.escape(expected)):
        run_backtest(_candles(100), Greedy(), BacktestConfig())
    row = {key: np.float64(v) for key, v in _rows(_candles(100), Greedy()).iloc[-1].items()}
    with pytest.raises(StrategyError, match=re.escape(expected)):
        Greedy().evaluate(LiveInputs(row, (row,), 1))
    with pytest.raises(ConfigurationError, match="lookback must be an integer >= 0"):
        type("Bad", (Crossings,), {"lookback": -1})()
