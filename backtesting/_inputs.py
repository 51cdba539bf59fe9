"""What a strategy's rules read in a backtest: prices, and indicators computed when first read.

A strategy's rules are plain expressions over ``ind[...]``; the backtest hands them an
:class:`IndicatorInputs` instead of a full indicator frame, so only the indicators a rule reads are
computed (the ``custom`` strategy reads RSI and engulfing: MACD and CCI are never computed). The rest
is computed only if someone asks for the whole frame (the HTML report, a replay). A strategy's declared
indicators (:class:`~cryptoflow.indicators.DeclaredIndicators`) are read the same way: an indicator is
computed when one of its columns is first read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from cryptoflow.errors import DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators import (
    DeclaredIndicators,
    IndicatorParams,
    candle_inputs,
    compute_arrays,
    indicator_frame,
)
from cryptoflow.strategies import check_lookback

__all__ = ["PRICE_COLUMNS", "IndicatorInputs", "price_arrays"]

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
_OHLC = PRICE_COLUMNS[:4]


def price_arrays(candles: pd.DataFrame, symbol: str) -> dict[str, np.ndarray]:
    """The candles' price columns as contiguous float64 arrays (views when they already are).

    Raises :class:`~cryptoflow.errors.DataError` for a missing open/high/low/close column or a NaN price.
    """
    missing = [c for c in _OHLC if c not in candles]
    if missing:
        raise DataError(f"{symbol}: candles lack column(s) {', '.join(missing)}")
    prices = {
        name: np.ascontiguousarray(candles[name].to_numpy(dtype=np.float64))
        for name in PRICE_COLUMNS
        if name in candles
    }
    for name in _OHLC:
        if np.isnan(prices[name].min()):  # min propagates NaN: one pass, no temporary
            row = int(np.flatnonzero(np.isnan(prices[name]))[0])
            raise DataError(
                f"{symbol}: {name} is NaN at row {row} ({candles.index[row]}); clean the candles first"
            )
    return prices


class IndicatorInputs(Mapping[str, np.ndarray]):
    """``ind`` for a backtest's rules: price columns, then indicators, as float64 arrays.

    With ``given`` (a frame aligned with the candles, or a mapping of aligned arrays read when a rule reads
    them: the optimiser's windows of indicators computed once) its columns are read as they are; otherwise an
    indicator is computed by :func:`cryptoflow.indicators.compute_arrays` with ``params`` the first time
    it is read, and :attr:`computed` says which ones were. The ``declared`` indicators' columns (those
    ``given`` lacks) are computed by their batch engine when first read.
    """

    def __init__(
        self,
        candles: pd.DataFrame,
        prices: dict[str, np.ndarray],
        params: IndicatorParams,
        given: pd.DataFrame | Mapping[str, np.ndarray] | None = None,
        declared: DeclaredIndicators | None = None,
        lookback: int = 1,
    ) -> None:
        self._candles = candles
        self._prices = prices
        self._params = params
        self._given = given
        self._declared = declared if declared is not None else DeclaredIndicators()
        self._lookback = lookback
        self._computed: dict[str, np.ndarray] = {}  # as the kernels return them (flags are int8)
        self._read: dict[str, np.ndarray] = dict(prices)  # float64, as rules see them
        self._frame: pd.DataFrame | None = None

    @property
    def computed(self) -> tuple[str, ...]:
        """The indicators computed so far, in :data:`~cryptoflow.events.INDICATOR_NAMES` order, then the
        declared columns in declaration order."""
        return tuple(name for name in (*INDICATOR_NAMES, *self._declared.columns) if name in self._computed)

    def _names(self) -> tuple[str, ...]:
        # iterating a frame gives its columns, as a mapping of arrays (the optimiser's windows) its keys
        columns = INDICATOR_NAMES if self._given is None else tuple(map(str, self._given))
        columns += tuple(c for c in self._declared.columns if c not in columns)
        return tuple(self._prices) + tuple(c for c in columns if c not in self._prices)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __getitem__(self, name: str) -> np.ndarray:
        value = self._read.get(name)
        if value is not None:
            return value
        if self._given is not None and name in self._given:
            value = np.asarray(self._given[name], dtype=np.float64)
        elif name in self._declared.columns:
            if name not in self._computed:  # bb_upper also brings bb_mid, bb_lower, ...
                self._compute_declared(name)
            value = self._computed[name]
        elif self._given is None and name in INDICATOR_NAMES:
            if name not in self._computed:  # macd also brings macd_signal and macd_hist, and so on
                self._compute((name,))
            value = self._computed[name].astype(np.float64, copy=False)
        else:
            raise KeyError(name)
        self._read[name] = value
        return value

    def ago(self, name: str, candles: int = 1) -> np.ndarray:
        """``self[name]`` shifted ``candles`` later: each row holds the value ``candles`` rows before (NaN
        for the first ``candles`` rows), up to the strategy's ``lookback``."""
        candles = check_lookback(candles, self._lookback)
        values = self[name]
        if candles == 0:
            return values
        shifted = np.full(len(values), np.nan)
        shifted[candles:] = values[:-candles]
        return shifted

    def release_copies(self) -> None:
        """Forget what the rules read beyond the prices and the computed float64 indicators: the float64
        copies of the int8 flags and a given frame's columns. Once the rules ran they would only hold
        memory (8 MB per million candles each); read again, they are made again."""
        self._read = {
            name: value
            for name, value in self._read.items()
            if name in self._prices or value is self._computed.get(name)
        }

    def _compute(self, names: tuple[str, ...]) -> None:
        p = self._prices
        self._computed.update(compute_arrays(p["open"], p["high"], p["low"], p["close"], self._params, names))

    def _compute_declared(self, column: str) -> None:
        inputs: dict[str, np.ndarray] = dict(self._prices)
        if "open_time" in self._declared[self._declared.owner(column)].inputs:
            inputs.update(candle_inputs(self._candles, ("open_time",)))
        self._computed.update(self._declared.compute_arrays(inputs, (column,)))

    def frame(self) -> pd.DataFrame:
        """Every indicator on the candles' index, as :func:`cryptoflow.indicators.compute` returns them
        (or the given frame), then the declared columns; those not computed yet are computed now (once)."""
        if self._frame is None:
            frame = self._given
            if frame is not None and not isinstance(frame, pd.DataFrame):
                frame = pd.DataFrame({name: self[name] for name in frame}, index=self._candles.index)
            if frame is None:
                missing = tuple(name for name in INDICATOR_NAMES if name not in self._computed)
                if missing:
                    self._compute(missing)
                frame = indicator_frame(self._computed, self._candles, self._params)
            declared = [c for c in self._declared.columns if c not in frame.columns]
            if declared:
                frame = frame.assign(**{column: self[column] for column in declared})
            self._frame = frame
        return self._frame
