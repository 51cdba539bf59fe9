"""The indicator catalogue a strategy declares from, and :class:`Indicator`, the base of your own.

Every built-in is a small frozen object (its parameters) whose two engines run one formula, the step in
``_steps.py``: the batch engine loops it over arrays, the streaming engine calls it once per candle. Where
the ``ta`` library has the indicator the conventions are its own (tested against it).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

import numpy as np

from cryptoflow.errors import ConfigurationError
from cryptoflow.indicators import _steps
from cryptoflow.indicators._params import pandas_alpha

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "INPUTS",
    "MFI",
    "OBV",
    "SMA",
    "VWAP",
    "WMA",
    "Bollinger",
    "Donchian",
    "Ichimoku",
    "Indicator",
    "IndicatorStream",
    "Returns",
    "StochRSI",
    "Stochastic",
    "Volatility",
    "outputs_of",
]

INPUTS = ("open", "high", "low", "close", "volume", "open_time")
"""What an indicator can read of a candle: prices, volume, and the open time (UTC epoch milliseconds)."""

_NAN = math.nan


class IndicatorStream(Protocol):
    """One indicator's streaming engine: ``update`` feeds a closed candle's inputs (in the indicator's
    ``inputs`` order) and returns its outputs; ``peek`` returns them as if that candle closed now and
    changes nothing."""

    def update(self, *values: float) -> tuple[float, ...]: ...

    def peek(self, *values: float) -> tuple[float, ...]: ...


def outputs_of(indicator: Indicator, result: Any, length: int | None = None) -> tuple[Any, ...]:
    """``result`` of ``indicator.batch`` (an array or a tuple of arrays) or of a streaming step (a number
    or a tuple of numbers) as a tuple with one item per output; a wrong count is a ConfigurationError."""
    values = tuple(result) if isinstance(result, tuple | list) else (result,)
    if isinstance(result, np.ndarray) and result.ndim == 2:
        values = tuple(result)
    if len(values) != len(indicator.outputs):
        raise ConfigurationError(
            f"{indicator!r} returned {len(values)} value(s) for its {len(indicator.outputs)} output(s) "
            f"{', '.join(indicator.outputs)}"
        )
    if length is not None:
        arrays = tuple(np.asarray(v, dtype=np.float64) for v in values)
        for name, array in zip(indicator.outputs, arrays, strict=True):
            if array.shape != (length,):
                raise ConfigurationError(
                    f"{indicator!r}: batch output {name!r} has shape {array.shape}, expected ({length},)"
                )
        return arrays
    return values


class Indicator:
    """Base of every indicator a strategy declares, the built-ins and your own.

    An indicator says what it reads of each candle (:attr:`inputs`, names from :data:`INPUTS`), what it
    gives (:attr:`outputs`) and from which candle its values appear (:attr:`warmup`), and has two engines:

    - :meth:`batch` over whole arrays (backtests), returning one float array per output (a single array
      for one output), NaN where there is no value yet;
    - a streaming engine for live trading, one closed candle at a time. Either set :attr:`window` (the
      last ``window`` candles are kept and :meth:`batch` recomputed over them: simple, O(window) per
      candle), or implement :meth:`initial_state` and :meth:`step` (a pure update: O(1)).

    Both engines must agree: :func:`cryptoflow.indicators.assert_engines_agree` checks it in your tests.
    ::

        class Range(Indicator):
            '''Highest high minus lowest low over ``period`` candles.'''
            inputs = ("high", "low")

            def __init__(self, period: int = 10):
                self.period = self.window = period

            @property
            def warmup(self) -> int:
                return self.period - 1

            def batch(self, high, low):
                highs = pd.Series(high).rolling(self.period).max()
                return (highs - pd.Series(low).rolling(self.period).min()).to_numpy()

    A strategy declares it like a built-in: ``indicators = {"range": Range(20)}``.
    """

    inputs: ClassVar[tuple[str, ...]] = ("close",)
    """The candle fields :meth:`batch` and :meth:`step` take, in that order."""
    outputs: ClassVar[tuple[str, ...]] = ("value",)
    """Output names. With one output the column is the declared name (``ind["ema_fast"]``); with
    several, the declared name, ``_`` and the output (``ind["bb_upper"]``)."""
    window: int | None = None
    """With no :meth:`step`: how many candles the streaming engine recomputes :meth:`batch` over."""

    @property
    def warmup(self) -> int:
        """Candles before the first value (the first ``warmup`` rows are NaN); default ``window - 1``."""
        return 0 if self.window is None else self.window - 1

    def batch(self, *columns: np.ndarray) -> Any:
        """Every output over whole float64 arrays (one per input, in :attr:`inputs` order)."""
        raise NotImplementedError(f"{type(self).__name__} needs a batch() method")

    def initial_state(self) -> Any:
        """The streaming state before any candle (for :meth:`step`)."""
        raise NotImplementedError

    def step(self, state: Any, *values: float) -> tuple[Any, Any]:
        """One closed candle: ``(new_state, output(s))``. Return a new state and leave ``state`` as it was:
        a ``peek`` calls this and throws the new state away."""
        raise NotImplementedError

    def stream(self) -> IndicatorStream:
        """A fresh streaming engine (no history)."""
        if type(self).step is not Indicator.step:
            return _StepStream(self)
        if self.window is not None:
            return _WindowStream(self, self.window)
        raise ConfigurationError(
            f"{type(self).__name__} has no streaming engine: set window = N (recompute batch() over the last "
            "N candles) or implement initial_state() and step()"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class _StepStream:
    """The streaming engine of an indicator with :meth:`Indicator.step`."""

    __slots__ = ("_indicator", "_state")

    def __init__(self, indicator: Indicator) -> None:
        self._indicator = indicator
        self._state = indicator.initial_state()

    def update(self, *values: float) -> tuple[float, ...]:
        self._state, out = self._indicator.step(self._state, *values)
        return outputs_of(self._indicator, out)

    def peek(self, *values: float) -> tuple[float, ...]:
        return outputs_of(self._indicator, self._indicator.step(self._state, *values)[1])


class _WindowStream:
    """The streaming engine of an indicator with a :attr:`Indicator.window`: batch over the last candles."""

    __slots__ = ("_indicator", "_rows")

    def __init__(self, indicator: Indicator, window: int) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigurationError(f"{indicator!r}: window must be an integer >= 1; got {window!r}")
        self._indicator = indicator
        self._rows: deque[tuple[float, ...]] = deque(maxlen=window)

    def _last(self, rows: Sequence[tuple[float, ...]]) -> tuple[float, ...]:
        columns = np.array(rows, dtype=np.float64).T
        outputs = outputs_of(self._indicator, self._indicator.batch(*columns), len(rows))
        return tuple(float(output[-1]) for output in outputs)

    def update(self, *values: float) -> tuple[float, ...]:
        self._rows.append(values)
        return self._last(self._rows)

    def peek(self, *values: float) -> tuple[float, ...]:
        rows = list(self._rows)[1:] if len(self._rows) == self._rows.maxlen else list(self._rows)
        return self._last([*rows, values])


class _SteppedStream:
    """A built-in's streaming engine: its compiled step over its state array."""

    __slots__ = ("_single", "_state", "_step")

    def __init__(self, step: Any, state: np.ndarray, single: bool) -> None:
        self._step, self._state, self._single = step, state, single

    def update(self, *values: float) -> tuple[float, ...]:
        out = self._step(self._state, *values, True)
        return (out,) if self._single else out

    def peek(self, *values: float) -> tuple[float, ...]:
        out = self._step(self._state, *values, False)
        return (out,) if self._single else out


