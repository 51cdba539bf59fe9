"""Strategies declare their indicators: the backtest computes those the rules read, live trading streams
them, both give the rules the same values, and the warm-up follows from them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from backtesting import BacktestConfig, run_backtest
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import (
    EMA,
    VWAP,
    Bollinger,
    DeclaredIndicators,
    Indicator,
    resolve_params,
)
from cryptoflow.strategies import Strategy, load_strategy


class EmaCross(Strategy):
    """Long when the fast EMA is above the slow one and the close under the upper band."""

    name = "ema_cross"
    indicators = {"ema_fast": EMA(12), "ema_slow": EMA(50), "bb": Bollinger(20, 2)}
    stop_loss_pct = None
    take_profit_pct = None

    def entry_long(self, ind: Any) -> Any:
        return (ind["ema_fast"] > ind["ema_slow"]) & (ind["close"] < ind["bb_upper"])

    def exit_long(self, ind: Any) -> Any:
        return ind["ema_fast"] < ind["ema_slow"]


class EmaOnly(EmaCross):
    name = "ema_only"

    def entry_long(self, ind: Any) -> Any:
        return ind["ema_fast"] > ind["ema_slow"]


class Tunable(Strategy):
    name = "tunable"
    ema_period: int = 50

    def declared_indicators(self) -> DeclaredIndicators:
        return DeclaredIndicators({"ema": EMA(self.ema_period), "vwap": VWAP()})

    def entry_long(self, ind: Any) -> Any:
        return (ind["close"] > ind["ema"]) & (ind["close"] < ind["vwap"])


def _candles(n: int = 2000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 2)
    open_ = np.r_[100.0, close[:-1]]
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="open_time")
    frame = pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
         "close": close, "volume": rng.uniform(1.0, 5.0, n)},
        index=index,
    )  # fmt: skip
    frame.attrs.update(symbol="TESTUSDT", interval="1h")
    return frame


def test_the_backtest_computes_only_the_declared_indicators_the_rules_read() -> None:
    only = run_backtest(_candles(), EmaOnly(), BacktestConfig()).symbols["TESTUSDT"]
    assert only.computed_indicators == ("ema_fast", "ema_slow")  # no Bollinger, no RSI/MACD/CCI
    both = run_backtest(_candles(), EmaCross(), BacktestConfig()).symbols["TESTUSDT"]
    assert len(both.trades) > 0
    assert both.computed_indicators == ("ema_fast", "ema_slow", "bb_mid", "bb_upper", "bb_lower", "bb_width",
                                        "bb_pct_b")  # fmt: skip
    frame = both.indicators  # the report's frame: the built-ins, then the declared columns
    assert list(frame.columns) == [*INDICATOR_NAMES, *EmaCross().declared_indicators().columns]
    expected = EmaCross().declared_indicators().compute(_candles())
    pd.testing.assert_frame_equal(frame[expected.columns], expected)


@pytest.mark.parametrize("strategy", [EmaCross(), Tunable(ema_period=20)], ids=["class", "parameter"])
def test_live_rules_see_the_values_the_backtest_rules_see(strategy: Strategy) -> None:
    """Candle by candle, the declared stream (live) gives the rules what the batch columns give them."""
    candles = _candles(600)
    declared = strategy.declared_indicators()
    batch = declared.compute(candles)
    signals = strategy.evaluate({**{c: candles[c].to_numpy() for c in ("open", "high", "low", "close",
                                 "volume")}, **{c: batch[c].to_numpy() for c in batch}})  # fmt: skip
    stream = declared.stream()
    for i, (time, row) in enumerate(candles.iterrows()):
        candle = {**row.to_dict(), "open_time": time.value // 1_000_000}
        stream.peek({**candle, "close": candle["close"] * 1.01})
        values = stream.update(candle)
        assert values == pytest.approx(batch.iloc[i].to_dict(), rel=0, abs=0, nan_ok=True)
        live = strategy.evaluate({k: np.float64(v) for k, v in {**row.to_dict(), **values}.items()})
        assert bool(live.entry_long) == bool(signals.entry_long[i])
    assert signals.entry_long.any()


def test_the_warmup_follows_the_declared_indicators() -> None:
    builtin = resolve_params("ta").warmup + 1  # and the candle before, for ind.ago (lookback = 1)
    assert load_strategy("basic").warmup == builtin  # nothing declared
    assert EmaCross().warmup == 50 > builtin  # EMA(50): its first value on candle 50, and one before
    assert Tunable(ema_period=20).warmup == builtin
    assert Tunable(ema_period=80).warmup == 80


@pytest.mark.parametrize(
    ("indicators", "message"),
    [
        ({"fast": 12}, "indicator 'fast' is int 12, not an indicator: declare an instance such as EMA(12)"),
        ({"fast": EMA}, "indicator 'fast' is type"),
        ({"fast ema": EMA(3)}, "indicator name 'fast ema' must be a Python identifier"),
        (
            {"rsi": EMA(3)},
            "indicator 'rsi': its column 'rsi' is already a candle field or built-in indicator",
        ),
        ({"close": EMA(3)}, "its column 'close' is already a candle field or built-in indicator"),
        (
            {"bb_upper": EMA(3), "bb": Bollinger()},
            "indicator 'bb': its column 'bb_upper' is already 'bb_upper'",
        ),
        ([EMA(3)], "indicators must be a mapping of names to indicators"),
    ],
)
def test_a_bad_declaration_is_a_configuration_error_naming_the_strategy(
    indicators: Any, message: str
) -> None:
    class Bad(Strategy):
        name = "bad"

    Bad.indicators = indicators
    with pytest.raises(ConfigurationError) as caught:
        Bad()
    assert str(caught.value).startswith("bad: ")
    assert message in str(caught.value)


def test_declared_indicators_are_not_parameters_and_strategies_without_them_are_unchanged() -> None:
    assert "indicators" not in EmaCross.parameters()
    for name in ("basic", "custom", "ensemble"):
        assert len(load_strategy(name).declared_indicators()) == 0
    with pytest.raises(ConfigurationError, match="unknown parameter"):
        EmaCross(indicators={})


def test_several_of_one_kind_are_named_apart() -> None:
    declared = DeclaredIndicators({"ema_fast": EMA(12), "ema_slow": EMA(50), "bb": Bollinger(20, 2)})
    assert declared.columns == (
        "ema_fast",
        "ema_slow",
        "bb_mid",
        "bb_upper",
        "bb_lower",
        "bb_width",
        "bb_pct_b",
    )
    assert declared.inputs == ("close",)
    assert declared.owner("bb_pct_b") == "bb"
    assert isinstance(declared["bb"], Indicator) and declared.warmup == 49
