"""A range of parameter values in a strategy's ``search_space`` (besides a list of candidates)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cryptoflow.errors import ConfigurationError

__all__ = ["Range"]


@dataclass(frozen=True)
class Range:
    """Every value from ``low`` to ``high`` (both included), for the optimiser to sample.

    The parameter's type decides whether the values are integers (an ``int`` default, or both ends
    whole numbers when the default is ``None``) or floats. ``step`` makes the range a grid of values
    ``low, low + step, ...``; ``log`` samples on a logarithmic scale (``low`` above 0, no ``step``).
    A list in ``search_space`` stays what it was: the candidates, in that order. Example::

        search_space = {
            "rsi_period": Range(7, 28),               # integers 7..28
            "threshold": Range(0.5, 3.0, step=0.5),   # 0.5, 1.0, ..., 3.0
            "take_profit_pct": Range(0.5, 20, log=True),
            "stop_loss_pct": [1.0, 1.5, 2.0],
        }
    """

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        for end in ("low", "high"):
            value = getattr(self, end)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigurationError(f"range {end} must be a finite number, got {value!r}")
        if self.low > self.high:
            raise ConfigurationError(
                f"range {self.low:g}..{self.high:g}: min {self.low:g} is above max {self.high:g}; "
                f"write {self.high:g}..{self.low:g}"
            )
        if self.step is not None and not (isinstance(self.step, int | float) and self.step > 0):
            raise ConfigurationError(f"range step must be above 0, got {self.step!r}")
        if self.log and self.step is not None:
            raise ConfigurationError("a range is sampled either on a log scale or in steps, not both")
        if self.log and self.low <= 0:
            raise ConfigurationError(f"a log range must start above 0, got {self.low:g}")

    def __str__(self) -> str:
        text = f"{self.low:g}..{self.high:g}"
        if self.step is not None:
            text += f":{self.step:g}"
        return text + (":log" if self.log else "")
