"""``cryptoflow optimize``: parameter search on Optuna with a train/test split in time."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cryptoflow.cli._backtest import _OUT, _STRATEGY_HELP, _outputs, backtest_options, check_inputs
from cryptoflow.cli._common import console, err_console
from cryptoflow.cli._paths import writing
from cryptoflow.errors import ConfigurationError, check_range

if TYPE_CHECKING:
    from backtesting import BacktestRequest, OptimizeResult

__all__ = ["DEFAULT_STORAGE", "Sampler", "WalkForward", "optimize", "short_names"]

DEFAULT_STORAGE = "sqlite:///cryptoflow-studies.db"
"""Where studies are kept unless ``--storage`` says otherwise: a SQLite file in the working folder."""


class WalkForward(StrEnum):
    """Walk-forward windows (see ``backtesting.walk_forward``)."""

    anchored = "anchored"
    rolling = "rolling"


class Sampler(StrEnum):
    """Search methods of the optimiser (see ``backtesting.OptimizeSettings``)."""

    tpe = "tpe"
    nsga2 = "nsga2"
    random = "random"
    grid = "grid"


_TABLE_FORMATS = (".csv", ".parquet")
_WORDS = {
    "weight": "w",
    "threshold": "thr",
    "oversold": "os",
    "overbought": "ob",
    "period": "p",
    "engulfing": "eng",
    "level": "lvl",
    "signal": "sig",
    "fast": "f",
    "slow": "s",
    "floor": "lo",
    "ceiling": "hi",
}
_WHOLE = {
    "stop_loss_pct": "sl%",
    "take_profit_pct": "tp%",
    "trailing_stop_pct": "trail%",
    "max_holding_candles": "hold",
}


def short_names(names: list[str]) -> dict[str, str]:
    """A short, unique column header per parameter name (``weight_rsi`` -> ``w_rsi``); a name that
    would collide with another's short form keeps its full name."""
    shorts: dict[str, str] = {}
    for name in names:
        if name in _WHOLE:
            shorts[name] = _WHOLE[name]
            continue
        words = [w for w in name.split("_") if w and w != "pct"]
        short = "_".join(_WORDS.get(w, w if len(w) <= 4 else w[:4]) for w in words)
        shorts[name] = short + ("%" if name.endswith("_pct") else "")
    taken = list(shorts.values())
    return {name: short if taken.count(short) == 1 else name for name, short in shorts.items()}


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
        return f"{value:,.{digits}f}"
    return str(value)