def _rings(*values: float, nan: int = 0) -> np.ndarray:
    """A state array: ``values``, then ``nan`` ring slots filled with NaN (empty windows)."""
    return np.array([*values, *([_NAN] * nan)], dtype=np.float64)


class _Builtin(Indicator):
    """A catalogue indicator: a frozen dataclass of its parameters (every ``int`` one a count of candles,
    at least :attr:`_minimum`), its state array, and the compiled step and batch loop of ``_steps.py``."""

    _step: ClassVar[Any]
    _batch: ClassVar[Any]
    _minimum: ClassVar[int] = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        for field in fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if field.type == "int" and (
                isinstance(value, bool) or not isinstance(value, int) or value < self._minimum
            ):
                raise ConfigurationError(
                    f"{name}: {field.name} must be an integer >= {self._minimum}; got {value!r}"
                )
            if field.type == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ConfigurationError(
                    f"{type(self).__name__}: {field.name} must be a number; got {value!r}"
                )

    def _state(self) -> np.ndarray:
        raise NotImplementedError

    def batch(self, *columns: np.ndarray) -> Any:
        out = type(self)._batch(self._state(), *(np.ascontiguousarray(c, dtype=np.float64) for c in columns))
        return tuple(out) if out.ndim == 2 else out

    def stream(self) -> IndicatorStream:
        return _SteppedStream(type(self)._step, self._state(), len(self.outputs) == 1)

    def __repr__(self) -> str:  # the dataclass's, not Indicator's
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))  # type: ignore[arg-type]
        return f"{type(self).__name__}({values})"


