"""Your own indicators: a batch function plus a window recomputed over, or a streaming step; the helper
that proves their engines agree catches the usual mistakes; a strategy declares and backtests them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from backtesting import BacktestConfig, run_backtest
from cryptoflow.errors import ConfigurationError
from cryptoflow.indicators import DeclaredIndicators, Indicator, assert_engines_agree
from cryptoflow.strategies import Strategy
from cryptoflow.testing.strategies import candles_with_volume


class Range(Indicator):
    """Highest high minus lowest low over ``period`` candles; streamed by recomputing over the window."""

    inputs = ("high", "low")

    def __init__(self, period: int = 10, window: int | None = None) -> None:
        self.period = period
        self.window = period if window is None else window

    @property
    def warmup(self) -> int:
        return self.period - 1

    def batch(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        highs = pd.Series(high).rolling(self.period).max()
        return (highs - pd.Series(low).rolling(self.period).min()).to_numpy()


class Drawdown(Indicator):
    """Close below its running high (a fraction) and that high: a pure streaming step."""

    outputs = ("depth", "peak")

    def batch(self, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        peak = np.maximum.accumulate(close)
        return 1.0 - close / peak, peak

    def initial_state(self) -> float:
        return -np.inf

    def step(self, peak: float, close: float) -> tuple[float, tuple[float, float]]:
        peak = max(peak, close)
        return peak, (1.0 - close / peak, peak)


class Leaky(Drawdown):
    """A step that changes its state in place: a peek leaks into the next update."""

    def initial_state(self) -> list[float]:
        return [-np.inf]

    def step(self, state: list[float], close: float) -> tuple[list[float], tuple[float, float]]:
        state[0] = max(state[0], close)
        return state, (1.0 - close / state[0], state[0])


def _candles(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    index = pd.date_range("2025-08-19", periods=n, freq="5min", tz="UTC", name="open_time")
    frame = pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
         "close": close, "volume": 1.0},
        index=index,
    )  # fmt: skip
    frame.attrs.update(symbol="TESTUSDT", interval="5m")
    return frame


@settings(max_examples=60, deadline=None)
@given(candles=candles_with_volume())
def test_a_window_indicator_and_a_step_indicator_pass_the_helper(candles: pd.DataFrame) -> None:
    assert_engines_agree(Range(7), candles)
    assert_engines_agree(Drawdown(), candles)


def test_the_helper_names_a_window_too_short_for_the_batch() -> None:
    with pytest.raises(AssertionError, match=r"Range\(period=10, window=5\): output 'value' at row 9"):
        assert_engines_agree(Range(10, window=5), _candles())


def test_the_helper_catches_a_peek_that_changes_the_state() -> None:
    with pytest.raises(AssertionError, match="output 'depth' at row 0: streaming 0.00990"):
        assert_engines_agree(Leaky(), _candles())


def test_the_helper_catches_an_overstated_warmup() -> None:
    class Late(Range):
        @property
        def warmup(self) -> int:
            return self.period + 5

    with pytest.raises(AssertionError, match="every output has a value at row 9, before its warmup 15"):
        assert_engines_agree(Late(10), _candles())


def test_an_indicator_without_a_streaming_engine_is_refused_when_declared_for_live() -> None:
    class BatchOnly(Indicator):
        def batch(self, close: np.ndarray) -> np.ndarray:
            return close

    declared = DeclaredIndicators({"mine": BatchOnly()})
    assert declared.compute(_candles())["mine"].iloc[-1] == _candles()["close"].iloc[-1]
    with pytest.raises(ConfigurationError, match="BatchOnly has no streaming engine: set window = N"):
        declared.stream()


def test_a_wrong_output_count_or_length_is_a_configuration_error() -> None:
    class Short(Range):
        def batch(self, high: np.ndarray, low: np.ndarray) -> Any:
            return high[1:]

    with pytest.raises(
        ConfigurationError, match=r"batch output 'value' has shape \(299,\), expected \(300,\)"
    ):
        DeclaredIndicators({"r": Short()}).compute(_candles())

    class One(Drawdown):
        def batch(self, close: np.ndarray) -> Any:
            return close

    with pytest.raises(
        ConfigurationError, match=r"One\(\) returned 1 value\(s\) for its 2 output\(s\) depth, peak"
    ):
        assert_engines_agree(One(), _candles())


def test_a_strategy_declares_and_backtests_its_own_indicators() -> None:
    class BuyTheDip(Strategy):
        name = "buy_the_dip"
        indicators = {"range": Range(20), "dd": Drawdown()}

        def entry_long(self, ind: Any) -> Any:
            return (ind["dd_depth"] > 0.15) & (ind["range"] > 0.0)

    result = run_backtest(_candles(), BuyTheDip(), BacktestConfig()).symbols["TESTUSDT"]
    assert result.computed_indicators == ("range", "dd_depth", "dd_peak")
    assert len(result.trades) > 0
    stream = BuyTheDip().declared_indicators().stream()
    for time, row in _candles().iterrows():
        values = stream.update({**row.to_dict(), "open_time": time.value // 1_000_000})
    assert values == pytest.approx(result.indicators.iloc[-1][["range", "dd_depth", "dd_peak"]].to_dict())
