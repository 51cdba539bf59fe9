"""Hypothesis strategies for property tests: candle series and indicator parameters. Needs hypothesis
(the ``dev`` extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

__all__ = ["candle_series", "indicator_params"]


@st.composite
def candle_series(draw: st.DrawFn) -> pd.DataFrame:
    """1 to 120 OHLC rows moving by small steps (flat stretches, equal bodies and doji occur often)."""
    size = draw(st.integers(1, 120))
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
