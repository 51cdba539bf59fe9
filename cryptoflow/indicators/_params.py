"""Indicator parameters and the two presets; one path that validates and rejects unknown names."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from cryptoflow.errors import ConfigurationError

RsiMethod = Literal["wilder", "sma"]


@dataclass(frozen=True, slots=True)
class IndicatorParams:
    """Every indicator parameter; periods are in candles.

    ``rsi_method``: ``"wilder"`` (the ``ta`` library: EMA of gains/losses with alpha 1/period over all
    history, seeded at the first candle) or ``"sma"`` (simple rolling means of gains and losses).
    ``macd_adjust``: pandas ``ewm(adjust=...)`` for the MACD lines and signal. With ``adjust=False`` an EMA
    of span ``n`` is reported from its ``n``-th value (the ``ta`` library), with ``adjust=True`` from its
    ``(n-1)``-th (the 2023 scripts' ``min_periods=n-1``).
    """

    preset: str = "ta"
    rsi_period: int = 14
    rsi_method: RsiMethod = "wilder"
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    macd_adjust: bool = False
    cci_period: int = 20
    cci_constant: float = 0.015

    def ema_min_periods(self, span: int) -> int:
        """Values an EMA of ``span`` needs before it is reported (pandas clamps 0 to 1)."""
        return max(span - 1 if self.macd_adjust else span, 1)

    @property
    def warmup(self) -> int:
        """Candles before every indicator has a value (the first ``warmup`` rows hold NaN somewhere)."""
        rsi = self.rsi_period + 1 if self.rsi_method == "sma" else self.rsi_period
        macd = max(self.ema_min_periods(self.macd_fast), self.ema_min_periods(self.macd_slow))
        signal = macd + self.ema_min_periods(self.macd_signal) - 1
        return max(rsi, signal, self.cci_period) - 1


PRESETS: dict[str, IndicatorParams] = {
    # The ta library's conventions: Wilder RSI, MACD from ewm(adjust=False, min_periods=span).
    "ta": IndicatorParams(preset="ta"),
    # The original 2023 scripts: RSI from 14-candle rolling means, MACD from ewm(span, min_periods=span-1)
    # with pandas' default adjust=True, CCI from rolling mean and mean absolute deviation over 20.
    "seed": IndicatorParams(preset="seed", rsi_method="sma", macd_adjust=True),
}

_NAMES = tuple(f.name for f in fields(IndicatorParams) if f.name != "preset")


def resolve_params(preset: str | IndicatorParams = "ta", **overrides: Any) -> IndicatorParams:
    """The parameters of ``preset`` with ``overrides`` applied, validated.

    Raises :class:`~cryptoflow.errors.ConfigurationError` for an unknown preset, an unknown parameter name
    or a bad value.

    >>> resolve_params("seed", rsi_period=21).rsi_period
    21
    """
    if isinstance(preset, IndicatorParams):
        base = preset
    else:
        if preset not in PRESETS:
            raise ConfigurationError(
                f"unknown indicator preset {preset!r}: choose one of {', '.join(PRESETS)}"
            )
        base = PRESETS[preset]
    unknown = sorted(set(overrides) - set(_NAMES))
    if unknown:
        raise ConfigurationError(
            f"unknown indicator parameter(s) {', '.join(unknown)}: known are {', '.join(_NAMES)}"
        )
    for name in ("rsi_period", "macd_fast", "macd_slow", "macd_signal", "cci_period"):
        if name in overrides:
            value = overrides[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"indicator parameter {name} must be an integer >= 1; got {value!r}")
    if "rsi_method" in overrides and overrides["rsi_method"] not in ("wilder", "sma"):
        raise ConfigurationError(f"rsi_method must be 'wilder' or 'sma'; got {overrides['rsi_method']!r}")
    if "macd_adjust" in overrides and not isinstance(overrides["macd_adjust"], bool):
        raise ConfigurationError(f"macd_adjust must be true or false; got {overrides['macd_adjust']!r}")
    if "cci_constant" in overrides:
        value = overrides["cci_constant"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigurationError(f"cci_constant must be a number > 0; got {value!r}")
        overrides["cci_constant"] = float(value)
    return replace(base, **overrides)


def pandas_alpha(*, span: float | None = None, alpha: float | None = None) -> float:
    """The smoothing factor exactly as pandas computes it (via the centre of mass), bit for bit."""
    if span is not None:
        com = (span - 1) / 2.0
    elif alpha is not None:
        com = (1.0 - alpha) / alpha
    else:
        raise TypeError("pandas_alpha() needs span or alpha")
    return 1.0 / (1.0 + com)
