"""compute_arrays(names=...) computes what is asked (and what it needs on the way), with the same values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptoflow.errors import ConfigurationError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import compute, compute_arrays, resolve_params


def _prices(n: int = 500) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    return open_, np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999, close


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("rsi",), ("rsi",)),
        (("macd_hist",), ("macd", "macd_signal", "macd_hist")),
        (("cci", "engulfing"), ("cci", "is_bull", "engulfing")),
        (None, INDICATOR_NAMES),
    ],
)
def test_only_the_names_asked_for_are_computed_with_the_full_values(names, expected):
    params = resolve_params("ta")
    full = compute_arrays(*_prices(), params)
    some = compute_arrays(*_prices(), params, names)
    assert tuple(some) == expected
    for name in expected:
        np.testing.assert_array_equal(some[name], full[name])


def test_an_unknown_name_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="unknown indicator.*'rsx'"):
        compute_arrays(*_prices(), resolve_params("ta"), ("rsx",))


def test_the_flags_are_int8_arrays_and_int64_columns_of_the_frame_with_the_same_values():
    params = resolve_params("ta")
    arrays = compute_arrays(*_prices(), params, ("engulfing",))
    open_, high, low, close = _prices()
    candles = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close})
    frame = compute(candles, params)
    for name in ("is_bull", "engulfing"):
        assert arrays[name].dtype == np.int8  # 1 MB per million candles
        assert frame[name].dtype == np.int64
        np.testing.assert_array_equal(frame[name].to_numpy(), arrays[name])
    assert set(np.unique(arrays["engulfing"])) == {-1, 0, 1}
