"""Rules that look back: ``ind.ago(name, n)``, the value ``n`` candles before, on arrays and live alike.

A backtest's ``ind`` answers with the column shifted by ``n`` (NaN for the first ``n`` candles); a live
``ind`` (:class:`LiveInputs`) with the value the rules saw ``n`` closed candles ago. A strategy says how far
its rules look back (``lookback``, default 1), so live trading keeps that many candles' values and no more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cryptoflow.errors import ConfigurationError

__all__ = ["LiveInputs", "check_lookback", "crossed_above", "crossed_below"]


def check_lookback(candles: object, lookback: int) -> int:
    """``candles`` as a valid look-back for a strategy that declared ``lookback``; else ConfigurationError."""
    if isinstance(candles, bool) or not isinstance(candles, int) or candles < 0:
        raise ConfigurationError(f"ind.ago(name, candles): candles must be an integer >= 0; got {candles!r}")
    if candles > lookback:
        raise ConfigurationError(
            f"a rule reads {candles} candle(s) back but the strategy declares lookback = {lookback}; "
            f"set lookback = {candles} on the strategy class"
        )
    return candles


class LiveInputs(dict[str, Any]):
    """``ind`` for live rules: the closed candle's prices and indicators as ``numpy.float64``, and
    :meth:`ago` for those of the candles before (``past``, oldest first, at most ``lookback`` kept)."""

    __slots__ = ("_lookback", "_past")

    def __init__(self, values: Mapping[str, Any], past: Sequence[Mapping[str, Any]], lookback: int) -> None:
        super().__init__(values)
        self._past = past
        self._lookback = lookback

    def ago(self, name: str, candles: int = 1) -> Any:
        """``ind[name]`` as it was ``candles`` closed candles ago (NaN before the first candle seen)."""
        candles = check_lookback(candles, self._lookback)
        if candles == 0:
            return self[name]
        if candles > len(self._past):
            if name not in self:
                raise KeyError(name)
            return np.float64(math.nan)
        return self._past[-candles][name]


def _levels(ind: Any, other: str | float) -> tuple[Any, Any]:
    if isinstance(other, str):
        return ind[other], ind.ago(other, 1)
    return other, other


def crossed_above(ind: Any, name: str, other: str | float) -> Any:
    """True on the candle where ``ind[name]`` rose above ``other`` (a number or another column): at or
    below it on the candle before, above it on this one. Arrays in a backtest, a ``numpy.bool_`` live.

    >>> crossed_above(ind, "rsi", 30)  # doctest: +SKIP
    >>> crossed_above(ind, "ema_fast", "ema_slow")  # doctest: +SKIP
    """
    now, before = _levels(ind, other)
    return (ind.ago(name, 1) <= before) & (ind[name] > now)


def crossed_below(ind: Any, name: str, other: str | float) -> Any:
    """True on the candle where ``ind[name]`` fell below ``other``: at or above it on the candle before,
    below it on this one."""
    now, before = _levels(ind, other)
    return (ind.ago(name, 1) >= before) & (ind[name] < now)
