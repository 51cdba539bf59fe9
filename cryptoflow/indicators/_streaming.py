"""The streaming engine: one closed candle at a time, O(1) in the length of history.

A symbol's whole state (parameters, recurrences, rolling windows) is one float64 array, and one compiled
step (:func:`_step`) reads the candle, computes every indicator and, for an update, writes the new state
back. The Python side only unpacks the candle and names the results, so a step costs one compiled call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numba import njit

from cryptoflow.candles import Candle
from cryptoflow.errors import DataError
from cryptoflow.indicators import _kernels as k
from cryptoflow.indicators._params import IndicatorParams, pandas_alpha, resolve_params

_NAN = math.nan

# Layout of the state array. Parameters first (written once), then the running state, then the windows.
_RSI_PERIOD, _RSI_SMA, _RSI_ALPHA, _RSI_FACTOR = 0, 1, 2, 3
_FAST_ALPHA, _SLOW_ALPHA, _SIGNAL_ALPHA, _ADJUST = 4, 5, 6, 7
_FAST_MIN, _SLOW_MIN, _SIGNAL_MIN, _CCI_PERIOD, _CCI_CONSTANT = 8, 9, 10, 11, 12
_COUNT, _PREV_OPEN, _PREV_CLOSE, _RSI_UP, _RSI_DOWN = 13, 14, 15, 16, 17
_FAST, _FAST_WT, _SLOW, _SLOW_WT, _SIGNAL, _SIGNAL_WT, _MACD_COUNT = 18, 19, 20, 21, 22, 23, 24
_RSI_HEAD, _CCI_HEAD = 25, 26
_WINDOWS = 27  # gains[rsi_period], losses[rsi_period], typical prices[cci_period]


@njit(cache=True, nogil=True, error_model="numpy")
def _window_sum(ring: np.ndarray, head: int, newest: float) -> float:
    """Sum of the last ``len(ring) - 1`` stored values and ``newest``, oldest first (the batch order)."""
    period = ring.shape[0]
    total = 0.0
    i = head
    for _ in range(1, period):
        i = i + 1 if i + 1 < period else 0  # a branch, not an integer division: this runs per candle
        total += ring[i]
    return total + newest


# Not nogil: releasing and taking back the GIL would cost more than the step itself.
@njit(cache=True, error_model="numpy")
def _step(s: np.ndarray, o: float, h: float, low: float, c: float, commit: bool) -> tuple:
    """Every indicator after the candle ``o, h, low, c``; ``commit`` stores the new state.

    Returns ``(rsi, macd, macd_signal, macd_hist, cci, is_bull, engulfing)``; ``is_bull`` is -1 (and the
    state untouched) when a price is NaN.
    """
    if o != o or h != h or low != low or c != c:
        return _NAN, _NAN, _NAN, _NAN, _NAN, -1, 0
    count = int(s[_COUNT]) + 1
    first = count == 1
    prev_open = s[_PREV_OPEN]
    prev_close = s[_PREV_CLOSE]
    rsi_period = int(s[_RSI_PERIOD])
    cci_period = int(s[_CCI_PERIOD])
    gains = s[_WINDOWS : _WINDOWS + rsi_period]
    losses = s[_WINDOWS + rsi_period : _WINDOWS + 2 * rsi_period]
    typicals = s[_WINDOWS + 2 * rsi_period : _WINDOWS + 2 * rsi_period + cci_period]
    rsi_head = int(s[_RSI_HEAD])
    cci_head = int(s[_CCI_HEAD])

    # RSI
    gain = loss = 0.0
    if not first:
        delta = c - prev_close
        gain = delta if delta > 0 else 0.0
        loss = -delta if delta < 0 else 0.0
    up = s[_RSI_UP]
    down = s[_RSI_DOWN]
    rsi = _NAN
    if s[_RSI_SMA] != 0.0:
        if count > rsi_period:
            mean_gain = _window_sum(gains, rsi_head, gain) / rsi_period
            rsi = k.rsi_from_means(mean_gain, _window_sum(losses, rsi_head, loss) / rsi_period)
    else:
        if not first:
            up = k.wilder_step(up, gain, s[_RSI_ALPHA], s[_RSI_FACTOR])
            down = k.wilder_step(down, loss, s[_RSI_ALPHA], s[_RSI_FACTOR])
        if count >= rsi_period:
            rsi = k.rsi_of_averages(up, down)

    # MACD
    adjust = s[_ADJUST] != 0.0
    fast, fast_wt = k.ema_step(c, first, s[_FAST], s[_FAST_WT], s[_FAST_ALPHA], adjust)
    slow, slow_wt = k.ema_step(c, first, s[_SLOW], s[_SLOW_WT], s[_SLOW_ALPHA], adjust)
    macd = (fast if count >= s[_FAST_MIN] else _NAN) - (slow if count >= s[_SLOW_MIN] else _NAN)
    macd_count = s[_MACD_COUNT]
    signal_value = s[_SIGNAL]
    signal_wt = s[_SIGNAL_WT]
    signal = _NAN
    if macd == macd:
        signal_value, signal_wt = k.ema_step(
            macd, macd_count == 0.0, signal_value, signal_wt, s[_SIGNAL_ALPHA], adjust
        )
        macd_count += 1.0
        if macd_count >= s[_SIGNAL_MIN]:
            signal = signal_value

    # CCI
    typical = (h + low + c) / 3.0
    cci = _NAN
    if count >= cci_period:
        mean = _window_sum(typicals, cci_head, typical) / cci_period
        deviation = 0.0
        i = cci_head
        for _ in range(1, cci_period):
            i = i + 1 if i + 1 < cci_period else 0
            deviation += abs(typicals[i] - mean)
        mad = (deviation + abs(typical - mean)) / cci_period
        if mad != 0.0:
            cci = (typical - mean) / (s[_CCI_CONSTANT] * mad)

    engulfing = 0 if first else k.engulfing_of(prev_open, prev_close, o, c)

    if commit:
        s[_COUNT] = count
        s[_PREV_OPEN] = o
        s[_PREV_CLOSE] = c
        s[_RSI_UP] = up
        s[_RSI_DOWN] = down
        if not first:
            gains[rsi_head] = gain
            losses[rsi_head] = loss
            s[_RSI_HEAD] = rsi_head + 1 if rsi_head + 1 < rsi_period else 0
        s[_FAST] = fast
        s[_FAST_WT] = fast_wt
        s[_SLOW] = slow
        s[_SLOW_WT] = slow_wt
        s[_SIGNAL] = signal_value
        s[_SIGNAL_WT] = signal_wt
        s[_MACD_COUNT] = macd_count
        typicals[cci_head] = typical
        s[_CCI_HEAD] = cci_head + 1 if cci_head + 1 < cci_period else 0
    return rsi, macd, signal, macd - signal, cci, 1 if c >= o else 0, engulfing


def _initial_state(p: IndicatorParams) -> np.ndarray:
    state = np.zeros(_WINDOWS + 2 * p.rsi_period + p.cci_period)
    rsi_alpha = pandas_alpha(alpha=1.0 / p.rsi_period)
    state[_RSI_PERIOD] = p.rsi_period
    state[_RSI_SMA] = p.rsi_method == "sma"
    state[_RSI_ALPHA] = rsi_alpha
    state[_RSI_FACTOR] = 1.0 - rsi_alpha
    state[_FAST_ALPHA] = pandas_alpha(span=p.macd_fast)
    state[_SLOW_ALPHA] = pandas_alpha(span=p.macd_slow)
    state[_SIGNAL_ALPHA] = pandas_alpha(span=p.macd_signal)
    state[_ADJUST] = p.macd_adjust
    state[_FAST_MIN] = p.ema_min_periods(p.macd_fast)
    state[_SLOW_MIN] = p.ema_min_periods(p.macd_slow)
    state[_SIGNAL_MIN] = p.ema_min_periods(p.macd_signal)
    state[_CCI_PERIOD] = p.cci_period
    state[_CCI_CONSTANT] = p.cci_constant
    state[_PREV_OPEN] = state[_PREV_CLOSE] = _NAN
    state[_FAST] = state[_SLOW] = state[_SIGNAL] = _NAN
    state[_FAST_WT] = state[_SLOW_WT] = state[_SIGNAL_WT] = 1.0
    return state


def _prices(candle: Mapping[str, Any]) -> tuple[float, float, float, float]:
    try:
        return float(candle["open"]), float(candle["high"]), float(candle["low"]), float(candle["close"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"a candle needs numeric open, high, low and close; got {candle!r}") from exc


def _nan_prices(candle: object) -> DataError:
    return DataError(f"a candle with NaN prices cannot update indicators: {candle!r}")


class StreamingIndicators:
    """Indicators of one symbol, updated one closed candle at a time.

    Work and memory per update are bounded by the indicators' windows, not by the length of history:
    EMAs (Wilder RSI, MACD, both pandas ``adjust`` modes) are recurrences; the rolling windows (CCI, the
    SMA RSI) keep only their last ``period`` values. Values equal :func:`cryptoflow.indicators.compute`'s
    on the same candles.

    ``update(candle)`` feeds a closed candle and returns the indicators as of that candle; ``peek(candle)``
    returns what they would be if ``candle`` (the still-open one) closed now, leaving the state untouched,
    so it can be called on every intrabar tick.

    >>> stream = StreamingIndicators("ta")
    >>> for candle in closed_candles:  # doctest: +SKIP
    ...     values = stream.update(candle)
    >>> stream.peek({"open": 1.0, "high": 1.2, "low": 0.9, "close": 1.1})["rsi"]  # doctest: +SKIP
    """

    __slots__ = ("params", "_state", "_gains", "_losses", "_typical")

    def __init__(self, preset: str | IndicatorParams = "ta", **params: Any) -> None:
        """Start with no history; ``preset`` and ``params`` as for :func:`~cryptoflow.indicators.compute`."""
        p = resolve_params(preset, **params)
        self.params: IndicatorParams = p
        self._state = _initial_state(p)
        # Views of the windows inside the state (ring buffers), for inspection.
        self._gains = self._state[_WINDOWS : _WINDOWS + p.rsi_period]
        self._losses = self._state[_WINDOWS + p.rsi_period : _WINDOWS + 2 * p.rsi_period]
        self._typical = self._state[_WINDOWS + 2 * p.rsi_period :]

    @property
    def count(self) -> int:
        """Closed candles fed so far."""
        return int(self._state[_COUNT])

    def update(self, candle: Candle | Mapping[str, Any]) -> dict[str, float | int]:
        """Feed one closed candle (a :class:`~cryptoflow.candles.Candle` or a mapping with
        open/high/low/close) and return the indicators as of it (NaN while warming up)."""
        if isinstance(candle, Candle):
            values = _step(self._state, candle.open, candle.high, candle.low, candle.close, True)
        else:
            values = _step(self._state, *_prices(candle), True)
        if values[5] < 0:
            raise _nan_prices(candle)
        return k.named(*values)

    def peek(self, candle: Candle | Mapping[str, Any]) -> dict[str, float | int]:
        """The indicators if ``candle`` closed now; the state is not changed."""
        if isinstance(candle, Candle):
            values = _step(self._state, candle.open, candle.high, candle.low, candle.close, False)
        else:
            values = _step(self._state, *_prices(candle), False)
        if values[5] < 0:
            raise _nan_prices(candle)
        return k.named(*values)
