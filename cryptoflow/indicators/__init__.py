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
"""

from cryptoflow.indicators._batch import compute, compute_arrays, indicator_frame
from cryptoflow.indicators._kernels import cci
from cryptoflow.indicators._params import PRESETS, IndicatorParams, resolve_params
from cryptoflow.indicators._streaming import StreamingIndicators

__all__ = [
    "PRESETS",
    "IndicatorParams",
    "StreamingIndicators",
    "cci",
    "compute",
    "compute_arrays",
    "indicator_frame",
    "resolve_params",
]
