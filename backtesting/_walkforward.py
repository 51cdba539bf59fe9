"""Walk-forward validation: optimise on a train window, test the winner on the next window, in time order."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from backtesting._engine import BacktestConfig, backtest_symbol, slice_period
from backtesting._inputs import IndicatorInputs, price_arrays
from backtesting._optimize import (
    MIN_PART_CANDLES,
    OptimizeProgress,
    OptimizeResult,
    OptimizeSettings,
    StudySettings,
    _Window,
    optimize,
)
from backtesting._stats import Stats, compute_stats
from cryptoflow.errors import ConfigurationError
from cryptoflow.indicators import resolve_params
from cryptoflow.strategies import Strategy, strategy_class

__all__ = ["WALK_FORWARD_MODES", "WalkForwardResult", "walk_forward"]

WALK_FORWARD_MODES = ("anchored", "rolling")
"""``anchored``: every train window starts at the first candle; ``rolling``: train windows of one length."""

_YEAR_DAYS = 365.25


@dataclass
class WalkForwardResult:
    """Per fold the winner of its train window and its statistics there (``train_*``) and on the next
    window (``test_*``); the test windows' trades and equity stitched together (each fold starts with the
    equity the previous one ended with) and their statistics; the walk-forward efficiency: the stitched
    out-of-sample return a year over the folds' mean in-sample return a year (about 1: the in-sample
    figures carry over; near 0 or below: they were fit to the training candles)."""

    mode: str
    folds: pd.DataFrame = field(repr=False)
    stitched: Stats = field(repr=False)
    efficiency: float
    searches: list[OptimizeResult] = field(repr=False)


def _windows(n: int, folds: int, mode: str, train_fraction: float) -> list[tuple[int, int, int]]:
    """``(train_start, test_start, test_end)`` per fold: the candles cut into ``folds`` test windows after
    a first train window of ``train_fraction / (1 - train_fraction)`` test windows' length."""
    train_parts = max(1, round(train_fraction / (1 - train_fraction)))
    size = n // (folds + train_parts)
    out = []
    for fold in range(folds):
        test_start = (train_parts + fold) * size
        test_end = n if fold == folds - 1 else test_start + size
        train_start = 0 if mode == "anchored" else test_start - train_parts * size
        out.append((train_start, test_start, test_end))
    return out


def walk_forward(
    candles: pd.DataFrame,
    strategy: str | type[Strategy],
    settings: OptimizeSettings | None = None,
    config: BacktestConfig | None = None,
    *,
    mode: str = "anchored",
    folds: int = 5,
    start: str | None = None,
    end: str | None = None,
    study: StudySettings | None = None,
    progress: Callable[[int, OptimizeProgress], None] | None = None,
) -> WalkForwardResult:
    """Walk forward over one symbol's candles: ``folds`` searches (:func:`~backtesting.optimize`), each
    on a train window, each winner tested on the window after it.

    The first train window is ``settings.train_fraction / (1 - train_fraction)`` test windows long
    (0.7: two); ``anchored`` train windows grow from the first candle, ``rolling`` ones keep that length.
    Each fold's study is named after ``study.name`` (``NAME-fold1`` ...), or derived like a search's.
    ``progress(fold, search_progress)`` follows the searches.
    """
    settings = settings or OptimizeSettings()
    config = config or BacktestConfig()
    study = study or StudySettings()
    cls = strategy_class(strategy) if isinstance(strategy, str) else strategy
    if mode not in WALK_FORWARD_MODES:
        raise ConfigurationError(f"--walk-forward {mode}: expected one of {', '.join(WALK_FORWARD_MODES)}")
    if folds < 1:
        raise ConfigurationError(f"--folds {folds}: expected 1 or more")
    period = slice_period(candles, start, end)
    windows = _windows(len(period), folds, mode, settings.train_fraction)
    shortest = min(
        min(test_start - train_start, test_end - test_start) for train_start, test_start, test_end in windows
    )
    if shortest < MIN_PART_CANDLES:
        raise ConfigurationError(
            f"--folds {folds}: {len(period)} candles make windows of {shortest} candles, fewer than "
            f"{MIN_PART_CANDLES}; use fewer --folds or a longer period (--start/--end)"
        )
    if max((b - a) / (c - a) for a, b, c in windows) > 0.95:
        raise ConfigurationError(
            f"--folds {folds}: the last anchored train window would be over 95 % of its fold; use fewer "
            "--folds or --walk-forward rolling"
        )
    rows, searches, trades, curves = [], [], [], []
    equity_now = config.cash
    for fold, (train_start, test_start, test_end) in enumerate(windows, start=1):
        window = period.iloc[train_start:test_end]
        share = (test_start - train_start + 0.5) / len(window)  # int(len * share) is the train length
        name = None if study.name is None else f"{study.name}-fold{fold}"
        search = optimize(
            window,
            cls,
            replace(settings, train_fraction=share),
            config,
            study=replace(study, name=name),
            progress=None if progress is None else functools.partial(progress, fold),
        )
        searches.append(search)
        if search.table.empty:
            continue
        best = search.table.iloc[0]
        params = search.best_params
        fold_config = BacktestConfig(**{**config.__dict__, "cash": equity_now})
        tested = _test(cls, params, window, test_start - train_start, fold_config, settings.preset)
        trades.append(tested.trades)
        curves.append(tested.equity)
        equity_now = float(tested.equity.iloc[-1])
        row: dict[str, Any] = {
            "fold": fold,
            "train_start": str(window.index[0]),
            "test_start": str(window.index[test_start - train_start]),
            "test_end": str(window.index[-1]),
            "params": json.dumps(params),
        }
        for column in best.index:
            if column.startswith(("train_", "test_")):
                row[column] = best[column]
        rows.append(row)
    table = pd.DataFrame(rows)
    if not curves:
        raise ConfigurationError("no fold produced a complete trial; widen the period or the search")
    equity = pd.concat(curves).rename("equity")
    stitched = compute_stats(pd.concat(trades, ignore_index=True), equity, initial_equity=config.cash)
    inside = [
        float(r["train_total_return_pct"]) / max(float(r["train_duration_days"]), 1e-9)
        for _, r in table.iterrows()
    ]
    outside = float(stitched["total_return_pct"]) / max(float(stitched["duration_days"]), 1e-9)
    mean_inside = sum(inside) / len(inside)
    efficiency = outside / mean_inside if mean_inside > 0 else math.nan
    return WalkForwardResult(mode, table, stitched, efficiency, searches)


def _test(
    cls: type[Strategy],
    params: dict[str, Any],
    window: pd.DataFrame,
    split: int,
    config: BacktestConfig,
    preset: str | None,
) -> Any:
    """The winner's backtest on the test part of ``window``, its indicators warmed on the train part."""
    instance = cls(**params)
    symbol = str(window.attrs.get("symbol") or "SYMBOL")
    chosen = preset or instance.indicator_preset
    periods = resolve_params(chosen, **instance.indicator_params())
    prices = price_arrays(window, symbol)
    full = IndicatorInputs(window, prices, periods, None, instance.declared_indicators(), instance.lookback)
    return backtest_symbol(
        window.iloc[split:],
        instance,
        config,
        indicators=_Window(full, split, len(window)),
        preset=preset,
        symbol=symbol,
    )
