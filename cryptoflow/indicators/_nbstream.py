"""The streaming engine's state stepped by numba: the fallback where the compiled module is not built.

``_cstream.c`` is built at install where a C compiler is found (``setup.py``; ``scripts/setup`` installs
gcc on Debian); where none is (e.g. an image without build tools), :class:`State` takes its place with the
same interface and the same values, bit for bit, at about 2.5 times the cost per candle: one numba call
instead of one C method call. The whole state is one float64 array that :func:`_step` reads and, for an
update, writes back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numba import njit

from cryptoflow.indicators import _kernels as k

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


_candle_type: type[Any] = object
_prices_of: Callable[[Mapping[str, Any]], tuple[float, float, float, float]]
_nan_error: Callable[[object], Exception]


def configure(
    candle_type: type,
    prices: Callable[[Mapping[str, Any]], tuple[float, float, float, float]],
    nan_error: Callable[[object], Exception],
) -> None:
    """As ``_cstream.configure`` (the result's keys come from :func:`_kernels.named` here): the class whose
    instances' prices are attributes, the reader of a mapping's prices, and the error of a NaN price."""
    global _candle_type, _prices_of, _nan_error
    _candle_type, _prices_of, _nan_error = candle_type, prices, nan_error


def _window(ring: np.ndarray, head: int, stored: int) -> list[float]:
    """A window's stored values, oldest first (at most its period)."""
    period = ring.shape[0]
    if stored < period:
        return ring[:stored].tolist()
    return np.roll(ring, -head).tolist()


class State:
    """One symbol's streaming state, a float64 array stepped by numba; ``_cstream.State`` (C) has the same
    interface, and :class:`~cryptoflow.indicators.StreamingIndicators` derives from one of the two."""

    __slots__ = ("_state",)

    def __init__(
        self,
        rsi_period: int,
        rsi_sma: bool,
        rsi_alpha: float,
        macd_alphas: tuple[float, ...],
        macd_adjust: bool,
        macd_min_periods: tuple[int, ...],
        cci_period: int,
        cci_constant: float,
    ) -> None:
        state = np.zeros(_WINDOWS + 2 * rsi_period + cci_period)
        state[_RSI_PERIOD] = rsi_period
        state[_RSI_SMA] = rsi_sma
        state[_RSI_ALPHA] = rsi_alpha
        state[_RSI_FACTOR] = 1.0 - rsi_alpha
        state[_FAST_ALPHA], state[_SLOW_ALPHA], state[_SIGNAL_ALPHA] = macd_alphas
        state[_ADJUST] = macd_adjust
        state[_FAST_MIN], state[_SLOW_MIN], state[_SIGNAL_MIN] = macd_min_periods
        state[_CCI_PERIOD] = cci_period
        state[_CCI_CONSTANT] = cci_constant
        state[_PREV_OPEN] = state[_PREV_CLOSE] = _NAN
        state[_FAST] = state[_SLOW] = state[_SIGNAL] = _NAN
        state[_FAST_WT] = state[_SLOW_WT] = state[_SIGNAL_WT] = 1.0
        self._state = state

    @property
    def count(self) -> int:
        """Closed candles fed so far."""
        return int(self._state[_COUNT])

    # update and peek are spelled out, not one helper with a flag: a Python call less per candle.
    def update(self, candle: Any) -> dict[str, float | int]:
        """Feed one closed candle and return the indicators as of it."""
        if isinstance(candle, _candle_type):
            values = _step(self._state, candle.open, candle.high, candle.low, candle.close, True)
        else:
            values = _step(self._state, *_prices_of(candle), True)
        if values[5] < 0:
            raise _nan_error(candle)
        return k.named(*values)

    def peek(self, candle: Any) -> dict[str, float | int]:
        """The indicators if ``candle`` closed now; the state is not changed."""
        if isinstance(candle, _candle_type):
            values = _step(self._state, candle.open, candle.high, candle.low, candle.close, False)
        else:
            values = _step(self._state, *_prices_of(candle), False)
        if values[5] < 0:
            raise _nan_error(candle)
        return k.named(*values)

    @property
    def _gains(self) -> list[float]:
        s = self._state
        rsi_period = int(s[_RSI_PERIOD])
        return _window(s[_WINDOWS : _WINDOWS + rsi_period], int(s[_RSI_HEAD]), max(self.count - 1, 0))

    @property
    def _losses(self) -> list[float]:
        s = self._state
        rsi_period = int(s[_RSI_PERIOD])
        ring = s[_WINDOWS + rsi_period : _WINDOWS + 2 * rsi_period]
        return _window(ring, int(s[_RSI_HEAD]), max(self.count - 1, 0))

    @property
    def _typical(self) -> list[float]:
        s = self._state
        start = _WINDOWS + 2 * int(s[_RSI_PERIOD])
        return _window(s[start:], int(s[_CCI_HEAD]), self.count)