@dataclass(frozen=True, repr=False)
class _Window(_Builtin):
    """A built-in over the last ``period`` candles: its first value is on candle ``period``."""

    period: int = 14

    @property
    def warmup(self) -> int:
        return self.period - 1


@dataclass(frozen=True, repr=False)
class EMA(_Window):
    """Exponential moving average of the close over ``period`` candles (``ta``: pandas
    ``ewm(span=period, adjust=False)``), from candle ``period``."""

    _step = _steps.ema_step
    _batch = _steps.ema_batch

    def _state(self) -> np.ndarray:
        return _rings(pandas_alpha(span=self.period), self.period, 0.0, _NAN, 1.0)


@dataclass(frozen=True, repr=False)
class SMA(_Window):
    """Simple moving average of the close over ``period`` candles."""

    _step = _steps.sma_step
    _batch = _steps.sma_batch

    def _state(self) -> np.ndarray:
        return _rings(self.period, 0, nan=self.period)


@dataclass(frozen=True, repr=False)
class WMA(SMA):
    """Linearly weighted moving average of the close over ``period`` candles (the newest weighs most)."""

    period: int = 9
    _step = _steps.wma_step
    _batch = _steps.wma_batch


@dataclass(frozen=True, repr=False)
class Bollinger(_Window):
    """Bollinger bands: ``mid`` (SMA of the close), ``upper``/``lower`` at ``multiplier`` population
    standard deviations, ``width`` ((upper - lower) / mid, in %) and ``pct_b`` (%B: where the close stands,
    0 at the lower band, 1 at the upper; NaN when the bands meet)."""

    period: int = 20
    multiplier: float = 2.0
    outputs: ClassVar[tuple[str, ...]] = ("mid", "upper", "lower", "width", "pct_b")
    _step = _steps.bollinger_step
    _batch = _steps.bollinger_batch

    def _state(self) -> np.ndarray:
        return _rings(self.period, float(self.multiplier), 0, nan=self.period)


@dataclass(frozen=True, repr=False)
class ATR(_Window):
    """Average true range over ``period`` candles (``ta``'s: Wilder's smoothing after a plain mean)."""

    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close")
    _step = _steps.atr_step
    _batch = _steps.atr_batch

    def _state(self) -> np.ndarray:
        return _rings(self.period, 0, _NAN, 0.0, 0.0)


@dataclass(frozen=True, repr=False)
class ADX(_Window):
    """Average directional index and the directional indicators: ``adx`` (from candle ``2 * period``),
    ``plus_di`` and ``minus_di`` (+DI/-DI, from candle ``period + 1``), all 0 to 100."""

    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close")
    outputs: ClassVar[tuple[str, ...]] = ("adx", "plus_di", "minus_di")
    _step = _steps.adx_step
    _batch = _steps.adx_batch

    @property
    def warmup(self) -> int:
        return 2 * self.period - 1

    def _state(self) -> np.ndarray:
        return _rings(self.period, 0, _NAN, _NAN, _NAN, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, repr=False)
class Stochastic(_Window):
    """Stochastic oscillator: ``k`` = 100 * (close - lowest low) / (highest high - lowest low) over
    ``period`` candles (NaN when the range is 0) and ``d``, its mean over ``smooth`` candles."""

    smooth: int = 3
    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close")
    outputs: ClassVar[tuple[str, ...]] = ("k", "d")
    _step = _steps.stochastic_step
    _batch = _steps.stochastic_batch

    @property
    def warmup(self) -> int:
        return self.period + self.smooth - 2

    def _state(self) -> np.ndarray:
        return _rings(self.period, self.smooth, 0, 0, nan=2 * self.period + self.smooth)


