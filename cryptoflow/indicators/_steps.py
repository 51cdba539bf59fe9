"""The catalogue's one-candle steps, and the batch loops that run them over arrays.

Each indicator of the catalogue is one ``*_step(s, inputs..., commit)`` function over its state ``s``, a
float64 array laid out by its class in ``_catalog.py`` (parameters first, then running values, then ring
buffers). The batch engine runs the step over every candle (the ``*_batch`` loops, compiled with it); the
streaming engine calls the same step once per candle, with ``commit=False`` for a ``peek``. One formula
serves both engines, so they agree to the last bit.

Rolling windows are rings inside ``s`` that start filled with NaN, and every window operation returns NaN
while a NaN is in the window: a value appears exactly when the window is full, as with pandas'
``rolling(n, min_periods=n)``, and a NaN input (a 0/0 upstream) blanks the windows it falls in, as there.
Sums run oldest first. The formulas are written as the ``ta`` library writes them (operation for operation)
so that they stay within rounding of it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cryptoflow.indicators import _kernels as k

_jit = njit(cache=True, nogil=True, error_model="numpy")
_NAN = math.nan
_DAY_MS = 86_400_000.0


# ---- rings -------------------------------------------------------------------------------------------
# A ring of ``size`` slots starts at ``s[base]``; ``head`` is the slot the next value goes to (the oldest).
# A window of ``w <= size`` values is the ``w - 1`` latest stored ones and ``newest``, not stored yet.


@_jit
def _slot(base: int, size: int, head: int, back: int) -> int:
    """Index in ``s`` of the value stored ``back`` steps ago (1: the latest)."""
    i = head - back
    return base + (i + size if i < 0 else i)


@_jit
def _push(s: np.ndarray, base: int, size: int, at: int, x: float) -> None:
    """Store ``x`` in the ring; ``s[at]`` holds its head."""
    head = int(s[at])
    s[base + head] = x
    s[at] = head + 1 if head + 1 < size else 0


@_jit
def _sum(s: np.ndarray, base: int, size: int, head: int, w: int, newest: float) -> float:
    total = 0.0
    for back in range(w - 1, 0, -1):
        total += s[_slot(base, size, head, back)]
    return total + newest


@_jit
def _max(s: np.ndarray, base: int, size: int, head: int, w: int, newest: float) -> float:
    best = newest
    if best != best:
        return _NAN
    for back in range(w - 1, 0, -1):
        x = s[_slot(base, size, head, back)]
        if x != x:
            return _NAN
        if x > best:
            best = x
    return best


@_jit
def _min(s: np.ndarray, base: int, size: int, head: int, w: int, newest: float) -> float:
    best = newest
    if best != best:
        return _NAN
    for back in range(w - 1, 0, -1):
        x = s[_slot(base, size, head, back)]
        if x != x:
            return _NAN
        if x < best:
            best = x
    return best


@_jit
def _std(s: np.ndarray, base: int, size: int, head: int, w: int, newest: float, ddof: int) -> float:
    """Standard deviation of the window, two passes over the values less the newest one (so a flat
    window gives exactly 0, as pandas does, and large prices lose no digits to cancellation)."""
    if newest != newest:
        return _NAN
    total = 0.0
    for back in range(w - 1, 0, -1):
        total += s[_slot(base, size, head, back)] - newest
    mean = total / w  # the newest's own offset is 0
    deviation = 0.0
    for back in range(w - 1, 0, -1):
        d = (s[_slot(base, size, head, back)] - newest) - mean
        deviation += d * d
    return math.sqrt((deviation + mean * mean) / (w - ddof))


# ---- moving averages ------------------------------------------------------------------------------------
# EMA state: alpha, period, count, value, weight.


@_jit
def ema_step(s: np.ndarray, x: float, commit: bool) -> float:
    count = s[2] + 1.0
    value, weight = k.ema_step(x, count == 1.0, s[3], s[4], s[0], False)
    if commit:
        s[2], s[3], s[4] = count, value, weight
    return value if count >= s[1] else _NAN


@_jit
def ema_batch(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = ema_step(s, x[i], True)
    return out


# SMA and WMA state: period, head, ring[period].


@_jit
def sma_step(s: np.ndarray, x: float, commit: bool) -> float:
    period = int(s[0])
    value = _sum(s, 2, period, int(s[1]), period, x) / period
    if commit:
        _push(s, 2, period, 1, x)
    return value


@_jit
def sma_batch(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = sma_step(s, x[i], True)
    return out


@_jit
def wma_step(s: np.ndarray, x: float, commit: bool) -> float:
    """Weights ``i * 2 / (n * (n + 1))``, ``i`` = 1 for the oldest value to ``n`` for the newest (``ta``)."""
    n = int(s[0])
    head = int(s[1])
    scale = n * (n + 1)
    total = 0.0
    for back in range(n - 1, 0, -1):
        total += (n - back) * 2 / scale * s[_slot(2, n, head, back)]
    value = total + n * 2 / scale * x
    if commit:
        _push(s, 2, n, 1, x)
    return value


@_jit
def wma_batch(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = wma_step(s, x[i], True)
    return out


# ---- volatility -----------------------------------------------------------------------------------------
# Bollinger state: period, multiplier, head, ring[period].


@_jit
def bollinger_step(s: np.ndarray, close: float, commit: bool) -> tuple:
    """``(mid, upper, lower, width, pct_b)``: ``ta``'s bands from the population standard deviation."""
    period = int(s[0])
    head = int(s[2])
    mid = _sum(s, 3, period, head, period, close) / period
    std = _std(s, 3, period, head, period, close, 0)
    upper = mid + s[1] * std
    lower = mid - s[1] * std
    width = ((upper - lower) / mid) * 100
    pct_b = (close - lower) / (upper - lower) if upper != lower else _NAN
    if commit:
        _push(s, 3, period, 2, close)
    return mid, upper, lower, width, pct_b


