"""The streaming engine's two states: the compiled one (``_cstream.c``, built at install) and the numba one
that replaces it where no C compiler was found. Both equal the batch engine to the last bit."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoflow.candles import Candle
from cryptoflow.errors import DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import StreamingIndicators, _nbstream, compute, resolve_params
from cryptoflow.indicators._streaming import state_arguments
from cryptoflow.testing.data import SHARED_FILES, candles_of, needs_shared_data
from cryptoflow.testing.strategies import candle_series, indicator_params

FILES = [pytest.param(path, id=path.name) for path in SHARED_FILES]


def numba_state(preset: str = "ta", **params: Any) -> _nbstream.State:
    return _nbstream.State(**state_arguments(resolve_params(preset, **params)))


def same(a: dict[str, float | int], b: dict[str, float | int]) -> bool:
    """The same keys in the same order and the same values, bit for bit (NaN equal to NaN)."""
    return list(a) == list(b) and all(
        type(a[key]) is type(b[key]) and (a[key] == b[key] or (math.isnan(a[key]) and math.isnan(b[key])))
        for key in a
    )


def test_the_compiled_state_is_built() -> None:
    """scripts/setup installs a C compiler, so the fast state is what tests and CI run."""
    from cryptoflow.indicators import _cstream

    assert issubclass(StreamingIndicators, _cstream.State), "run scripts/setup to build _cstream"


@needs_shared_data
@pytest.mark.parametrize("preset", ["ta", "seed"])
@pytest.mark.parametrize("path", FILES[:2])
def test_streaming_equals_batch_to_the_last_bit(path: Path, preset: str) -> None:
    candles = candles_of(path)
    batch = compute(candles, preset=preset)
    compiled, numba = StreamingIndicators(preset), numba_state(preset)
    rows = candles[["open", "high", "low", "close"]].to_dict("records")
    rng = np.random.default_rng(5)
    streamed = []
    for row in rows:
        tick = {key: value * (1 + rng.normal(0, 0.002)) for key, value in row.items()}
        assert same(compiled.peek(tick), numba.peek(tick))
        values = compiled.update(row)
        assert same(values, numba.update(row))
        streamed.append(values)
    frame = pd.DataFrame(streamed, index=candles.index)
    for column in INDICATOR_NAMES:
        np.testing.assert_array_equal(frame[column].to_numpy(float), batch[column].to_numpy(float))
    assert compiled.count == numba.count == len(candles)
    assert compiled._gains == numba._gains and compiled._typical == numba._typical


@settings(max_examples=100, deadline=None)
@given(candles=candle_series(), preset=st.sampled_from(["ta", "seed"]), params=indicator_params())
def test_the_numba_state_equals_the_compiled_one(
    candles: pd.DataFrame, preset: str, params: dict[str, int]
) -> None:
    compiled, numba = StreamingIndicators(preset, **params), numba_state(preset, **params)
    for row in candles.to_dict("records"):
        candle = Candle("ETHUSDT", "1m", 0, 59_999, row["open"], row["high"], row["low"], row["close"], 1.0)
        assert same(compiled.peek(row), numba.peek(row))
        assert same(compiled.update(candle), numba.update(candle))
        assert compiled._gains == numba._gains
        assert compiled._losses == numba._losses
        assert compiled._typical == numba._typical
    assert compiled.count == numba.count == len(candles)


@pytest.mark.parametrize("engine", [StreamingIndicators, numba_state], ids=["compiled", "numba"])
def test_a_bad_candle_is_refused_and_changes_nothing(engine: Any) -> None:
    stream, fresh = engine(), engine()
    good = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5}
    stream.update(good)
    fresh.update(good)
    with pytest.raises(DataError, match="a candle with NaN prices cannot update indicators"):
        stream.update({**good, "low": float("nan")})
    with pytest.raises(DataError, match="a candle with NaN prices cannot update indicators: Candle"):
        stream.peek(Candle("ETHUSDT", "1m", 0, 59_999, 1.0, 2.0, 0.5, float("nan"), 1.0))
    with pytest.raises(DataError, match="a candle needs numeric open, high, low and close") as caught:
        stream.update({**good, "close": "n/a"})
    assert isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(DataError, match="a candle needs numeric open, high, low and close"):
        stream.peek({"open": 1.0})
    assert stream.count == 1
    nxt = {"open": 10.5, "high": 12.0, "low": 10.0, "close": 11.5}
    assert same(stream.update(nxt), fresh.update(nxt))


def test_the_compiled_state_reads_any_real_number() -> None:
    """Integer prices (a hand-built Candle) count as their float values, as in a mapping."""
    as_ints, as_floats = StreamingIndicators(), StreamingIndicators()
    for i in range(40):
        price = 100 + i % 7
        as_ints.update(Candle("ETHUSDT", "1m", 0, 59_999, price, price + 2, price - 1, price + 1, 1))
        values = as_floats.update({"open": price, "high": price + 2, "low": price - 1, "close": price + 1})
    assert same(as_ints.peek({"open": 1, "high": 2, "low": 1, "close": 2}), as_floats.peek(
        {"open": 1.0, "high": 2.0, "low": 1.0, "close": 2.0}))  # fmt: skip
    assert not math.isnan(values["cci"]) and values["is_bull"] == 1
