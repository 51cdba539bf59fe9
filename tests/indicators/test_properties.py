"""Hypothesis: the streaming engine equals the batch engine on arbitrary series and parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import StreamingIndicators, compute
from cryptoflow.testing.strategies import candle_series, indicator_params


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