def _param(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def _results(result: OptimizeResult, strategy: str, top: int) -> Table:
    """The top rows at 80 columns: short parameter names, each loss in sample next to out of sample."""
    params = [c[len("param_") :] for c in result.table.columns if c.startswith("param_")]
    shorts = short_names(params)
    multi = len(result.losses) > 1
    ranked = "Pareto front first (*)" if multi else f"ranked by in-sample {result.metric}"
    table = Table(
        title=f"{escape(strategy)} · {ranked} · study {escape(result.study)}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
    )
    table.add_column("#", justify="right", no_wrap=True)
    for name in params:
        table.add_column(escape(shorts[name]), justify="right", no_wrap=True)
    for spec in result.losses:
        table.add_column(f"{escape(spec.header)}\nIS", justify="right", no_wrap=True)
        table.add_column("\nOOS", justify="right", no_wrap=True)
    table.add_column("trades\nIS/OOS", justify="right", no_wrap=True)
    for _, row in result.table.head(top).iterrows():
        mark = "*" if multi and bool(row.get("pareto")) else ""
        cells = [f"{int(row['trial'])}{mark}"]
        cells += [_param(_value(row[f"param_{name}"])) for name in params]
        for spec in result.losses:
            cells += [_cell(float(row[f"train_{spec.name}"])), _cell(float(row[f"test_{spec.name}"]))]
        cells.append(f"{_cell(float(row['train_n_trades']))}/{_cell(float(row['test_n_trades']))}")
        table.add_row(*cells)
    return table


def _value(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _legend(result: OptimizeResult) -> str:
    params = [c[len("param_") :] for c in result.table.columns if c.startswith("param_")]
    shorts = short_names(params)
    renamed = [f"{short} = {name}" for name, short in shorts.items() if short != name]
    periods = (
        f"IS = in sample {' → '.join(result.train_period)}; "
        f"OOS = out of sample {' → '.join(result.test_period)}"
    )
    return "\n".join([*(["; ".join(renamed)] if renamed else []), periods])


def _write_table(result: OptimizeResult, path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        result.table.to_parquet(path, index=False)
    else:
        result.table.to_csv(path, index=False)


@backtest_options(omit=("slippage_pct", "fraction", "leverage", "close_at_end", "param", "dedupe"))
def optimize(
    request: BacktestRequest,
    data: Annotated[Path, typer.Option("--data", "-d", help="Candle file (CSV or Parquet).")],
    symbol: Annotated[str | None, typer.Option("--symbol", "-s", help="Symbol (default: inferred).")] = None,
    strategy: Annotated[str, typer.Option("--strategy", help=_STRATEGY_HELP)] = "ensemble",
    sampler: Annotated[
        Sampler,
        typer.Option("--sampler", help="grid (every combination), random, tpe or nsga2."),
    ] = Sampler.grid,
    trials: Annotated[
        int, typer.Option("--trials", min=1, help="Trials in all (a grid runs every combination).")
    ] = 50,
    losses: Annotated[
        list[str] | None,
        typer.Option(
            "--loss",
            "--metric",
            help="sharpe, sortino, calmar, profit, profit_drawdown, win_rate, max_drawdown or a statistic; "
            "repeat for a multi-objective search (Pareto front).",
        ),
    ] = None,
    min_trades: Annotated[
        int, typer.Option("--min-trades", min=1, help="Fewer trades make win_rate undefined and warn.")
    ] = 20,
    train: Annotated[
        float, typer.Option("--train", help="Share of candles (in time order) to train on.")
    ] = 0.7,
    space: Annotated[
        list[str] | None,
        typer.Option(
            "--space", help="name=v1,v2,... or name=low..high[:step|:log]; replaces the strategy's."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the sampler.")] = 0,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes (default: every core).")
    ] = None,
    storage: Annotated[
        str,
        typer.Option("--storage", help="Optuna storage: sqlite:///FILE.db, journal:FILE.log or a DB URL."),
    ] = DEFAULT_STORAGE,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name; the same name resumes or joins it.")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Rows of the results table to print.")] = 10,
    out_json: Annotated[Path | None, typer.Option("--json", help=_OUT.format("every trial as JSON"))] = None,
    out_table: Annotated[
        Path | None, typer.Option("--table", help=_OUT.format("every trial as CSV or Parquet (by suffix)"))
    ] = None,
    walk_forward: Annotated[
        WalkForward | None,
        typer.Option("--walk-forward", help="anchored or rolling: a search per fold, tested on the next."),
    ] = None,
    folds: Annotated[int, typer.Option("--folds", min=1, help="Folds of --walk-forward.")] = 5,
) -> None:
    """Search strategy parameters with Optuna (grid, random, TPE, NSGA-II) and a train/test split in time.

    Studies live in --storage: run the same command again to resume one after Ctrl-C, or run it on
    several machines with one --storage and --study to share the trials.
    """
    from backtesting import OptimizeSettings, StudySettings, default_jobs
    from backtesting import optimize as run_optimize

    check_range("--train", train, "a share of the candles from 0.1 to 0.95", 0.1, 0.95, high_open=False)
    if out_table is not None and out_table.suffix.lower() not in _TABLE_FORMATS:
        raise ConfigurationError(f"--table {out_table}: expected a file name ending in .csv or .parquet")
    _outputs(request.data, **{"--json": out_json, "--table": out_table})
    check_inputs(request)
    settings = OptimizeSettings(
        space=_space(space),
        sampler=sampler.value,
        trials=trials,
        losses=tuple(losses or ["sharpe"]),
        train_fraction=train,
        seed=seed,
        preset=request.preset,
        min_trades=min_trades,
    )
    where = StudySettings(storage=storage, name=study, jobs=jobs or default_jobs())
    candles = next(iter(request.load_candles().values()))
    if walk_forward is not None:
        _walk(request, candles, settings, where, walk_forward.value, folds, out_json, out_table)
        return
    with _progress() as progress:
        task = progress.add_task("optimising", total=None, best="")
        try:
            result = run_optimize(
                candles,
                request.strategy,
                settings,
                request.config(),
                start=request.start,
                end=request.end,
                study=where,
                progress=lambda p: progress.update(task, completed=p.done, total=p.total, best=p.best),
            )
        except KeyboardInterrupt:
            progress.stop()
            err_console.print("the study keeps its complete trials: run the same command to resume it")
            raise
    console.print(_results(result, strategy, top))
    console.print(_legend(result), highlight=False)
    console.print(f"best: {json.dumps(result.best_params)}", highlight=False)
    for note in result.warnings():
        err_console.print(f"[bold yellow]warning:[/] {escape(note)}", highlight=False)
    if out_json is not None:
        records = json.loads(result.table.to_json(orient="records"))
        doc = {
            "metric": result.metric,
            "losses": [spec.name for spec in result.losses],
            "study": result.study,
            "train": result.train_period,
            "test": result.test_period,
            "results": records,
        }
        with writing(out_json, "--json"):
            out_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out_json}", highlight=False)
    if out_table is not None:
        with writing(out_table, "--table"):
            _write_table(result, out_table)
        console.print(f"wrote {out_table}", highlight=False)


