"""What the optimiser ranks by: loss functions over a backtest's statistics."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from backtesting._stats import STAT_LABELS
from cryptoflow.errors import ConfigurationError

__all__ = ["LOSSES", "Loss", "loss"]


@dataclass(frozen=True)
class Loss:
    """A named objective over a backtest's statistics (keys of :data:`~backtesting.STAT_LABELS`).

    ``score(stats, min_trades, drawdown_weight)`` returns the value Optuna optimises in
    ``direction``; NaN means "undefined" (no trades, too few trades) and ranks last.
    """

    name: str
    direction: Literal["maximize", "minimize"]
    header: str
    description: str
    score: Callable[[Mapping[str, Any], int, float], float]

    def worst(self) -> float:
        """A finite value below every real score, told to Optuna for an undefined one (it refuses NaN)."""
        return -1e12 if self.direction == "maximize" else 1e12


def _stat(key: str) -> Callable[[Mapping[str, Any], int, float], float]:
    return lambda stats, min_trades, weight: float(stats[key])


def _profit_drawdown(stats: Mapping[str, Any], min_trades: int, weight: float) -> float:
    # max_drawdown_pct is negative (-12.5 = 12.5 % below the peak): the penalty adds it
    return float(stats["total_return_pct"]) + weight * float(stats["max_drawdown_pct"])


def _win_rate(stats: Mapping[str, Any], min_trades: int, weight: float) -> float:
    return float(stats["win_rate_pct"]) if stats["n_trades"] >= min_trades else math.nan


LOSSES: dict[str, Loss] = {
    "sharpe": Loss("sharpe", "maximize", "sharpe", "annualised Sharpe ratio", _stat("sharpe")),
    "sortino": Loss("sortino", "maximize", "sortino", "annualised Sortino ratio", _stat("sortino")),
    "calmar": Loss("calmar", "maximize", "calmar", "CAGR over max drawdown", _stat("calmar")),
    "profit": Loss("profit", "maximize", "ret%", "total return [%]", _stat("total_return_pct")),
    "profit_drawdown": Loss(
        "profit_drawdown",
        "maximize",
        "ret-dd",
        "total return [%] minus --drawdown-weight x max drawdown [%]",
        _profit_drawdown,
    ),
    "win_rate": Loss(
        "win_rate", "maximize", "win%", "win rate [%], undefined below --min-trades trades", _win_rate
    ),
    "max_drawdown": Loss(
        "max_drawdown",
        "maximize",
        "dd%",
        "max drawdown [%] (negative: closest to 0 wins)",
        _stat("max_drawdown_pct"),
    ),
}
"""The loss functions by name; every numeric statistic of :data:`STAT_LABELS` is one too (maximised)."""

_NOT_NUMBERS = ("start", "end")
_HEADERS = {
    "total_return_pct": "ret%",
    "max_drawdown_pct": "dd%",
    "win_rate_pct": "win%",
    "cagr_pct": "cagr%",
}
_SMALLER_IS_BETTER = ("max_drawdown_duration_days", "fees_paid")


def loss(name: str) -> Loss:
    """The loss called ``name``: one of :data:`LOSSES` or a numeric statistic's key (``total_return_pct``).

    Raises :class:`ConfigurationError` listing the choices for an unknown name.
    """
    if name in LOSSES:
        return LOSSES[name]
    if name in STAT_LABELS and name not in _NOT_NUMBERS:
        direction: Literal["maximize", "minimize"] = "minimize" if name in _SMALLER_IS_BETTER else "maximize"
        header = _HEADERS.get(name, name.removesuffix("_pct")[:8])
        return Loss(name, direction, header, STAT_LABELS[name], _stat(name))
    raise ConfigurationError(
        f"{name}: unknown loss; choose one of {', '.join(LOSSES)} or a statistic "
        f"({', '.join(k for k in STAT_LABELS if k not in _NOT_NUMBERS and k not in LOSSES)})"
    )
