"""Compiled loops of the batch engine, the one-value steps they share with the streaming engine, and the
engines' output names.

The batch loops and the streaming engine's numba step (``_nbstream.py``) call the same scalar steps
(:func:`ema_step`, :func:`wilder_step`, :func:`rsi_of_averages`, :func:`rsi_from_means`,
:func:`engulfing_of`) and add window sums in the same order, oldest first; the compiled streaming step
(``_cstream.c``) performs the same operations in C. So the engines agree to the last bit. The EMA follows
pandas' ``ewm().mean()`` recurrence literally, so the presets reproduce pandas and the ``ta`` library.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True, error_model="numpy")


def named(
    rsi: Any, macd: Any, macd_signal: Any, macd_hist: Any, cci: Any, is_bull: Any, engulfing: Any
) -> dict[str, Any]:
    """Both engines' outputs by name, in :data:`cryptoflow.events.INDICATOR_NAMES` order (arrays for the
    batch engine, numbers for the streaming one)."""
    return {
        "rsi": rsi,
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "cci": cci,
        "is_bull": is_bull,
        "engulfing": engulfing,
    }


@_jit
def ema_step(x: float, first: bool, value: float, old_wt: float, alpha: float, adjust: bool) -> tuple:
    """pandas ``ewm(alpha=alpha, adjust=adjust).mean()``'s recurrence for one value: the new
    ``(value, old_wt)`` after ``x``; ``first`` starts the EMA at ``x``.

    With ``adjust=True`` pandas' weights ``sum((1-alpha)**i)`` are tracked incrementally in ``old_wt``
    (they converge to ``1/alpha``), so each step is O(1).
    """
    if first:
        return x, 1.0
    new_wt = 1.0 if adjust else alpha
    old_wt *= 1.0 - alpha
    if value != x:
        value = (old_wt * value + new_wt * x) / (old_wt + new_wt)
    return value, (old_wt + new_wt if adjust else 1.0)


@_jit
def wilder_step(average: float, x: float, alpha: float, factor: float) -> float:
    """One step of ``ewm(alpha=alpha, adjust=False).mean()`` (``factor = 1 - alpha``), as pandas does it."""
    if average != x:
        average = (factor * average + alpha * x) / (factor + alpha)
    return average


@_jit
def rsi_of_averages(up: float, down: float) -> float:
    """The ``ta`` library's RSI from average gain and loss: 100 where the average loss is 0."""
    return 100.0 if down == 0.0 else 100.0 - 100.0 / (1.0 + up / down)


@_jit
def ema(values: np.ndarray, alpha: float, adjust: bool, min_periods: int) -> np.ndarray:
    """pandas ``Series.ewm(alpha=alpha, adjust=adjust, min_periods=min_periods).mean()``.

    Leading NaNs are skipped (the EMA starts at the first value); the inputs here have no NaN after that.
    """
    n = values.shape[0]
    out = np.full(n, np.nan)
    weighted = np.nan
    old_wt = 1.0
    nobs = 0
    for i in range(n):
        cur = values[i]
        if cur != cur:
            continue
        nobs += 1
        weighted, old_wt = ema_step(cur, nobs == 1, weighted, old_wt, alpha, adjust)
        if nobs >= min_periods:
            out[i] = weighted
    return out


@_jit
def rsi_wilder(close: np.ndarray, alpha: float, period: int) -> np.ndarray:
    """The ``ta`` library's RSI: ``ewm(alpha=1/period, adjust=False)`` of gains and losses, the first
    candle counting as a zero change; 100 where the average loss is 0."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    factor = 1.0 - alpha
    up = 0.0
    down = 0.0
    for i in range(n):
        if i > 0:
            delta = close[i] - close[i - 1]
            gain = delta if delta > 0 else 0.0
            loss = -delta if delta < 0 else 0.0
            up = wilder_step(up, gain, alpha, factor)
            down = wilder_step(down, loss, alpha, factor)
        if i + 1 >= period:
            out[i] = rsi_of_averages(up, down)
    return out


@_jit
def rsi_sma(close: np.ndarray, period: int) -> np.ndarray:
    """RSI from simple rolling means of gains and losses (the 2023 scripts): first value at index
    ``period``; 100 where the mean loss is 0 and the mean gain is not, NaN where both are 0."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    gains = np.zeros(n)
    losses = np.zeros(n)
    for i in range(1, n):
        delta = close[i] - close[i - 1]
        gains[i] = delta if delta > 0 else 0.0
        losses[i] = -delta if delta < 0 else 0.0
    for i in range(period, n):
        gain_sum = 0.0
        loss_sum = 0.0
        for j in range(i - period + 1, i + 1):
            gain_sum += gains[j]
            loss_sum += losses[j]
        out[i] = rsi_from_means(gain_sum / period, loss_sum / period)
    return out


@_jit
def rsi_from_means(gain: float, loss: float) -> float:
    """``100 - 100 / (1 + gain / loss)`` with pandas' division semantics."""
    if loss == 0.0:
        return np.nan if gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


@_jit
def cci(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, constant: float) -> np.ndarray:
    """Commodity Channel Index: (typical price - its rolling mean) / (constant * rolling mean absolute
    deviation); NaN while warming up and where the deviation is 0 (all typical prices equal)."""
    n = close.shape[0]
    out = np.full(n, np.nan)
    typical = (high + low + close) / 3.0
    for i in range(period - 1, n):
        total = 0.0
        for j in range(i - period + 1, i + 1):
            total += typical[j]
        mean = total / period
        deviation = 0.0
        for j in range(i - period + 1, i + 1):
            deviation += abs(typical[j] - mean)
        mad = deviation / period
        if mad != 0.0:
            out[i] = (typical[i] - mean) / (constant * mad)
    return out


@_jit
def candle_patterns(open_: np.ndarray, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``is_bull`` (close >= open: 1, else 0) and ``engulfing`` (1 bullish, -1 bearish, 0 none), as int8
    (a million candles: 1 MB each instead of 8)."""
    n = close.shape[0]
    is_bull = np.zeros(n, dtype=np.int8)
    engulfing = np.zeros(n, dtype=np.int8)
    for i in range(n):
        is_bull[i] = 1 if close[i] >= open_[i] else 0
        if i > 0:
            engulfing[i] = engulfing_of(open_[i - 1], close[i - 1], open_[i], close[i])
    return is_bull, engulfing


@_jit
def engulfing_of(prev_open: float, prev_close: float, open_: float, close: float) -> int:
    """The original scripts' rule; equality allowed at the body edges."""
    if close > open_ and prev_close < prev_open and prev_close >= open_ and prev_open <= close:
        return 1
    if close < open_ and prev_close > prev_open and prev_close <= open_ and prev_open >= close:
        return -1
    return 0
