"""The strategy contract (version 1), shared by the backtester and live trading."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cryptoflow.errors import ConfigurationError, CryptoflowError
from cryptoflow.indicators import DeclaredIndicators, Indicator, resolve_params
from cryptoflow.strategies._space import Range

__all__ = [
    "CONTRACT_VERSION",
    "INDICATOR_PARAMS",
    "ENGINE_PARAMS",
    "Signals",
    "Strategy",
    "StrategyError",
]

CONTRACT_VERSION = 1
"""Version of the strategy contract; bumped when a hook or its meaning changes."""

INDICATOR_PARAMS = ("rsi_period", "macd_fast", "macd_slow", "macd_signal", "cci_period")
"""Parameters handed to :func:`cryptoflow.indicators.compute` (periods, in candles)."""

ENGINE_PARAMS = ("stop_loss_pct", "take_profit_pct", "trailing_stop_pct", "max_holding_candles")
"""Parameters applied by the engine, not by the strategy's rules."""

_DEFAULT_PLOT_CONFIG: dict[str, Any] = {
    "main_plot": [],
    "subplots": {
        "RSI": {"lines": ["rsi"], "bands": [30, 70]},
        "MACD": {"lines": ["macd", "macd_signal"], "bars": ["macd_hist"]},
        "CCI": {"lines": ["cci"], "bands": [-100, 100]},
    },
}


class StrategyError(CryptoflowError):
    """A strategy's own code raised: the message names the strategy and the hook that failed."""


@dataclass(frozen=True)
class Signals:
    """What a strategy wants, per candle (arrays) or for one closed candle (scalars).

    Every field is a boolean (numpy array or ``numpy.bool_``); entries are evaluated on a candle's
    close. When ``entry_long`` and ``entry_short`` are both true the long wins.
    """

    entry_long: Any
    entry_short: Any
    exit_long: Any
    exit_short: Any


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "ClassVar" in text