@_jit
def bollinger_batch(s: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty((5, close.shape[0]))
    for i in range(close.shape[0]):
        out[0, i], out[1, i], out[2, i], out[3, i], out[4, i] = bollinger_step(s, close[i], True)
    return out


# ATR state: period, count, previous close, atr, sum of the first true ranges.


@_jit
def atr_step(s: np.ndarray, high: float, low: float, close: float, commit: bool) -> float:
    """``ta``'s ATR: the mean of the first ``period`` true ranges (the first candle's is high - low), then
    Wilder's ``(atr * (n - 1) + tr) / n``."""
    period = int(s[0])
    count = int(s[1])
    tr = high - low
    if count > 0:
        tr = max(tr, abs(high - s[2]), abs(low - s[2]))
    total = s[4]
    atr = s[3]
    value = _NAN
    if count < period:
        total += tr
        if count == period - 1:
            atr = value = total / period
    else:
        atr = value = (atr * (period - 1) + tr) / period
    if commit:
        s[1], s[2], s[3], s[4] = count + 1, close, atr, total
    return value


@_jit
def atr_batch(s: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = atr_step(s, high[i], low[i], close[i], True)
    return out


# ---- trend ---------------------------------------------------------------------------------------------
# ADX state: period, count, previous high, low, close, smoothed TR, +DM, -DM, sum of the first DX, adx.


@_jit
def _wilder_sum(total: float, x: float, count: int, period: int) -> float:
    """The first ``period`` values summed, then ``total - total / n + x`` (``ta``'s smoothing)."""
    return total + x if count <= period else total - (total / period) + x


@_jit
def adx_step(s: np.ndarray, high: float, low: float, close: float, commit: bool) -> tuple:
    """``(adx, plus_di, minus_di)`` as ``ta`` computes them: +DI/-DI from candle ``period``, ADX (the mean
    of the first ``period`` DX, then Wilder-smoothed) from candle ``2 * period - 1``."""
    period = int(s[0])
    count = int(s[1])
    tr_sum, plus_sum, minus_sum, dx_sum, adx = s[5], s[6], s[7], s[8], s[9]
    plus_di = minus_di = value = _NAN
    if count > 0:
        tr = max(high, s[4]) - min(low, s[4])
        up = high - s[2]
        down = s[3] - low
        plus_dm = up if up > down and up > 0 else 0.0
        minus_dm = down if down > up and down > 0 else 0.0
        tr_sum = _wilder_sum(tr_sum, tr, count, period)
        plus_sum = _wilder_sum(plus_sum, plus_dm, count, period)
        minus_sum = _wilder_sum(minus_sum, minus_dm, count, period)
        if count >= period:
            plus_di = 100 * (plus_sum / tr_sum) if tr_sum != 0 else 0.0
            minus_di = 100 * (minus_sum / tr_sum) if tr_sum != 0 else 0.0
            total = plus_di + minus_di
            dx = 100 * abs((plus_di - minus_di) / total) if total != 0 else 0.0
            if count < 2 * period:
                dx_sum += dx
                if count == 2 * period - 1:
                    adx = value = dx_sum / period
            else:
                adx = value = ((adx * (period - 1)) + dx) / period
    if commit:
        s[1], s[2], s[3], s[4] = count + 1, high, low, close
        s[5], s[6], s[7], s[8], s[9] = tr_sum, plus_sum, minus_sum, dx_sum, adx
    return value, plus_di, minus_di


@_jit
def adx_batch(s: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty((3, close.shape[0]))
    for i in range(close.shape[0]):
        out[0, i], out[1, i], out[2, i] = adx_step(s, high[i], low[i], close[i], True)
    return out


# Ichimoku state: conversion, base and span B windows, head, ring of highs[size], ring of lows[size]
# (size: the longest window).


@_jit
def ichimoku_step(s: np.ndarray, high: float, low: float, commit: bool) -> tuple:
    """``(conversion, base, span_a, span_b)``: midpoints of the high-low range over each window, not
    displaced (each value uses candles up to this one only)."""
    size = int(max(s[0], s[1], s[2]))
    head = int(s[3])
    highs, lows = 4, 4 + size
    w1, w2, w3 = int(s[0]), int(s[1]), int(s[2])
    conversion = 0.5 * (_max(s, highs, size, head, w1, high) + _min(s, lows, size, head, w1, low))
    base = 0.5 * (_max(s, highs, size, head, w2, high) + _min(s, lows, size, head, w2, low))
    span_b = 0.5 * (_max(s, highs, size, head, w3, high) + _min(s, lows, size, head, w3, low))
    if commit:
        s[highs + head] = high
        s[lows + head] = low
        s[3] = head + 1 if head + 1 < size else 0
    return conversion, base, 0.5 * (conversion + base), span_b


@_jit
def ichimoku_batch(s: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    out = np.empty((4, high.shape[0]))
    for i in range(high.shape[0]):
        out[0, i], out[1, i], out[2, i], out[3, i] = ichimoku_step(s, high[i], low[i], True)
    return out


# ---- momentum ------------------------------------------------------------------------------------------
# Stochastic state: period, smooth, head, smooth head, highs[period], lows[period], %K[smooth].


@_jit
def stochastic_step(s: np.ndarray, high: float, low: float, close: float, commit: bool) -> tuple:
    """``(k, d)``: ``100 * (close - lowest low) / (highest high - lowest low)`` and its mean over
    ``smooth`` candles."""
    period = int(s[0])
    smooth = int(s[1])
    head = int(s[2])
    highs, lows, ks = 4, 4 + period, 4 + 2 * period
    lowest = _min(s, lows, period, head, period, low)
    percent_k = 100 * (close - lowest) / (_max(s, highs, period, head, period, high) - lowest)
    percent_d = _sum(s, ks, smooth, int(s[3]), smooth, percent_k) / smooth
    if commit:
        s[highs + head] = high
        _push(s, lows, period, 2, low)
        _push(s, ks, smooth, 3, percent_k)
    return percent_k, percent_d


@_jit
def stochastic_batch(s: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty((2, close.shape[0]))
    for i in range(close.shape[0]):
        out[0, i], out[1, i] = stochastic_step(s, high[i], low[i], close[i], True)
    return out


# StochRSI state: period, smooth1, smooth2, alpha, count, previous close, average gain, average loss,
# three heads, then RSI[period], StochRSI[smooth1], %K[smooth2].


@_jit
def stoch_rsi_step(s: np.ndarray, close: float, commit: bool) -> tuple:
    """``(stoch_rsi, k, d)``: where the RSI (the ``ta`` library's, as ``rsi``) stands in its range over
    ``period`` candles (0 to 1), its mean over ``smooth1`` candles and that one's over ``smooth2``."""
    period, smooth1, smooth2 = int(s[0]), int(s[1]), int(s[2])
    alpha = s[3]
    count = int(s[4])
    up, down = s[6], s[7]
    if count > 0:
        delta = close - s[5]
        up = k.wilder_step(up, delta if delta > 0 else 0.0, alpha, 1.0 - alpha)
        down = k.wilder_step(down, -delta if delta < 0 else 0.0, alpha, 1.0 - alpha)
    rsi = k.rsi_of_averages(up, down) if count + 1 >= period else _NAN
    rsis, stochs, ks = 11, 11 + period, 11 + period + smooth1
    head = int(s[8])
    lowest = _min(s, rsis, period, head, period, rsi)
    stoch = (rsi - lowest) / (_max(s, rsis, period, head, period, rsi) - lowest)
    percent_k = _sum(s, stochs, smooth1, int(s[9]), smooth1, stoch) / smooth1
    percent_d = _sum(s, ks, smooth2, int(s[10]), smooth2, percent_k) / smooth2
    if commit:
        s[4], s[5], s[6], s[7] = count + 1, close, up, down
        _push(s, rsis, period, 8, rsi)
        _push(s, stochs, smooth1, 9, stoch)
        _push(s, ks, smooth2, 10, percent_k)
    return stoch, percent_k, percent_d


@_jit
def stoch_rsi_batch(s: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty((3, close.shape[0]))
    for i in range(close.shape[0]):
        out[0, i], out[1, i], out[2, i] = stoch_rsi_step(s, close[i], True)
    return out


# Returns state: period, head, closes[period].


@_jit
def returns_step(s: np.ndarray, close: float, commit: bool) -> float:
    """``close / close[period candles ago] - 1`` (pandas ``pct_change(period)``)."""
    period = int(s[0])
    head = int(s[1])
    value = close / s[_slot(2, period, head, period)] - 1
    if commit:
        _push(s, 2, period, 1, close)
    return value


@_jit
def returns_batch(s: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = returns_step(s, close[i], True)
    return out


# Volatility state: period, previous close, head, log returns[period].


@_jit
def volatility_step(s: np.ndarray, close: float, commit: bool) -> float:
    """Sample standard deviation (``ddof=1``) of the last ``period`` one-candle log returns."""
    period = int(s[0])
    log_return = math.log(close / s[1])
    value = _std(s, 3, period, int(s[2]), period, log_return, 1)
    if commit:
        s[1] = close
        _push(s, 3, period, 2, log_return)
    return value


@_jit
def volatility_batch(s: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = volatility_step(s, close[i], True)
    return out


# ---- volume --------------------------------------------------------------------------------------------
# OBV state: count, previous close, obv.


@_jit
def obv_step(s: np.ndarray, close: float, volume: float, commit: bool) -> float:
    """``ta``'s OBV: the running sum of the volume, negated when the close fell (a flat close adds it)."""
    value = s[2] + (-volume if s[0] > 0 and close < s[1] else volume)
    if commit:
        s[0], s[1], s[2] = s[0] + 1, close, value
    return value


@_jit
def obv_batch(s: np.ndarray, close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = obv_step(s, close[i], volume[i], True)
    return out


# VWAP state: UTC day of the session, sum of typical price * volume, sum of volume.


@_jit
def vwap_step(
    s: np.ndarray, high: float, low: float, close: float, volume: float, open_time: float, commit: bool
) -> float:
    """Volume-weighted typical price since the start of the candle's UTC day (NaN while that volume is 0)."""
    day = math.floor(open_time / _DAY_MS)
    traded, volumes = (s[1], s[2]) if day == s[0] else (0.0, 0.0)
    traded += (high + low + close) / 3.0 * volume
    volumes += volume
    if commit:
        s[0], s[1], s[2] = day, traded, volumes
    return traded / volumes


@_jit
def vwap_batch(
    s: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    open_time: np.ndarray,
) -> np.ndarray:
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = vwap_step(s, high[i], low[i], close[i], volume[i], open_time[i], True)
    return out


# MFI state: period, count, previous typical price, head, raw money flows[period].


@_jit
def mfi_step(s: np.ndarray, high: float, low: float, close: float, volume: float, commit: bool) -> float:
    """``ta``'s money flow index: typical price * volume, signed by the typical price's move (0 when
    flat, and on the first candle), split into positive and negative sums over ``period`` candles."""
    period = int(s[0])
    head = int(s[3])
    typical = (high + low + close) / 3.0
    direction = 0.0
    if s[1] > 0:
        direction = 1.0 if typical > s[2] else (-1.0 if typical < s[2] else 0.0)
    flow = typical * volume * direction
    positive = negative = 0.0
    for back in range(period - 1, -1, -1):  # oldest first, the new flow last
        x = flow if back == 0 else s[_slot(4, period, head, back)]
        if x != x:
            positive = _NAN
            break
        if x >= 0.0:
            positive += x
        else:
            negative += x
    ratio = positive / abs(negative)
    if commit:
        s[1], s[2] = s[1] + 1, typical
        _push(s, 4, period, 3, flow)
    return 100 - (100 / (1 + ratio))


@_jit
def mfi_batch(
    s: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> np.ndarray:
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = mfi_step(s, high[i], low[i], close[i], volume[i], True)
    return out


# Donchian state: period, head, highs[period], lows[period].


@_jit
def donchian_step(s: np.ndarray, high: float, low: float, close: float, commit: bool) -> tuple:
    """``(upper, lower, mid, pct_b)``: the highest high and lowest low over ``period`` candles, their
    midpoint and where the close stands between them (0 to 1)."""
    period = int(s[0])
    head = int(s[1])
    upper = _max(s, 2, period, head, period, high)
    lower = _min(s, 2 + period, period, head, period, low)
    if commit:
        s[2 + head] = high
        _push(s, 2 + period, period, 1, low)
    return upper, lower, ((upper - lower) / 2.0) + lower, (close - lower) / (upper - lower)


@_jit
def donchian_batch(s: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty((4, close.shape[0]))
    for i in range(close.shape[0]):
        out[0, i], out[1, i], out[2, i], out[3, i] = donchian_step(s, high[i], low[i], close[i], True)
    return out
