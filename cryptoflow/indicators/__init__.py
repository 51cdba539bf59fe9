"""Indicators: one definition, two engines.

- :func:`compute`: the batch engine, vectorised over a candle frame (history, backtests);
- :class:`StreamingIndicators`: the streaming engine, O(1) per closed candle with a side-effect-free
  :meth:`~StreamingIndicators.peek` for the still-open candle (live and intrabar streams).

Both give RSI, MACD line/signal/histogram, CCI, a bull/bear flag and bullish/bearish engulfing, and agree
with each other; their outputs are named :data:`cryptoflow.events.INDICATOR_NAMES`, the fields every
candle and indicator event carries. Presets: ``"ta"`` (default, the ``ta`` library's conventions) and
``"seed"`` (the original 2023 scripts: SMA RSI, MACD from pandas ``ewm(span, min_periods=span-1)`` with
adjust=True).

>>> from cryptoflow.indicators import compute, StreamingIndicators
>>> values = compute(candles, preset="ta")  # doctest: +SKIP

:func:`cci` is the CCI kernel alone, over numpy arrays (what the benchmarks time against TA-Lib's).

The catalogue a strategy declares from (``indicators = {"ema_fast": EMA(12), "bb": Bollinger(20, 2)}``):
:class:`EMA`, :class:`SMA`, :class:`WMA`, :class:`Bollinger` (bands, width, %B), :class:`ATR`,
:class:`ADX` (ADX, +DI, -DI), :class:`Stochastic`, :class:`StochRSI`, :class:`OBV`, :class:`VWAP` (per UTC
day), :class:`MFI`, :class:`Donchian`, :class:`Ichimoku`, :class:`Returns` and :class:`Volatility`. Each
runs one formula in both engines (``batch`` over arrays, ``stream()`` with ``update``/``peek``), equal to
the ``ta`` library where it has the indicator. :class:`DeclaredIndicators` names, computes and streams a
strategy's set; :class:`Indicator` is the base of your own, and :func:`assert_engines_agree` the test that
proves its two engines agree (the built-ins pass it too).
"""

from cryptoflow.indicators._agree import assert_engines_agree
from cryptoflow.indicators._batch import compute, compute_arrays, indicator_frame
from cryptoflow.indicators._catalog import (
    ADX,
    ATR,
    EMA,
    INPUTS,
    MFI,
    OBV,
    SMA,
    VWAP,
    WMA,
    Bollinger,
    Donchian,
    Ichimoku,
    Indicator,
    IndicatorStream,
    Returns,
    Stochastic,
    StochRSI,
    Volatility,
)
from cryptoflow.indicators._declared import DeclaredIndicators, DeclaredStream, candle_inputs
from cryptoflow.indicators._kernels import cci
from cryptoflow.indicators._params import PRESETS, IndicatorParams, resolve_params
from cryptoflow.indicators._streaming import StreamingIndicators

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "INPUTS",
    "MFI",
    "OBV",
    "PRESETS",
    "SMA",
    "VWAP",
    "WMA",
    "Bollinger",
    "DeclaredIndicators",
    "DeclaredStream",
    "Donchian",
    "Ichimoku",
    "Indicator",
    "IndicatorStream",
    "Returns",
    "StochRSI",
    "Stochastic",
    "Volatility",
    "assert_engines_agree",
    "candle_inputs",
    "IndicatorParams",
    "StreamingIndicators",
    "cci",
    "compute",
    "compute_arrays",
    "indicator_frame",
    "resolve_params",
]
