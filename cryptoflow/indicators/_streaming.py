"""The streaming engine: one closed candle at a time, O(1) in the length of history."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from cryptoflow.candles import Candle
from cryptoflow.errors import DataError
from cryptoflow.indicators._params import IndicatorParams, pandas_alpha, resolve_params

_NAN = math.nan


class _Ema:
    """pandas ``ewm().mean()`` as a recurrence: state is the weighted value and pandas' ``old_wt``.

    With ``adjust=True`` pandas' weights ``sum((1-alpha)**i)`` are tracked incrementally in ``old_wt``
    (they converge to ``1/alpha``), so each update is O(1).
    """

    __slots__ = ("alpha", "factor", "new_wt", "adjust", "min_periods", "value", "old_wt")

    def __init__(self, span: int, adjust: bool, min_periods: int) -> None:
        self.alpha = pandas_alpha(span=span)
        self.factor = 1.0 - self.alpha
        self.new_wt = 1.0 if adjust else self.alpha
        self.adjust = adjust
        self.min_periods = min_periods
        self.value = _NAN
        self.old_wt = 1.0

    def next(self, x: float, first: bool) -> tuple[float, float]:
        """(value, old_wt) after ``x``, without storing them."""
        if first:
            return x, 1.0
        old_wt = self.old_wt * self.factor
        weighted = self.value
        if weighted != x:
            weighted = (old_wt * weighted + self.new_wt * x) / (old_wt + self.new_wt)
        return weighted, (old_wt + self.new_wt if self.adjust else 1.0)

    def report(self, value: float, count: int) -> float:
        return value if count >= self.min_periods else _NAN


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

    __slots__ = (
        "params",
        "_count",
        "_prev_open",
        "_prev_close",
        "_rsi_alpha",
        "_rsi_factor",
        "_rsi_up",
        "_rsi_down",
        "_gains",
        "_losses",
        "_fast",
        "_slow",
        "_signal",
        "_macd_count",
        "_typical",
    )

    def __init__(self, preset: str | IndicatorParams = "ta", **params: Any) -> None:
        """Start with no history; ``preset`` and ``params`` as for :func:`~cryptoflow.indicators.compute`."""
        p = resolve_params(preset, **params)
        self.params: IndicatorParams = p
        self._count = 0
        self._prev_open = _NAN
        self._prev_close = _NAN
        self._rsi_alpha = pandas_alpha(alpha=1.0 / p.rsi_period)
        self._rsi_factor = 1.0 - self._rsi_alpha
        self._rsi_up = 0.0
        self._rsi_down = 0.0
        self._gains: deque[float] = deque(maxlen=p.rsi_period)
        self._losses: deque[float] = deque(maxlen=p.rsi_period)
        self._fast = _Ema(p.macd_fast, p.macd_adjust, p.ema_min_periods(p.macd_fast))
        self._slow = _Ema(p.macd_slow, p.macd_adjust, p.ema_min_periods(p.macd_slow))
        self._signal = _Ema(p.macd_signal, p.macd_adjust, p.ema_min_periods(p.macd_signal))
        self._macd_count = 0
        self._typical: deque[float] = deque(maxlen=p.cci_period)

    @property
    def count(self) -> int:
        """Closed candles fed so far."""
        return self._count

    def update(self, candle: Candle | Mapping[str, Any]) -> dict[str, float | int]:
        """Feed one closed candle (a :class:`~cryptoflow.candles.Candle` or a mapping with
        open/high/low/close) and return the indicators as of it (NaN while warming up)."""
        return self._step(candle, True)

    def peek(self, candle: Candle | Mapping[str, Any]) -> dict[str, float | int]:
        """The indicators if ``candle`` closed now; the state is not changed."""
        return self._step(candle, False)

    def _step(self, candle: Candle | Mapping[str, Any], commit: bool) -> dict[str, float | int]:
        if isinstance(candle, Candle):
            o, h, low, c = candle.open, candle.high, candle.low, candle.close
        else:
            try:
                o, h, low, c = (
                    float(candle["open"]),
                    float(candle["high"]),
                    float(candle["low"]),
                    float(candle["close"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"a candle needs numeric open, high, low and close; got {candle!r}") from exc
        if o != o or h != h or low != low or c != c:
            raise DataError(f"a candle with NaN prices cannot update indicators: {candle!r}")
        p = self.params
        count = self._count + 1
        first = self._count == 0
        prev_close = self._prev_close
        prev_open = self._prev_open

        # RSI
        if first:
            gain = loss = 0.0
        else:
            delta = c - prev_close
            gain = delta if delta > 0 else 0.0
            loss = -delta if delta < 0 else 0.0
        up, down = self._rsi_up, self._rsi_down
        if p.rsi_method == "wilder":
            if not first:
                a, f = self._rsi_alpha, self._rsi_factor
                if up != gain:
                    up = (f * up + a * gain) / (f + a)
                if down != loss:
                    down = (f * down + a * loss) / (f + a)
            if count >= p.rsi_period:
                rsi = 100.0 if down == 0.0 else 100.0 - 100.0 / (1.0 + up / down)
            else:
                rsi = _NAN
        elif count > p.rsi_period:
            period = p.rsi_period
            gains = [*self._gains, gain][-period:]
            losses = [*self._losses, loss][-period:]
            mean_gain = sum(gains) / period
            mean_loss = sum(losses) / period
            if mean_loss == 0.0:
                rsi = _NAN if mean_gain == 0.0 else 100.0
            else:
                rsi = 100.0 - 100.0 / (1.0 + mean_gain / mean_loss)
        else:
            rsi = _NAN

        # MACD
        fast, fast_wt = self._fast.next(c, first)
        slow, slow_wt = self._slow.next(c, first)
        fast_out = self._fast.report(fast, count)
        slow_out = self._slow.report(slow, count)
        macd = fast_out - slow_out
        macd_count = self._macd_count
        signal_value, signal_wt = self._signal.value, self._signal.old_wt
        if macd == macd:
            signal_value, signal_wt = self._signal.next(macd, macd_count == 0)
            macd_count += 1
            signal = self._signal.report(signal_value, macd_count)
        else:
            signal = _NAN

        # CCI
        period = p.cci_period
        typical = (h + low + c) / 3.0
        if count >= period:
            window = [*self._typical, typical][-period:]
            mean = sum(window) / period
            mad = sum([abs(x - mean) for x in window]) / period
            cci = (typical - mean) / (p.cci_constant * mad) if mad != 0.0 else _NAN
        else:
            cci = _NAN

        # Candle patterns
        engulfing = 0
        if not first:
            if c > o and prev_close < prev_open and prev_close >= o and prev_open <= c:
                engulfing = 1
            elif c < o and prev_close > prev_open and prev_close <= o and prev_open >= c:
                engulfing = -1

        if commit:
            self._count = count
            self._prev_open = o
            self._prev_close = c
            self._rsi_up, self._rsi_down = up, down
            if p.rsi_method == "sma" and not first:
                self._gains.append(gain)
                self._losses.append(loss)
            self._fast.value, self._fast.old_wt = fast, fast_wt
            self._slow.value, self._slow.old_wt = slow, slow_wt
            self._signal.value, self._signal.old_wt = signal_value, signal_wt
            self._macd_count = macd_count
            self._typical.append(typical)
        return {
            "rsi": rsi,
            "macd": macd,
            "macd_signal": signal,
            "macd_hist": macd - signal,
            "cci": cci,
            "is_bull": 1 if c >= o else 0,
            "engulfing": engulfing,
        }
