"""Hypothesis strategies for property tests: candle series and indicator parameters. Needs hypothesis
(the ``dev`` extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

__all__ = ["candle_series", "candles_with_volume", "catalog_indicators", "indicator_params"]


@st.composite
def candle_series(draw: st.DrawFn, min_size: int = 1) -> pd.DataFrame:
    """``min_size`` (default 1) to 120 OHLC rows moving by small steps (flat stretches, equal bodies and
    doji occur often)."""
    size = draw(st.integers(min_size, max(min_size, 120)))
    start = draw(st.floats(0.01, 100_000))
    # Moves are drawn from a small set so flat stretches, equal bodies and doji occur often.
    moves = draw(
        st.lists(
            st.sampled_from([0.0, 0.001, -0.001, 0.01, -0.01, 0.05, -0.05]), min_size=size, max_size=size
        )
    )
    wicks = draw(st.lists(st.sampled_from([0.0, 0.0005, 0.003]), min_size=size, max_size=size))
    close = start * np.cumprod(1 + np.array(moves))
    opens = np.r_[start, close[:-1]]
    wick = np.array(wicks)
    high = np.maximum(opens, close) * (1 + wick)
    low = np.minimum(opens, close) * (1 - wick)
    return pd.DataFrame({"open": opens, "high": high, "low": low, "close": close})


@st.composite
def indicator_params(draw: st.DrawFn) -> dict[str, int]:
    """Periods from 1 up, the fast MACD span sometimes longer than the slow one."""
    return {
        "rsi_period": draw(st.integers(1, 20)),
        "macd_fast": draw(st.integers(1, 15)),
        "macd_slow": draw(st.integers(1, 30)),
        "macd_signal": draw(st.integers(1, 10)),
        "cci_period": draw(st.integers(1, 25)),
    }


@st.composite
def candles_with_volume(draw: st.DrawFn, min_size: int = 1) -> pd.DataFrame:
    """:func:`candle_series` with a ``volume`` column (zero now and then) on a UTC open-time index of
    5-minute to 4-hour candles that often crosses midnight."""
    candles = draw(candle_series(min_size))
    size = len(candles)
    candles["volume"] = draw(
        st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 250.0]), min_size=size, max_size=size)
    )
    step = draw(st.sampled_from(["5min", "1h", "4h"]))
    start = pd.Timestamp("2025-08-19", tz="UTC") + draw(st.integers(0, 287)) * pd.Timedelta("5min")
    candles.index = pd.date_range(start, periods=size, freq=step, name="open_time")
    return candles


@st.composite
def catalog_indicators(draw: st.DrawFn) -> object:
    """One indicator of the catalogue with drawn parameters (periods from 1 or 2 up)."""
    from cryptoflow import indicators as ind

    period = st.integers(1, 30)
    small = st.integers(1, 5)
    return draw(
        st.one_of(
            st.builds(ind.EMA, period),
            st.builds(ind.SMA, period),
            st.builds(ind.WMA, period),
            st.builds(ind.Bollinger, period, st.sampled_from([1.0, 2.0, 2.5])),
            st.builds(ind.ATR, period),
            st.builds(ind.ADX, period),
            st.builds(ind.Stochastic, period, small),
            st.builds(ind.StochRSI, period, small, small),
            st.just(ind.OBV()),
            st.just(ind.VWAP()),
            st.builds(ind.MFI, period),
            st.builds(ind.Donchian, period),
            st.builds(ind.Ichimoku, period, period, period),
            st.builds(ind.Returns, period),
            st.builds(ind.Volatility, st.integers(2, 30)),
        )
    )