def _walk(
    request: BacktestRequest,
    candles: Any,
    settings: Any,
    where: Any,
    mode: str,
    folds: int,
    out_json: Path | None,
    out_table: Path | None,
) -> None:
    """``optimize --walk-forward``: a search per fold, the folds table and the stitched statistics."""
    from backtesting import walk_forward

    with _progress() as progress:
        task = progress.add_task("fold 1", total=None, best="")

        def show(fold: int, p: Any) -> None:
            progress.update(
                task, description=f"fold {fold}/{folds}", completed=p.done, total=p.total, best=p.best
            )

        try:
            result = walk_forward(
                candles, request.strategy, settings, request.config(), mode=mode, folds=folds,
                start=request.start, end=request.end, study=where, progress=show,
            )  # fmt: skip
        except KeyboardInterrupt:
            progress.stop()
            err_console.print("the folds' studies keep their complete trials: run the same command to resume")
            raise
    console.print(_folds(result))
    stats = result.stitched
    console.print(
        f"stitched out of sample: return {_cell(float(stats['total_return_pct']))} %, max drawdown "
        f"{_cell(float(stats['max_drawdown_pct']))} %, Sharpe {_cell(float(stats['sharpe']))}, "
        f"{int(stats['n_trades'])} trades; walk-forward efficiency {_cell(result.efficiency)}",
        highlight=False,
    )
    if out_json is not None:
        doc = {
            "mode": mode,
            "folds": json.loads(result.folds.to_json(orient="records")),
            "stitched": stats.to_json(),
            "efficiency": None if not math.isfinite(result.efficiency) else result.efficiency,
        }
        with writing(out_json, "--json"):
            out_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out_json}", highlight=False)
    if out_table is not None:
        with writing(out_table, "--table"):
            if out_table.suffix.lower() == ".parquet":
                result.folds.to_parquet(out_table, index=False)
            else:
                result.folds.to_csv(out_table, index=False)
        console.print(f"wrote {out_table}", highlight=False)


def _folds(result: Any) -> Table:
    """Per fold at 80 columns: the test window's start, the winner's parameters, in and out of sample."""
    spec = result.searches[0].losses[0]
    params = list(json.loads(result.folds["params"].iloc[0])) if not result.folds.empty else []
    shorts = short_names(params)
    table = Table(
        title=f"walk-forward ({result.mode}) · winners by in-sample {escape(spec.name)}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
    )
    table.add_column("fold", justify="right", no_wrap=True)
    table.add_column("test from", no_wrap=True)
    for name in params:
        table.add_column(escape(shorts[name]), justify="right", no_wrap=True)
    table.add_column(f"{escape(spec.header)}\nIS", justify="right", no_wrap=True)
    table.add_column("\nOOS", justify="right", no_wrap=True)
    table.add_column("ret%\nOOS", justify="right", no_wrap=True)
    table.add_column("trades\nOOS", justify="right", no_wrap=True)
    for _, row in result.folds.iterrows():
        values = json.loads(row["params"])
        table.add_row(
            str(row["fold"]),
            str(row["test_start"])[:10],
            *(_param(values[name]) for name in params),
            _cell(float(row[f"train_{spec.name}"])),
            _cell(float(row[f"test_{spec.name}"])),
            _cell(float(row["test_total_return_pct"])),
            _cell(float(row["test_n_trades"])),
        )
    return table


def _space(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    space: dict[str, str] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigurationError(
                f"--space {item}: expected name=v1,v2,... or name=low..high[:step|:log] "
                "(e.g. threshold=1,1.5,2)"
            )
        space[key.strip()] = values.strip()
    return space
