"""The indicators a strategy declares, by name: validated once, computed by either engine.

``DeclaredIndicators({"ema_fast": EMA(12), "bb": Bollinger(20, 2)})`` names every output column
(``ema_fast``, ``bb_mid``, ``bb_upper``, ...), computes them over arrays or a candle frame (only those asked
for), streams them one candle at a time, and says how many candles they need first (:attr:`warmup`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cryptoflow.candles import Candle
from cryptoflow.errors import ConfigurationError, DataError
from cryptoflow.events import INDICATOR_NAMES
from cryptoflow.indicators._catalog import INPUTS, Indicator, IndicatorStream, outputs_of

__all__ = ["DeclaredIndicators", "DeclaredStream", "candle_inputs"]

_RESERVED = frozenset(INPUTS) | frozenset(INDICATOR_NAMES)


def candle_inputs(candles: pd.DataFrame, names: Collection[str] = INPUTS) -> dict[str, np.ndarray]:
    """The candle fields ``names`` of a frame as float64 arrays: price and volume columns, and
    ``open_time`` (epoch ms) from an ``open_time`` column or the frame's UTC datetime index.

    Raises :class:`~cryptoflow.errors.DataError` for a missing field or a NaN value.
    """
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        if name == "open_time" and name not in candles.columns:
            index = candles.index
            if not isinstance(index, pd.DatetimeIndex):
                raise DataError(
                    "indicators need the candles' open times: an open_time column or a datetime index"
                )
            index = index.tz_localize("UTC") if index.tz is None else index
            arrays[name] = index.as_unit("ms").asi8.astype(np.float64)
            continue
        if name not in candles.columns:
            raise DataError(
                f"indicators need a column {name!r}; the frame has {', '.join(map(str, candles.columns))}"
            )
        values = np.ascontiguousarray(candles[name].to_numpy(dtype=np.float64))
        if np.isnan(values.min(initial=0.0)):
            row = int(np.flatnonzero(np.isnan(values))[0])
            raise DataError(
                f"indicators: {name} is NaN at row {row} ({candles.index[row]}); clean the candles first"
            )
        arrays[name] = values
    return arrays


class DeclaredIndicators(Mapping[str, Indicator]):
    """A strategy's declared indicators: ``{name: indicator}``, validated.

    Names are Python identifiers that do not shadow a candle field (:data:`INPUTS`) or a built-in
    indicator (:data:`~cryptoflow.events.INDICATOR_NAMES`); the values are :class:`Indicator` instances.
    An indicator with one output gives the column ``name``; one with several, ``name_output`` for each
    (``bb_upper``). Two columns of the same name are refused. Bad declarations raise
    :class:`~cryptoflow.errors.ConfigurationError`.

    >>> declared = DeclaredIndicators({"ema_fast": EMA(12), "bb": Bollinger(20, 2)})  # doctest: +SKIP
    >>> declared.columns  # doctest: +SKIP
    ('ema_fast', 'bb_mid', 'bb_upper', 'bb_lower', 'bb_width', 'bb_pct_b')
    """

    def __init__(self, indicators: Mapping[str, Indicator] | None = None) -> None:
        if indicators is None:
            indicators = {}
        if not isinstance(indicators, Mapping):
            raise ConfigurationError(
                f"indicators must be a mapping of names to indicators, e.g. {{'ema_fast': EMA(12)}}; "
                f"got {type(indicators).__name__}"
            )
        self._indicators: dict[str, Indicator] = {}
        self._owner: dict[str, str] = {}  # column -> declared name
        for name, indicator in indicators.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigurationError(
                    f"indicator name {name!r} must be a Python identifier, e.g. 'ema_fast'"
                )
            if not isinstance(indicator, Indicator):
                raise ConfigurationError(
                    f"indicator {name!r} is {type(indicator).__name__} {indicator!r}, not an indicator: "
                    "declare an instance such as EMA(12), or of your own Indicator subclass"
                )
            unknown = [field for field in indicator.inputs if field not in INPUTS]
            if unknown:
                raise ConfigurationError(
                    f"indicator {name!r} reads {', '.join(map(repr, unknown))}; "
                    f"a candle has {', '.join(INPUTS)}"
                )
            self._indicators[name] = indicator
            for column in self.columns_of(name):
                if column in _RESERVED or column in self._owner:
                    taken = (
                        "a candle field or built-in indicator"
                        if column in _RESERVED
                        else repr(self._owner[column])
                    )
                    raise ConfigurationError(f"indicator {name!r}: its column {column!r} is already {taken}")
                self._owner[column] = name

    def __getitem__(self, name: str) -> Indicator:
        return self._indicators[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._indicators)

    def __len__(self) -> int:
        return len(self._indicators)

    def __repr__(self) -> str:
        return f"DeclaredIndicators({self._indicators!r})"

    def columns_of(self, name: str) -> tuple[str, ...]:
        """The columns of the indicator declared as ``name``."""
        outputs = self._indicators[name].outputs
        return (name,) if len(outputs) == 1 else tuple(f"{name}_{output}" for output in outputs)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every output column, in declaration order."""
        return tuple(self._owner)

    def owner(self, column: str) -> str:
        """The declared name whose indicator gives ``column`` (KeyError for an unknown column)."""
        return self._owner[column]

    @property
    def inputs(self) -> tuple[str, ...]:
        """The candle fields any of the indicators reads, in :data:`INPUTS` order."""
        read = {field for indicator in self._indicators.values() for field in indicator.inputs}
        return tuple(field for field in INPUTS if field in read)

    @property
    def warmup(self) -> int:
        """Candles before every declared output has a value (0 when nothing is declared)."""
        return max((indicator.warmup for indicator in self._indicators.values()), default=0)

    def compute_arrays(
        self, inputs: Mapping[str, np.ndarray], columns: Collection[str] | None = None
    ) -> dict[str, np.ndarray]:
        """The batch engine: ``columns`` (default: all) over the candle fields ``inputs`` (float64 arrays
        of one length, e.g. from :func:`candle_inputs`). An indicator's columns come together: asking for
        ``bb_upper`` gives every ``bb_*``. Unknown columns raise ConfigurationError."""
        wanted = self.columns if columns is None else tuple(columns)
        unknown = [column for column in wanted if column not in self._owner]
        if unknown:
            raise ConfigurationError(
                f"unknown declared indicator column(s) {', '.join(map(repr, unknown))}; "
                f"declared: {', '.join(self.columns) or 'none'}"
            )
        length = len(next(iter(inputs.values()))) if inputs else 0
        out: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(self._owner[column] for column in wanted):
            indicator = self._indicators[name]
            try:
                columns_in = [inputs[field] for field in indicator.inputs]
            except KeyError as exc:
                raise DataError(f"indicator {name!r} needs the candles' {exc.args[0]}") from None
            arrays = outputs_of(indicator, indicator.batch(*columns_in), length)
            out.update(zip(self.columns_of(name), arrays, strict=True))
        return out

    def compute(self, candles: pd.DataFrame) -> pd.DataFrame:
        """Every declared column over a candle frame, on its index."""
        arrays = self.compute_arrays(candle_inputs(candles, self.inputs))
        return pd.DataFrame(arrays, index=candles.index, columns=list(self.columns))

    def stream(self) -> DeclaredStream:
        """A fresh streaming engine for these indicators (no history)."""
        return DeclaredStream(self)


