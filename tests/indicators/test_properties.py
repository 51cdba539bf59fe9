"""Hypothesis: the streaming engine equals the batch engine on arbitrary series and parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import StreamingIndicators, compute


@st.composite
def candle_series(draw: st.DrawFn) -> pd.DataFrame:
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


@settings(max_examples=150, deadline=None)
@given(candles=candle_series(), preset=st.sampled_from(["ta", "seed"]), params=indicator_params())
def test_streaming_equals_batch(candles: pd.DataFrame, preset: str, params: dict[str, int]) -> None:
    batch = compute(candles, preset, **params)
    engine = StreamingIndicators(preset, **params)
    rows = []
    for row in candles.to_dict("records"):
        engine.peek({key: value * 1.01 for key, value in row.items()})
        rows.append(engine.update(row))
    streamed = pd.DataFrame(rows, index=candles.index)
    for column in INDICATOR_NAMES:
        np.testing.assert_allclose(
            streamed[column].to_numpy(dtype=float),
            batch[column].to_numpy(dtype=float),
            rtol=1e-9,
            equal_nan=True,
        )