def _coerce(name: str, value: object, default: object) -> object:
    """Bring ``value`` (possibly a CLI string) to the type of the parameter's default."""
    if isinstance(value, str) and not isinstance(default, str):
        text = value.strip()
        if text.lower() in {"none", "null", "off", ""}:
            return None
        if isinstance(default, bool):
            if text.lower() in {"true", "1", "yes", "on"}:
                return True
            if text.lower() in {"false", "0", "no"}:
                return False
            raise ConfigurationError(f"parameter {name!r} expects true/false, got {value!r}")
        try:
            number = float(text)
        except ValueError:
            raise ConfigurationError(f"parameter {name!r} expects a number, got {value!r}") from None
        if isinstance(default, int) and number.is_integer():
            return int(number)
        return number
    if isinstance(default, bool) or value is None or default is None:
        return value
    if isinstance(default, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(default, int | float) and not isinstance(value, int | float):
        raise ConfigurationError(f"parameter {name!r} expects a number, got {value!r}")
    return value


class Strategy:
    """Base class of every strategy (contract version 1).

    A strategy is data plus two rules. Its parameters are the annotated public class attributes of the
    class and its bases: indicator periods (:data:`INDICATOR_PARAMS`), engine exits
    (:data:`ENGINE_PARAMS`, percentages of the entry price; ``None`` disables one) and its own
    thresholds. They are overridden in one place, the constructor, which rejects unknown names::

        class RsiDip(Strategy):
            name = "rsi_dip"
            rsi_below: float = 25.0
            stop_loss_pct: float | None = 2.0

            def entry_long(self, ind):
                return ind["rsi"] < self.rsi_below

        RsiDip(rsi_below=20)          # ok
        RsiDip(rsi_bellow=20)         # ConfigurationError: unknown parameter

    ``ind`` maps ``open, high, low, close, volume``, the indicator columns ``rsi, macd, macd_signal,
    macd_hist, cci, is_bull, engulfing`` and the columns of the declared :attr:`indicators` to numpy
    arrays (backtest) or to ``numpy.float64`` scalars (live). Write rules with comparisons and
    ``&``/``|`` (not ``and``/``or``/``not``) so that they work on both; comparisons with NaN (indicator
    warm-up) are false. ``ind.ago(name, n)`` is the value ``n`` candles before (up to :attr:`lookback`),
    an array shifted by ``n`` or the live value of ``n`` candles ago: ``crossed_above(ind, "rsi", 30)``.
    Positions, stops and take-profits belong to the engine.
    """

    contract_version: ClassVar[int] = CONTRACT_VERSION
    name: ClassVar[str] = "strategy"
    description: ClassVar[str] = ""
    timeframe: ClassVar[str | None] = None
    """Interval the strategy was designed for (informative only)."""
    search_space: ClassVar[Mapping[str, Sequence[Any] | Range]] = {}
    """Candidate values (a list) or a :class:`~cryptoflow.strategies.Range` per parameter, for
    ``cryptoflow optimize``."""
    plot_config: ClassVar[Mapping[str, Any]] = _DEFAULT_PLOT_CONFIG
    """Which indicators go on the price chart (``main_plot``) and in which subplot (``subplots``)."""
    indicators: ClassVar[Mapping[str, Indicator]] = {}
    """Indicators of the catalogue (or your own) the rules read, by name, several of a kind allowed::

        indicators = {"ema_fast": EMA(12), "ema_slow": EMA(50), "bb": Bollinger(20, 2)}

    The rules read ``ind["ema_fast"]``, and ``ind["bb_upper"]`` etc. for an indicator with several
    outputs. The backtest computes those the rules read; live trading streams them all. For periods that
    are parameters, override :meth:`declared_indicators` instead."""
    lookback: ClassVar[int] = 1
    """How many candles back the rules read with ``ind.ago(name, n)`` (``crossed_above`` needs 1); live
    trading keeps that many candles' values."""

    indicator_preset: str = "ta"
    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    cci_period: int = 20
    stop_loss_pct: float | None = 1.5
    take_profit_pct: float | None = 3.0
    trailing_stop_pct: float | None = None
    max_holding_candles: int | None = None

    def __init__(self, **params: object) -> None:
        known = self.parameters()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigurationError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for strategy {self.name!r}; "
                f"known: {', '.join(sorted(known))}"
            )
        for key, value in params.items():
            setattr(self, key, _coerce(key, value, known[key]))
        self._validate()
        try:
            self._declared = self.declared_indicators()
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.name}: {exc}") from None

    # ---- parameters -------------------------------------------------------------------------------

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Every parameter of the class with its default value (name -> value)."""
        names: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for key, annotation in vars(klass).get("__annotations__", {}).items():
                if key.startswith("_") or key == "indicators" or _is_classvar(annotation):
                    continue
                names[key] = getattr(cls, key)
        return names

    def params(self) -> dict[str, Any]:
        """The effective parameter values of this instance."""
        return {key: getattr(self, key) for key in self.parameters()}

    def indicator_params(self) -> dict[str, int]:
        """Keyword arguments for :func:`cryptoflow.indicators.compute` (periods only)."""
        return {key: int(getattr(self, key)) for key in INDICATOR_PARAMS}

    def declared_indicators(self) -> DeclaredIndicators:
        """The declared indicators, validated (:class:`~cryptoflow.indicators.DeclaredIndicators`).

        By default :attr:`indicators`; override it when periods are parameters::

            ema_period: int = 50

            def declared_indicators(self):
                return DeclaredIndicators({"ema": EMA(self.ema_period)})
        """
        return DeclaredIndicators(self.indicators)

    @property
    def warmup(self) -> int:
        """Candles before every value the rules can read exists: the built-in indicators' (with this
        strategy's periods and preset) and the declared ones', plus :attr:`lookback`. Live trading warms up
        on at least ``warmup + 1`` candles of history."""
        builtin = resolve_params(self.indicator_preset, **self.indicator_params()).warmup
        return max(builtin, self._declared.warmup) + self.lookback

    def _validate(self) -> None:
        for key in ("stop_loss_pct", "take_profit_pct", "trailing_stop_pct"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, int | float) and 0 < value < 100):
                raise ConfigurationError(f"{self.name}: {key} must be in (0, 100) or None, got {_fmt(value)}")
        if isinstance(self.lookback, bool) or not isinstance(self.lookback, int) or self.lookback < 0:
            raise ConfigurationError(f"{self.name}: lookback must be an integer >= 0, got {self.lookback!r}")
        hold = self.max_holding_candles
        if hold is not None and (not isinstance(hold, int) or hold < 1):
            raise ConfigurationError(f"{self.name}: max_holding_candles must be >= 1 or None, got {hold!r}")
        for key in INDICATOR_PARAMS:
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{self.name}: {key} must be a positive integer, got {value!r}")

    # ---- rules (override) ---------------------------------------------------------------------------

    def entry_long(self, ind: Mapping[str, Any]) -> Any:
        """Open a long at this candle's close (``close`` fill) or the next open (``intrabar``)."""
        return False

    def entry_short(self, ind: Mapping[str, Any]) -> Any:
        """Open a short; see :meth:`entry_long`."""
        return False

    def exit_long(self, ind: Mapping[str, Any]) -> Any:
        """Close an open long on a signal (besides the engine's stop-loss / take-profit)."""
        return False

    def exit_short(self, ind: Mapping[str, Any]) -> Any:
        """Close an open short on a signal."""
        return False

    # ---- evaluation (called by engines) ------------------------------------------------------------

    def evaluate(self, ind: Mapping[str, Any]) -> Signals:
        """Run the four rules; an exception inside them becomes a :class:`StrategyError`.

        With arrays in ``ind`` every field comes back as a boolean array of the same length (scalar
        answers are broadcast); with scalars, as ``numpy.bool_``.
        """
        length = None
        for value in ind.values():
            if isinstance(value, np.ndarray) and value.ndim == 1:
                length = len(value)
                break
        out = []
        for hook in ("entry_long", "entry_short", "exit_long", "exit_short"):
            try:
                raw = getattr(self, hook)(ind)
            except Exception as exc:  # user code: report, never crash the caller
                raise StrategyError(f"{self._who()} failed in {hook}: {type(exc).__name__}: {exc}") from exc
            value = self._booleans(hook, raw)
            if length is not None:
                if value.ndim == 0:
                    value = np.full(length, bool(value))
                elif value.shape != (length,):
                    raise StrategyError(
                        f"{self._who()}: rule {hook} returned shape {value.shape}, expected ({length},)"
                    )
            elif value.ndim == 0:
                value = np.bool_(value)
            out.append(value)
        return Signals(*out)

    def _who(self) -> str:
        """``strategy 'rsi_dip' (RsiDip, my_strategy.py)``: the name, class and, for a user's, its file."""
        cls = type(self)
        module = sys.modules.get(cls.__module__)
        source = getattr(module, "__file__", None)
        where = f", {source}" if source and not cls.__module__.startswith("cryptoflow.") else ""
        return f"strategy {self.name!r} ({cls.__qualname__}{where})"

    def _booleans(self, hook: str, raw: object) -> np.ndarray | np.bool_:
        """``raw`` as booleans; anything else (``"no"``, ``None``, numbers) is a :class:`StrategyError`.

        Converting with ``bool()`` would make ``"no"`` true (a trade on every candle) and ``None`` false
        (a strategy that silently never trades), so only real booleans pass.
        """
        if isinstance(raw, bool | np.bool_):
            return np.bool_(raw)
        dtype = getattr(raw, "dtype", None)
        if dtype is not None and dtype == np.bool_ and hasattr(raw, "__array__"):
            return np.asarray(raw)  # numpy bool arrays (and pandas boolean Series)
        raise StrategyError(
            f"{self._who()}: rule {hook} returned {_what(raw)}; "
            "a rule must return booleans: True/False, or a numpy bool array such as "
            "(ind['rsi'] < 30) & (ind['macd_hist'] > 0)"
        )

    def signal(self, ind: Mapping[str, Any]) -> str | None:
        """For one closed candle (scalars): ``"long"``, ``"short"`` or ``None`` (long wins ties)."""
        signals = self.evaluate(ind)
        if bool(signals.entry_long):
            return "long"
        if bool(signals.entry_short):
            return "short"
        return None

    def describe(self) -> str:
        """``name(param=value, ...)`` listing the parameters that differ from the class defaults."""
        defaults = self.parameters()
        changed = {k: v for k, v in self.params().items() if v != defaults[k]}
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in changed.items())
        return f"{self.name}({inner})" if inner else self.name


def _what(value: object) -> str:
    """``str 'no'``, ``None``, ``a float64 array`` or ``int 1``: what a rule returned, briefly."""
    if value is None:
        return "None"
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(value, "ndim", 0) > 0:
        kind = "array" if isinstance(value, np.ndarray) else type(value).__name__
        return f"a {dtype} {kind}"
    text = repr(value) if isinstance(value, str) else str(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _fmt(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)