def _field(candle: Any, name: str) -> float:
    value = getattr(candle, name) if isinstance(candle, Candle) else candle[name]
    return float(value)


class DeclaredStream:
    """The declared indicators of one symbol, one closed candle at a time.

    ``update(candle)`` and ``peek(candle)`` (a :class:`~cryptoflow.candles.Candle` or a mapping with the
    fields the indicators read) return ``{column: value}``, NaN while warming up; ``peek`` changes nothing.
    A missing, non-numeric or NaN field raises :class:`~cryptoflow.errors.DataError` before any indicator
    sees the candle. Each indicator's work per candle is bounded by its window, not by the history.
    """

    __slots__ = ("_columns", "_engines", "_inputs", "count")

    def __init__(self, declared: DeclaredIndicators) -> None:
        self._inputs = declared.inputs
        positions = {field: i for i, field in enumerate(self._inputs)}
        self._engines: list[tuple[IndicatorStream, tuple[int, ...]]] = [
            (indicator.stream(), tuple(positions[field] for field in indicator.inputs))
            for indicator in declared.values()
        ]
        self._columns = declared.columns
        self.count = 0

    def _read(self, candle: Any) -> list[float]:
        try:
            values = [_field(candle, name) for name in self._inputs]
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise DataError(f"a candle needs numeric {', '.join(self._inputs)}; got {candle!r}") from exc
        if any(value != value for value in values):
            raise DataError(f"a candle with NaN prices cannot update indicators: {candle!r}")
        return values

    def _named(self, results: list[tuple[float, ...]]) -> dict[str, float]:
        return dict(zip(self._columns, (value for result in results for value in result), strict=True))

    def update(self, candle: Any) -> dict[str, float]:
        """Feed a closed candle; the declared columns as of it."""
        values = self._read(candle)
        results = [engine.update(*[values[i] for i in where]) for engine, where in self._engines]
        self.count += 1
        return self._named(results)

    def peek(self, candle: Any) -> dict[str, float]:
        """The declared columns if ``candle`` (the open one) closed now; nothing changes."""
        values = self._read(candle)
        return self._named([engine.peek(*[values[i] for i in where]) for engine, where in self._engines])
