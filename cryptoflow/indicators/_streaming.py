"""The streaming engine: one closed candle at a time, O(1) in the length of history.

A symbol's state (parameters, recurrences, the rolling windows as ring buffers) lives in a compiled base
type (``_cstream.c``) whose ``update`` and ``peek`` read the candle, compute every indicator and build the
result dict in one C call: no Python frame runs per candle. Its formulas mirror the batch kernels
(``_kernels.py``) operation for operation, so both engines agree to the last bit. Where the C module was
not built (no compiler at install), the numba-stepped state of ``_nbstream.py`` is the base instead: the
same interface and values, at about 2.5 times the cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptoflow.candles import Candle
from cryptoflow.errors import DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import _nbstream
from cryptoflow.indicators._params import IndicatorParams, pandas_alpha, resolve_params


def _prices(candle: Mapping[str, Any]) -> tuple[float, float, float, float]:
    try:
        return float(candle["open"]), float(candle["high"]), float(candle["low"]), float(candle["close"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"a candle needs numeric open, high, low and close; got {candle!r}") from exc


def state_arguments(p: IndicatorParams) -> dict[str, Any]:
    """The compiled (or numba) state's constructor arguments for ``p``."""
    spans = (p.macd_fast, p.macd_slow, p.macd_signal)
    return {
        "rsi_period": p.rsi_period,
        "rsi_sma": p.rsi_method == "sma",
        "rsi_alpha": pandas_alpha(alpha=1.0 / p.rsi_period),
        "macd_alphas": tuple(pandas_alpha(span=span) for span in spans),
        "macd_adjust": p.macd_adjust,
        "macd_min_periods": tuple(p.ema_min_periods(span) for span in spans),
        "cci_period": p.cci_period,
        "cci_constant": p.cci_constant,
    }


def _nan_prices(candle: object) -> DataError:
    return DataError(f"a candle with NaN prices cannot update indicators: {candle!r}")


_nbstream.configure(Candle, _prices, _nan_prices)
if TYPE_CHECKING:  # the compiled State has the numba one's interface
    from cryptoflow.indicators._nbstream import State as _State
else:
    try:
        from cryptoflow.indicators import _cstream
    except ImportError:  # built at install where a C compiler is found (setup.py)
        _State = _nbstream.State
    else:
        _cstream.configure(INDICATOR_NAMES, Candle, _prices, _nan_prices)
        _State = _cstream.State


class StreamingIndicators(_State):
    """Indicators of one symbol, updated one closed candle at a time.

    Work and memory per update are bounded by the indicators' windows, not by the length of history:
    EMAs (Wilder RSI, MACD, both pandas ``adjust`` modes) are recurrences; the rolling windows (CCI, the
    SMA RSI) keep only their last ``period`` values. Values equal :func:`cryptoflow.indicators.compute`'s
    on the same candles.

    ``update(candle)`` feeds a closed candle and returns the indicators as of that candle; ``peek(candle)``
    returns what they would be if ``candle`` (the still-open one) closed now, leaving the state untouched,
    so it can be called on every intrabar tick. A candle is a :class:`~cryptoflow.candles.Candle` or a
    mapping with ``open, high, low, close``; a missing, non-numeric or NaN price raises
    :class:`~cryptoflow.errors.DataError` and changes nothing. Both return a new dict keyed by
    :data:`cryptoflow.events.INDICATOR_NAMES`: floats ``rsi, macd, macd_signal, macd_hist, cci`` (NaN while
    warming up), ints ``is_bull`` and ``engulfing``. ``count`` is the number of closed candles fed.

    >>> stream = StreamingIndicators("ta")
    >>> for candle in closed_candles:  # doctest: +SKIP
    ...     values = stream.update(candle)
    >>> stream.peek({"open": 1.0, "high": 1.2, "low": 0.9, "close": 1.1})["rsi"]  # doctest: +SKIP
    """

    __slots__ = ("params",)

    def __init__(self, preset: str | IndicatorParams = "ta", **params: Any) -> None:
        """Start with no history; ``preset`` and ``params`` as for :func:`~cryptoflow.indicators.compute`."""
        p = resolve_params(preset, **params)
        self.params: IndicatorParams = p
        super().__init__(**state_arguments(p))

    # update(candle), peek(candle) and count are the base's (both bases: _nbstream.State's interface); the
    # class docstring is their manual.
