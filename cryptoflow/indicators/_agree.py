"""The equality test every indicator passes, built-in or your own: :func:`assert_engines_agree`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cryptoflow.indicators._catalog import Indicator, outputs_of
from cryptoflow.indicators._declared import candle_inputs

__all__ = ["assert_engines_agree"]


def _differ(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) != math.isnan(b)
    if rtol == 0.0 and atol == 0.0:
        return a != b
    return not math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


def assert_engines_agree(
    indicator: Indicator, candles: pd.DataFrame, *, rtol: float = 0.0, atol: float = 0.0
) -> None:
    """Assert that ``indicator``'s batch and streaming engines agree on ``candles``; call it in your tests.

    Feeds the candles (a frame with the columns the indicator reads; ``open_time`` may be its datetime
    index) one at a time to a fresh streaming engine, and before each ``update`` peeks at a distorted
    copy of the candle (prices and volume 1 % higher) and at the candle itself. Checks that:

    - every update equals the batch value of that row, NaN where the batch has NaN (bit for bit by
      default; ``rtol``/``atol`` allow rounding where your two engines add in different orders);
    - peeking at a candle gives what updating with it gives, so a peek changed nothing;
    - before row :attr:`Indicator.warmup`, some output is NaN on every row (the warm-up is not
      overstated).

    Raises AssertionError naming the output and the first row that differs.

    >>> assert_engines_agree(EMA(12), candles)  # doctest: +SKIP
    """
    inputs = candle_inputs(candles, indicator.inputs)
    columns = [inputs[field] for field in indicator.inputs]
    batch = outputs_of(indicator, indicator.batch(*columns), len(candles))
    warmup = min(indicator.warmup, len(candles))
    complete = np.flatnonzero(~np.any(np.isnan(np.vstack(batch)[:, :warmup]), axis=0))
    if len(complete):
        raise AssertionError(
            f"{indicator!r}: every output has a value at row {complete[0]}, before its warmup {warmup}"
        )
    stream = indicator.stream()
    rows = np.column_stack(columns).tolist() if columns else [[] for _ in range(len(candles))]
    bumped = [field not in ("open_time",) for field in indicator.inputs]
    for i, row in enumerate(rows):
        stream.peek(*[value * 1.01 if bump else value for value, bump in zip(row, bumped, strict=True)])
        peeked = outputs_of(indicator, stream.peek(*row))
        updated = outputs_of(indicator, stream.update(*row))
        for name, peek, update, values in zip(indicator.outputs, peeked, updated, batch, strict=True):
            if _differ(float(update), float(values[i]), rtol, atol):
                raise AssertionError(
                    f"{indicator!r}: output {name!r} at row {i}: streaming {update!r}, batch {values[i]!r}"
                )
            if _differ(float(peek), float(update), 0.0, 0.0):
                raise AssertionError(
                    f"{indicator!r}: output {name!r} at row {i}: peek gave {peek!r}, update {update!r}"
                )
