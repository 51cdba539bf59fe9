"""Parameter search (grid or random) with a train/test split in time."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from backtesting._engine import BacktestConfig, backtest_symbol, slice_period
from backtesting._stats import STAT_LABELS
from cryptoflow.errors import ConfigurationError, DataError
from cryptoflow.strategies import INDICATOR_PARAMS, Strategy, strategy_class

__all__ = ["OptimizeResult", "OptimizeSettings", "optimize"]


@dataclass(frozen=True)
class OptimizeSettings:
    """What to search and how to rank.

    Attributes
    ----------
    space: candidate values per parameter; default the strategy's ``search_space``.
    method: ``"grid"`` (every combination) or ``"random"`` (``trials`` distinct combinations).
    trials: number of random combinations (ignored by ``grid``).
    metric: statistic to maximise on the training part (a key of ``STAT_LABELS``, e.g. ``sharpe``).
    train_fraction: share of the candles, in time order, used for training; the rest is the test.
    seed: random seed for ``random``.
    preset: indicator preset; default the strategy's own.
    """

    space: Mapping[str, Sequence[Any]] | None = None
    method: Literal["grid", "random"] = "grid"
    trials: int = 50
    metric: str = "sharpe"
    train_fraction: float = 0.7
    seed: int = 0
    preset: str | None = None


@dataclass
class OptimizeResult:
    """All evaluated combinations ranked by the training metric (best first)."""

    metric: str
    table: pd.DataFrame = field(repr=False)
    train_period: tuple[str, str]
    test_period: tuple[str, str]

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of the best-ranked combination."""
        if self.table.empty:
            return {}
        row = self.table.iloc[0]
        return {k[len("param_") :]: _plain(row[k]) for k in self.table.columns if k.startswith("param_")}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _combinations(space: Mapping[str, Sequence[Any]], settings: OptimizeSettings) -> list[dict[str, Any]]:
    names = list(space)
    grid = itertools.product(*(list(space[name]) for name in names))
    if settings.method == "grid":
        return [dict(zip(names, values, strict=True)) for values in grid]
    if settings.method != "random":
        raise ConfigurationError(f"optimiser method must be 'grid' or 'random', got {settings.method!r}")
    total = math.prod(len(space[name]) for name in names)
    rng = random.Random(settings.seed)
    if total <= settings.trials:
        return [dict(zip(names, values, strict=True)) for values in grid]
    seen: set[tuple[int, ...]] = set()
    picks: list[dict[str, Any]] = []
    while len(picks) < settings.trials:
        choice = tuple(rng.randrange(len(space[name])) for name in names)
        if choice not in seen:
            seen.add(choice)
            picks.append({name: list(space[name])[i] for name, i in zip(names, choice, strict=True)})
    return picks


def optimize(
    candles: pd.DataFrame,
    strategy: str | type[Strategy],
    settings: OptimizeSettings | None = None,
    config: BacktestConfig | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OptimizeResult:
    """Search the strategy's parameters on one symbol's candles.

    Indicators are computed once per distinct set of indicator periods over the whole period, then
    split at ``train_fraction`` so the test part starts warm. Each combination is backtested on both
    parts; the table is sorted by the training metric (NaN last), so the test columns show how the
    winner generalises. ``progress(done, total)`` is called after each combination.

    Example::

        result = optimize(candles, "ensemble", OptimizeSettings(method="random", trials=40))
        result.table.head()
    """
    settings = settings or OptimizeSettings()
    config = config or BacktestConfig()
    cls = strategy_class(strategy) if isinstance(strategy, str) else strategy
    if settings.metric not in STAT_LABELS:
        raise ConfigurationError(
            f"unknown metric {settings.metric!r}; choose one of {', '.join(STAT_LABELS)}"
        )
    if not 0.1 <= settings.train_fraction <= 0.95:
        raise ConfigurationError("train_fraction must be between 0.1 and 0.95")
    space = dict(settings.space if settings.space is not None else cls.search_space)
    if not space:
        raise ConfigurationError(f"strategy {cls.name!r} declares no search_space; pass one")
    unknown = sorted(set(space) - set(cls.parameters()))
    if unknown:
        raise ConfigurationError(f"unknown parameter(s) {', '.join(unknown)} for strategy {cls.name!r}")
    period = slice_period(candles, start, end)
    split = int(len(period) * settings.train_fraction)
    if split < 50 or len(period) - split < 50:
        raise DataError(
            f"too few candles ({len(period)}) for a train/test split at {settings.train_fraction}"
        )
    train, test = period.iloc[:split], period.iloc[split:]
    symbol = str(candles.attrs.get("symbol") or "SYMBOL")
    combos = _combinations(space, settings)
    indicator_cache: dict[tuple[Any, ...], pd.DataFrame] = {}
    rows: list[dict[str, Any]] = []
    for done, params in enumerate(combos, start=1):
        instance = cls(**params)
        preset = settings.preset or instance.indicator_preset
        key = (preset, *(getattr(instance, name) for name in INDICATOR_PARAMS))
        if key not in indicator_cache:
            from cryptoflow.indicators import compute

            indicator_cache[key] = compute(period, preset=preset, **instance.indicator_params())
        indicators = indicator_cache[key]
        row: dict[str, Any] = {f"param_{k}": v for k, v in params.items()}
        for part, frame, ind in (
            ("train", train, indicators.iloc[:split]),
            ("test", test, indicators.iloc[split:]),
        ):
            stats = backtest_symbol(frame, instance, config, indicators=ind, symbol=symbol).stats
            row[f"{part}_{settings.metric}"] = stats[settings.metric]
            row[f"{part}_total_return_pct"] = stats["total_return_pct"]
            row[f"{part}_n_trades"] = stats["n_trades"]
        rows.append(row)
        if progress is not None:
            progress(done, len(combos))
    table = pd.DataFrame(rows)
    table = table.sort_values(f"train_{settings.metric}", ascending=False, na_position="last", kind="stable")
    fmt = "%Y-%m-%d %H:%M:%S"
    return OptimizeResult(
        settings.metric,
        table.reset_index(drop=True),
        (train.index[0].strftime(fmt), train.index[-1].strftime(fmt)),
        (test.index[0].strftime(fmt), test.index[-1].strftime(fmt)),
    )
