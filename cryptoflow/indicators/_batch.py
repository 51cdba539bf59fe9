"""The batch engine: every indicator over whole arrays at once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cryptoflow.errors import ConfigurationError, DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import _kernels as k
from cryptoflow.indicators._params import IndicatorParams, pandas_alpha, resolve_params


def _column(candles: pd.DataFrame, name: str) -> np.ndarray:
    if name not in candles.columns:
        raise DataError(
            f"indicators need a column {name!r}; the frame has {', '.join(map(str, candles.columns))} "
            "(load candles with cryptoflow.candles.load_candles)"
        )
    values = np.ascontiguousarray(candles[name].to_numpy(dtype="float64"))
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise DataError(
            f"indicators: {name} is NaN at row {row} ({candles.index[row]}); clean the candles first"
        )
    return values


def compute_arrays(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    params: IndicatorParams,
    names: Collection[str] | None = None,
) -> dict[str, np.ndarray]:
    """Indicators over float64 arrays (no NaN); keys are :data:`INDICATOR_NAMES`.

    The values are float64, except the flags ``is_bull`` and ``engulfing``: int8 (-1, 0, 1), 1 MB per
    million candles instead of 8 (:func:`compute`'s frame widens them to int64).

    ``names`` (default: all) limits the work to the indicators asked for; what is computed on the way
    comes back too (asking for ``macd_hist`` also gives ``macd`` and ``macd_signal``, ``engulfing`` also
    gives ``is_bull``). Unknown names raise :class:`~cryptoflow.errors.ConfigurationError`.
    """
    wanted = set(INDICATOR_NAMES if names is None else names)
    unknown = sorted(wanted - set(INDICATOR_NAMES))
    if unknown:
        raise ConfigurationError(
            f"unknown indicator(s) {', '.join(map(repr, unknown))}; known: {', '.join(INDICATOR_NAMES)}"
        )
    out: dict[str, np.ndarray] = {}
    if "rsi" in wanted:
        if params.rsi_method == "wilder":
            out["rsi"] = k.rsi_wilder(close, pandas_alpha(alpha=1.0 / params.rsi_period), params.rsi_period)
        else:
            out["rsi"] = k.rsi_sma(close, params.rsi_period)
    if wanted & {"macd", "macd_signal", "macd_hist"}:
        adjust = params.macd_adjust
        fast = k.ema(
            close, pandas_alpha(span=params.macd_fast), adjust, params.ema_min_periods(params.macd_fast)
        )
        slow = k.ema(
            close, pandas_alpha(span=params.macd_slow), adjust, params.ema_min_periods(params.macd_slow)
        )
        macd = fast - slow
        signal = k.ema(
            macd, pandas_alpha(span=params.macd_signal), adjust, params.ema_min_periods(params.macd_signal)
        )
        out.update(macd=macd, macd_signal=signal, macd_hist=macd - signal)
    if "cci" in wanted:
        out["cci"] = k.cci(high, low, close, params.cci_period, params.cci_constant)
    if wanted & {"is_bull", "engulfing"}:
        out["is_bull"], out["engulfing"] = k.candle_patterns(open_, close)
    return {name: out[name] for name in INDICATOR_NAMES if name in out}


FLAG_NAMES = ("is_bull", "engulfing")
"""The indicators that are flags: int8 from :func:`compute_arrays`, int64 in :func:`compute`'s frame."""


def indicator_frame(
    arrays: Mapping[str, np.ndarray], candles: pd.DataFrame, params: IndicatorParams
) -> pd.DataFrame:
    """:func:`compute_arrays`' output (every indicator) as :func:`compute` returns it: a frame on the
    candles' index, columns in :data:`INDICATOR_NAMES` order with the flags widened to int64, the
    candles' ``attrs`` plus ``indicator_preset``."""
    columns = {
        name: arrays[name].astype(np.int64) if name in FLAG_NAMES else arrays[name]
        for name in INDICATOR_NAMES
    }
    frame = pd.DataFrame(columns, index=candles.index)
    frame.attrs.update(candles.attrs)
    frame.attrs["indicator_preset"] = params.preset
    return frame


def compute(candles: pd.DataFrame, preset: str | IndicatorParams = "ta", **params: Any) -> pd.DataFrame:
    """Every indicator over a candle frame, vectorised.

    Parameters:
        candles: columns ``open, high, low, close`` (``volume`` is not needed), one row per candle in time
            order, e.g. from :func:`cryptoflow.candles.load_candles`.
        preset: ``"ta"`` (default; the ``ta`` library's conventions) or ``"seed"`` (the 2023 scripts').
        **params: overrides such as ``rsi_period=14, rsi_method="wilder"|"sma", macd_fast=12,
            macd_slow=26, macd_signal=9, macd_adjust=False, cci_period=20, cci_constant=0.015``; unknown
            names raise :class:`~cryptoflow.errors.ConfigurationError`.

    Returns:
        A frame on ``candles.index`` with float columns ``rsi, macd, macd_signal, macd_hist, cci`` (NaN
        while warming up) and int64 columns ``is_bull`` (1 when close >= open) and ``engulfing`` (1 bullish,
        -1 bearish, 0 none).

    >>> from cryptoflow.indicators import compute
    >>> values = compute(candles, preset="seed", rsi_period=21)  # doctest: +SKIP
    """
    resolved = resolve_params(preset, **params)
    arrays = compute_arrays(
        _column(candles, "open"),
        _column(candles, "high"),
        _column(candles, "low"),
        _column(candles, "close"),
        resolved,
    )
    return indicator_frame(arrays, candles, resolved)