@dataclass(frozen=True, repr=False)
class StochRSI(_Window):
    """Stochastic RSI: ``stoch_rsi``, where the RSI (Wilder's, over ``period``) stands in its range over
    ``period`` candles (0 to 1, NaN when the range is 0), ``k``, its mean over ``smooth1`` candles, and
    ``d``, that one's mean over ``smooth2``."""

    smooth1: int = 3
    smooth2: int = 3
    outputs: ClassVar[tuple[str, ...]] = ("stoch_rsi", "k", "d")
    _step = _steps.stoch_rsi_step
    _batch = _steps.stoch_rsi_batch

    @property
    def warmup(self) -> int:
        return 2 * self.period + self.smooth1 + self.smooth2 - 4

    def _state(self) -> np.ndarray:
        alpha = pandas_alpha(alpha=1.0 / self.period)
        head = (self.period, self.smooth1, self.smooth2, alpha, 0, _NAN, 0.0, 0.0, 0, 0, 0)
        return _rings(*head, nan=self.period + self.smooth1 + self.smooth2)


@dataclass(frozen=True, repr=False)
class OBV(_Builtin):
    """On-balance volume (``ta``'s): the running sum of the volume, subtracted on a candle whose close fell
    (a flat close adds it)."""

    inputs: ClassVar[tuple[str, ...]] = ("close", "volume")
    _step = _steps.obv_step
    _batch = _steps.obv_batch

    def _state(self) -> np.ndarray:
        return _rings(0, _NAN, 0.0)


@dataclass(frozen=True, repr=False)
class VWAP(_Builtin):
    """Session VWAP: the volume-weighted typical price ((high + low + close) / 3) since the start of the
    candle's UTC day; it restarts with the first candle of each day (NaN while the day's volume is 0)."""

    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close", "volume", "open_time")
    _step = _steps.vwap_step
    _batch = _steps.vwap_batch

    def _state(self) -> np.ndarray:
        return _rings(_NAN, 0.0, 0.0)


@dataclass(frozen=True, repr=False)
class MFI(_Window):
    """Money flow index over ``period`` candles (0 to 100; ``ta``'s)."""

    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close", "volume")
    _step = _steps.mfi_step
    _batch = _steps.mfi_batch

    def _state(self) -> np.ndarray:
        return _rings(self.period, 0, _NAN, 0, nan=self.period)


@dataclass(frozen=True, repr=False)
class Donchian(_Window):
    """Donchian channel over ``period`` candles: ``upper`` (highest high), ``lower`` (lowest low), ``mid``
    and ``pct_b`` (where the close stands between them, 0 to 1)."""

    period: int = 20
    inputs: ClassVar[tuple[str, ...]] = ("high", "low", "close")
    outputs: ClassVar[tuple[str, ...]] = ("upper", "lower", "mid", "pct_b")
    _step = _steps.donchian_step
    _batch = _steps.donchian_batch

    def _state(self) -> np.ndarray:
        return _rings(self.period, 0, nan=2 * self.period)


@dataclass(frozen=True, repr=False)
class Ichimoku(_Builtin):
    """Ichimoku lines: ``conversion`` (tenkan-sen), ``base`` (kijun-sen), ``span_a`` and ``span_b`` (the
    cloud's edges), each a midpoint of the high-low range. They are not displaced forward: the value on a
    candle uses candles up to it only (shift by ``base_period`` yourself to draw the cloud)."""

    conversion_period: int = 9
    base_period: int = 26
    span_b_period: int = 52
    inputs: ClassVar[tuple[str, ...]] = ("high", "low")
    outputs: ClassVar[tuple[str, ...]] = ("conversion", "base", "span_a", "span_b")
    _step = _steps.ichimoku_step
    _batch = _steps.ichimoku_batch

    @property
    def warmup(self) -> int:
        return max(self.conversion_period, self.base_period, self.span_b_period) - 1

    def _state(self) -> np.ndarray:
        periods = (self.conversion_period, self.base_period, self.span_b_period)
        return _rings(*periods, 0, nan=2 * max(periods))


@dataclass(frozen=True, repr=False)
class Returns(_Window):
    """Return over ``period`` candles, as a fraction: ``close / close[period ago] - 1``."""

    period: int = 1
    _step = _steps.returns_step
    _batch = _steps.returns_batch

    @property
    def warmup(self) -> int:
        return self.period

    def _state(self) -> np.ndarray:
        return _rings(self.period, 0, nan=self.period)


@dataclass(frozen=True, repr=False)
class Volatility(Returns):
    """Sample standard deviation of the one-candle log returns over ``period`` candles (per candle, not
    annualised: multiply by the square root of the candles in a year for that); ``period`` >= 2."""

    period: int = 20
    _minimum = 2
    _step = _steps.volatility_step
    _batch = _steps.volatility_batch

    def _state(self) -> np.ndarray:
        return _rings(self.period, _NAN, 0, nan=self.period)
