"""Parameter search on Optuna (TPE, NSGA-II, random, grid) with a train/test split in time."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from backtesting._engine import BacktestConfig, backtest_symbol, slice_period
from backtesting._inputs import IndicatorInputs, price_arrays
from backtesting._losses import Loss, loss
from backtesting._space import SearchSpace, build_space, grid_size
from backtesting._study import count_trials, make_sampler, open_storage, open_study
from backtesting._trials import run_trials
from cryptoflow.errors import ConfigurationError
from cryptoflow.indicators import resolve_params
from cryptoflow.strategies import INDICATOR_PARAMS, Range, Strategy, strategy_class

if TYPE_CHECKING:
    import optuna

__all__ = [
    "OptimizeProgress",
    "OptimizeResult",
    "OptimizeSettings",
    "StudySettings",
    "default_jobs",
    "optimize",
]

MIN_PART_CANDLES = 50
"""Fewest candles a train or test part may have."""

_WARN_GAP = 0.5  # out-of-sample this share (or more) worse than in-sample is "far below"
_CACHED_INPUTS = 16  # indicator sets kept per process (about 3 MB each for a year of 5m candles)


@dataclass(frozen=True)
class OptimizeSettings:
    """What to search and how to rank.

    Attributes
    ----------
    space: candidates (a list) or a :class:`~cryptoflow.strategies.Range` per parameter, or their text
        as ``--space`` takes it (``1,2,3``, ``7..28``, ``0.5..3:0.5``, ``0.001..1:log``); default the
        strategy's ``search_space``.
    sampler: ``"grid"`` (every combination), ``"random"`` (``trials`` distinct combinations of a finite
        space, else uniform draws), ``"tpe"`` or ``"nsga2"`` (Optuna's samplers).
    trials: number of trials (a grid runs every combination instead).
    losses: what to optimise on the training part (:data:`~backtesting.LOSSES` names or statistics);
        several make a multi-objective search whose result is the Pareto front.
    train_fraction: share of the candles, in time order, used for training; the rest is the test.
    seed: random seed of the sampler (``None``: a new one each run).
    preset: indicator preset; default the strategy's own.
    min_trades: fewer trades than this make ``win_rate`` undefined and the best trial suspect.
    """

    space: Mapping[str, Sequence[Any] | Range | str] | None = None
    sampler: str = "grid"
    trials: int = 50
    losses: tuple[str, ...] = ("sharpe",)
    train_fraction: float = 0.7
    seed: int | None = 0
    preset: str | None = None
    min_trades: int = 20


@dataclass(frozen=True)
class StudySettings:
    """Where the trials are kept and who runs them.

    Attributes
    ----------
    storage: Optuna storage URL (``sqlite:///studies.db``, ``journal:studies.log``, PostgreSQL/MySQL);
        ``None`` keeps the study in memory. Processes giving the same storage and ``name`` share the
        study: together they run ``OptimizeSettings.trials``; run again, a study resumes where it ended.
    name: the study's name; default one derived from the strategy, candles and search.
    jobs: processes backtesting trials on this machine (forked: they share the prepared candles and
        indicators); this process alone samples and writes to the storage.
    """

    storage: str | None = None
    name: str | None = None
    jobs: int = 1


@dataclass(frozen=True)
class OptimizeProgress:
    """Where a search stands: trials complete (in all processes) out of ``total``, and the best so far."""

    done: int
    total: int
    best: str


@dataclass
class OptimizeResult:
    """Every complete trial, best first, with its in-sample (``train_*``) and out-of-sample (``test_*``)
    statistics. Single objective: ranked by the training value. Several: the Pareto front first
    (column ``pareto``), each part ranked by the first loss."""

    losses: tuple[Loss, ...]
    table: pd.DataFrame = field(repr=False)
    train_period: tuple[str, str]
    test_period: tuple[str, str]
    study: str
    min_trades: int = 20

    @property
    def metric(self) -> str:
        """The first loss's name (the one the single-objective ranking uses)."""
        return self.losses[0].name

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of the best-ranked trial."""
        if self.table.empty:
            return {}
        row = self.table.iloc[0]
        return {k[len("param_") :]: _plain(row[k]) for k in self.table.columns if k.startswith("param_")}

    def warnings(self) -> list[str]:
        """What makes the best trial suspect: too few trades, or out-of-sample far below in-sample."""
        if self.table.empty:
            return []
        row = self.table.iloc[0]
        notes = []
        trades = row.get("train_n_trades", math.nan)
        if not trades >= self.min_trades:
            notes.append(
                f"the best trial (#{int(row['trial'])}) made {_count(trades)} trades in sample, fewer than "
                f"--min-trades {self.min_trades}: its statistics mean little; widen the period or loosen "
                "the rules"
            )
        first = self.losses[0]
        inside, outside = _per_day(row, first, "train"), _per_day(row, first, "test")
        if math.isfinite(inside) and not _close_enough(inside, outside, first.direction):
            unit = " a day" if _is_return(first) else ""
            notes.append(
                f"out of sample the best trial's {first.name} is {_num(outside)}{unit}, far below "
                f"{_num(inside)}{unit} in sample: the parameters are likely fit to the training candles; "
                "try fewer parameters, more candles or a walk-forward check"
            )
        return notes


def _count(value: float) -> str:
    return "no" if not value == value else str(int(value))


def _num(value: float) -> str:
    return "undefined" if not math.isfinite(value) else f"{value:.4g}"


def _is_return(spec: Loss) -> bool:
    return spec.name in ("profit", "profit_drawdown", "total_return_pct")


def _per_day(row: pd.Series, spec: Loss, part: str) -> float:
    value = float(row.get(f"{part}_{spec.name}", math.nan))
    if _is_return(spec):  # the parts differ in length: compare returns a day
        value /= max(float(row.get(f"{part}_duration_days", math.nan)), 1e-9)
    return value


def _close_enough(inside: float, outside: float, direction: str) -> bool:
    if not math.isfinite(outside):
        return False
    gap = inside - outside if direction == "maximize" else outside - inside
    return gap <= _WARN_GAP * max(abs(inside), 1e-12)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


class _Window(Mapping[str, np.ndarray]):
    """Rows ``start:stop`` of indicators computed over the whole period: the test part starts warm."""

    def __init__(self, full: IndicatorInputs, start: int, stop: int) -> None:
        self._full, self._start, self._stop = full, start, stop

    def __getitem__(self, name: str) -> np.ndarray:
        return self._full[name][self._start : self._stop]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full)

    def __len__(self) -> int:
        return len(self._full)


class _Trials:
    """Everything a trial needs, prepared once before the workers fork: the period's candles and price
    arrays, and the indicators of each set of periods (computed when first read, then kept)."""

    def __init__(
        self,
        cls: type[Strategy],
        period: pd.DataFrame,
        split: int,
        config: BacktestConfig,
        preset: str | None,
    ) -> None:
        self.cls, self.period, self.split, self.config, self.preset = cls, period, split, config, preset
        self.symbol = str(period.attrs.get("symbol") or "SYMBOL")
        self.prices = price_arrays(period, self.symbol)
        self.parts = (("train", 0, split), ("test", split, len(period)))
        self._inputs: OrderedDict[tuple[Any, ...], IndicatorInputs] = OrderedDict()

    def inputs(self, instance: Strategy) -> IndicatorInputs:
        preset = self.preset or instance.indicator_preset
        declared = instance.declared_indicators()
        # a declared indicator's periods may be parameters: its repr (EMA(12)) is part of the key
        key = (preset, *(getattr(instance, name) for name in INDICATOR_PARAMS), repr(declared))
        if key in self._inputs:
            self._inputs.move_to_end(key)
            return self._inputs[key]
        params = resolve_params(preset, **instance.indicator_params())
        full = IndicatorInputs(self.period, self.prices, params, None, declared, instance.lookback)
        self._inputs[key] = full
        if len(self._inputs) > _CACHED_INPUTS:
            self._inputs.popitem(last=False)
        return full

    def run(self, params: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        """Backtest ``params`` on both parts: ``{"train": stats, "test": stats}`` (numbers only)."""
        instance = self.cls(**params)
        full = self.inputs(instance)
        out = {}
        for part, start, stop in self.parts:
            stats = backtest_symbol(
                self.period.iloc[start:stop],
                instance,
                self.config,
                indicators=_Window(full, start, stop),
                preset=self.preset,
                symbol=self.symbol,
            ).stats
            out[part] = {k: float(v) for k, v in stats.values.items() if isinstance(v, int | float)}
        return out

    def warm_up(self, space: SearchSpace) -> None:
        """One run with the defaults (compiles the loop before the workers fork, and records which
        indicators the rules read), then those indicators for every set of periods a small finite
        space holds, so that the workers share them instead of each computing them."""
        self.run({})
        read = self.inputs(self.cls()).computed
        periods = {name: space[name].grid() for name in INDICATOR_PARAMS if name in space}
        if not periods or any(values is None for values in periods.values()):
            return
        combos: list[dict[str, Any]] = [{}]
        for name, values in periods.items():
            combos = [{**combo, name: value} for combo in combos for value in values or ()]
        if len(combos) > _CACHED_INPUTS:
            return
        for combo in combos:
            full = self.inputs(self.cls(**combo))
            for name in read:
                full[name]


def _setup(cls: type[Strategy], trials: _Trials, settings: OptimizeSettings, space: SearchSpace) -> dict:
    """What the trials of a study mean; a study joined with another setup is refused."""
    closes = trials.prices["close"]
    return {
        "strategy": cls.name,
        "candles": f"{trials.symbol} {trials.period.index[0]} -> {trials.period.index[-1]} "
        f"({len(closes)}, #{hashlib.sha1(closes.tobytes()).hexdigest()[:10]})",
        "train_fraction": settings.train_fraction,
        "preset": settings.preset or "",
        "config": json.dumps(trials.config.__dict__, sort_keys=True),
        "space": {name: dim.describe() for name, dim in space.items()},
        "losses": ",".join(settings.losses),
    }


def _default_name(setup: Mapping[str, Any], sampler: str) -> str:
    digest = hashlib.sha1(json.dumps(setup, sort_keys=True).encode()).hexdigest()[:8]
    return f"{setup['strategy']}-{sampler}-{digest}"


def _value(losses: tuple[Loss, ...], stats: Mapping[str, float], min_trades: int) -> list[float]:
    """What Optuna is told: the scores, a trial without trades (or an undefined score) ranking last in
    every loss, also those such as drawdown it would trivially win."""
    values = []
    for spec in losses:
        score = spec.score(stats, min_trades, 1.0) if stats.get("n_trades", 0) > 0 else math.nan
        values.append(score if math.isfinite(score) else spec.worst())
    return values


def _best_text(study: optuna.Study, losses: tuple[Loss, ...]) -> str:
    if len(losses) > 1:
        return f"{len(study.best_trials)} on the Pareto front"
    try:
        best = study.best_value
    except ValueError:  # no complete trial yet
        return ""
    return f"best {losses[0].name} {_num(best) if abs(best) < 1e11 else 'undefined'}"


def optimize(
    candles: pd.DataFrame,
    strategy: str | type[Strategy],
    settings: OptimizeSettings | None = None,
    config: BacktestConfig | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    study: StudySettings | None = None,
    progress: Callable[[OptimizeProgress], None] | None = None,
) -> OptimizeResult:
    """Search the strategy's parameters on one symbol's candles with Optuna.

    The period is split at ``train_fraction``; the losses are computed on the training part and every
    trial is also backtested on the test part (indicators are computed over the whole period, so the
    test part starts warm), so the table shows how each trial generalises. With ``study.jobs`` above
    1 the backtests run in forked processes sharing the prepared candles; with ``study.storage`` several
    processes, here or on other machines, share the study. ``progress`` is called as trials complete.

    Example::

        result = optimize(candles, "ensemble", OptimizeSettings(sampler="tpe", trials=200,
                          losses=("sharpe", "max_drawdown")), study=StudySettings(jobs=2))
        result.table.head()
    """
    settings = settings or OptimizeSettings()
    config = config or BacktestConfig()
    study = study or StudySettings()
    cls = strategy_class(strategy) if isinstance(strategy, str) else strategy
    try:
        losses = tuple(loss(name) for name in settings.losses)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--loss {exc}") from None
    if not losses:
        raise ConfigurationError("give at least one loss")
    if not 0.1 <= settings.train_fraction <= 0.95:
        raise ConfigurationError("train_fraction must be between 0.1 and 0.95")
    try:
        space = build_space(cls, settings.space)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--space {exc}") from None
    size = grid_size(space)
    grid = {name: dim.grid() or () for name, dim in space.items()} if size is not None else None
    trials_wanted = size if settings.sampler == "grid" and size is not None else settings.trials
    if settings.sampler == "random" and size is not None:
        trials_wanted = min(trials_wanted, size)
    make_sampler(settings.sampler, settings.seed, grid, trials_wanted)  # checks the name and the space
    period = slice_period(candles, start, end)
    split = int(len(period) * settings.train_fraction)
    if split < MIN_PART_CANDLES or len(period) - split < MIN_PART_CANDLES:
        raise ConfigurationError(
            f"--start/--end: {len(period)} candles in the period, too few to train on "
            f"{settings.train_fraction:g} of them and test on the rest ({MIN_PART_CANDLES} each at least); "
            "widen the period or change --train"
        )
    storage = open_storage(study.storage)  # an unreachable storage is said before the work starts
    trials = _Trials(cls, period, split, config, settings.preset)
    trials.warm_up(space)
    setup = _setup(cls, trials, settings, space)
    name = study.name or _default_name(setup, settings.sampler)
    directions = [spec.direction for spec in losses]

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        return {dim.name: dim.suggest(trial) for dim in space.values()}

    def finish(trial: optuna.Trial, stats: dict[str, dict[str, float]]) -> list[float]:
        trial.set_user_attr("stats", stats)
        return _value(losses, stats["train"], settings.min_trades)

    sampler = make_sampler(settings.sampler, settings.seed, grid, trials_wanted)
    shared = open_study(storage, name, directions, sampler, setup)

    def report() -> None:
        if progress is not None:
            done = count_trials(shared, running=False)
            progress(OptimizeProgress(done, trials_wanted, _best_text(shared, losses)))

    report()
    run_trials(shared, storage, trials_wanted, suggest, trials.run, finish, jobs=study.jobs, on_trial=report)
    table = _table(shared, losses, settings.min_trades)
    fmt = "%Y-%m-%d %H:%M:%S"
    train, test = period.iloc[:split], period.iloc[split:]
    return OptimizeResult(
        losses,
        table,
        (train.index[0].strftime(fmt), train.index[-1].strftime(fmt)),
        (test.index[0].strftime(fmt), test.index[-1].strftime(fmt)),
        name,
        settings.min_trades,
    )


def _table(study: optuna.Study, losses: tuple[Loss, ...], min_trades: int) -> pd.DataFrame:
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front = {t.number for t in study.best_trials} if len(losses) > 1 and done else set()
    rows = []
    for trial in done:
        row: dict[str, Any] = {"trial": trial.number}
        row.update({f"param_{k}": v for k, v in trial.params.items()})
        stats = trial.user_attrs.get("stats", {})
        for part in ("train", "test"):
            values = stats.get(part, {})
            for spec in losses:
                row[f"{part}_{spec.name}"] = spec.score(values, min_trades, 1.0) if values else math.nan
        for part in ("train", "test"):
            row.update({f"{part}_{k}": v for k, v in stats.get(part, {}).items() if f"{part}_{k}" not in row})
        if len(losses) > 1:
            row["pareto"] = trial.number in front
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    first = losses[0]
    keys = [f"train_{first.name}"]
    ascending = [first.direction == "minimize"]
    if len(losses) > 1:
        keys, ascending = ["pareto", *keys], [False, *ascending]
    table = table.sort_values(keys, ascending=ascending, na_position="last", kind="stable")
    return table.reset_index(drop=True)


def default_jobs() -> int:
    """Every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
