"""Search spaces: a strategy's ``search_space`` (lists and ranges) checked and turned into Optuna's
distributions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cryptoflow.errors import ConfigurationError
from cryptoflow.strategies import Range, Strategy

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import Trial

__all__ = ["Dimension", "SearchSpace", "build_space", "grid_size", "parse_space_text"]


@dataclass(frozen=True)
class Dimension:
    """One parameter's candidates: a list of values, or an int/float range (step or log scale)."""

    name: str
    kind: Literal["categorical", "int", "float"]
    values: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution sampling this dimension."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(self.values)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def grid(self) -> tuple[Any, ...] | None:
        """Every value of this dimension, or ``None`` for a continuous range (no finite grid)."""
        if self.kind == "categorical":
            return self.values
        if self.kind == "float" and self.step is None:
            return None
        if self.kind == "int" and self.log:
            return None
        step = self.step or 1
        count = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        if self.kind == "int":
            return tuple(int(self.low) + i * int(step) for i in range(count))
        return tuple(round(self.low + i * step, 12) for i in range(count))

    def suggest(self, trial: Trial) -> Any:
        """The value ``trial`` samples for this dimension."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, self.values)
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        """``1,2,3``, ``7..28``, ``0.5..3:0.5`` or ``0.001..1:log``, as ``--space`` takes it."""
        if self.kind == "categorical":
            return ",".join(_text(v) for v in self.values)
        return str(Range(self.low, self.high, self.step, self.log))


SearchSpace = dict[str, Dimension]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def parse_space_text(text: str) -> Sequence[str] | Range:
    """``v1,v2,...`` (a list of candidates) or ``low..high``, ``low..high:step``, ``low..high:log``."""
    text = text.strip()
    if ".." not in text:
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise ConfigurationError("expected values v1,v2,... or a range low..high[:step|:log]")
        return values
    bounds, _, option = text.partition(":")
    low_text, _, high_text = bounds.partition("..")
    try:
        low, high = _number(low_text), _number(high_text)
        if option.strip().lower() == "log":
            return Range(low, high, log=True)
        return Range(low, high, step=_number(option) if option.strip() else None)
    except ValueError:
        raise ConfigurationError(
            f"{text!r} is not a range; write low..high, low..high:step or low..high:log (e.g. 7..28)"
        ) from None


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def build_space(
    strategy: type[Strategy], space: Mapping[str, Sequence[Any] | Range | str] | None = None
) -> SearchSpace:
    """The checked search space of ``strategy``: ``space`` (candidates or ranges per parameter; text as
    ``--space`` takes it) when given, else the strategy's ``search_space``.

    Every name must be a parameter of the strategy, every candidate and both ends of a range valid
    values of it (the strategy's own checks run on them). Raises :class:`ConfigurationError` naming the
    parameter.
    """
    source = dict(strategy.search_space if space is None else space)
    if not source:
        raise ConfigurationError(
            f"strategy {strategy.name!r} declares no search_space; give one with --space name=v1,v2"
        )
    known = strategy.parameters()
    dimensions: SearchSpace = {}
    for name, spec in source.items():
        if name not in known:
            raise ConfigurationError(
                f"{name}: strategy {strategy.name!r} has no such parameter; its parameters: "
                f"{', '.join(sorted(known))}"
            )
        if isinstance(spec, str):
            try:
                spec = parse_space_text(spec)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{name}: {exc}") from None
        dimensions[name] = _dimension(strategy, name, spec, known[name])
    return dimensions


def _checked(strategy: type[Strategy], name: str, value: Any) -> Any:
    """``value`` as the strategy takes it (a CLI string coerced), after the strategy's own checks."""
    try:
        return getattr(strategy(**{name: value}), name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}={value}: {exc}") from None


def _dimension(strategy: type[Strategy], name: str, spec: Any, default: Any) -> Dimension:
    if isinstance(spec, Range):
        as_int = isinstance(default, int) and not isinstance(default, bool)
        if default is None:
            as_int = (
                all(float(v).is_integer() for v in (spec.low, spec.high, spec.step or 1)) and not spec.log
            )
        if as_int and not all(float(v).is_integer() for v in (spec.low, spec.high, spec.step or 1)):
            raise ConfigurationError(
                f"{name}: an integer parameter needs whole-number ends and step, got {spec}"
            )
        for end in (spec.low, spec.high):
            _checked(strategy, name, int(end) if as_int else float(end))
        return Dimension(
            name,
            "int" if as_int else "float",
            low=float(spec.low),
            high=float(spec.high),
            step=None if spec.step is None else float(spec.step),
            log=spec.log,
        )
    if isinstance(spec, str | bytes) or not isinstance(spec, Sequence) or len(spec) == 0:
        raise ConfigurationError(f"{name}: expected a list of candidates or a Range, got {spec!r}")
    values: list[Any] = []
    for value in spec:
        checked = _checked(strategy, name, value)
        if checked not in values:
            values.append(checked)
    return Dimension(name, "categorical", values=tuple(values))


def grid_size(space: SearchSpace) -> int | None:
    """The number of combinations of a finite space, ``None`` when a dimension is continuous."""
    size = 1
    for dimension in space.values():
        values = dimension.grid()
        if values is None:
            return None
        size *= len(values)
    return size
