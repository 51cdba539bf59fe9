"""``cryptoflow backtest`` and ``cryptoflow optimize`` (also ``python -m backtesting``)."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cryptoflow.cli._common import console, err_console
from cryptoflow.cli._paths import input_file, output_file, writing
from cryptoflow.errors import ConfigurationError

__all__ = ["backtest", "optimize"]


class Fill(StrEnum):
    """Fill models (see ``backtesting`` docs)."""

    close = "close"
    intrabar = "intrabar"


class OnGap(StrEnum):
    """What loading does with gaps in the candle grid (see ``load_candles``)."""

    warn = "warn"
    fail = "fail"
    fill = "fill"


class Method(StrEnum):
    """Search methods of the optimiser."""

    grid = "grid"
    random = "random"


def _params(items: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--param expects name=value (e.g. rsi_oversold=20), got {item!r}")
        params[key.strip()] = value.strip()
    return params


def _space(items: list[str] | None) -> dict[str, list[Any]] | None:
    if not items:
        return None
    space: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values.strip():
            raise ConfigurationError(f"--space expects name=v1,v2,... (e.g. threshold=1,1.5,2), got {item!r}")
        space[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
    return space


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _load(
    data: list[Path], symbols: list[str] | None, interval: str | None, on_gap: OnGap, dedupe: bool
) -> dict[str, Any]:
    from cryptoflow.candles import load_candles

    if symbols and len(symbols) not in (1, len(data)):
        raise ConfigurationError(
            f"give one --symbol per --data file ({len(data)} files, {len(symbols)} given)"
        )
    for path in data:
        input_file(path, "--data")
    frames = {}
    for k, path in enumerate(data):
        symbol = symbols[k] if symbols and len(symbols) == len(data) else (symbols[0] if symbols else None)
        candles = load_candles(path, symbol=symbol, interval=interval, on_gap=on_gap.value, dedupe=dedupe)
        name = str(candles.attrs.get("symbol") or symbol or path.stem)
        if name in frames:
            raise ConfigurationError(f"symbol {name} given twice; pass --symbol for each --data file")
        frames[name] = candles
    return frames


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞"
        return f"{value:,.2f}"
    return str(value)


def _summary(result: Any) -> Table:
    from backtesting import STAT_LABELS

    title = f"{escape(result.strategy.describe())} · fill {result.config.fill} · preset {result.preset}"
    table = Table("statistic", "value", title=title, title_justify="left")
    for key, label in STAT_LABELS.items():
        table.add_row(escape(label), _fmt(result.stats.values.get(key)))
    for position in result.open_positions:
        table.add_row(
            f"open {position['side']} {position['symbol']}",
            f"since {position['entry_time']} @ {position['entry_price']:,.4f} "
            f"(unrealised {position['unrealized_pnl']:,.2f})",
        )
    return table


_DATA = Annotated[
    list[Path], typer.Option("--data", "-d", help="Candle file (CSV/Parquet); repeat per symbol.")
]
_SYMBOL = Annotated[list[str] | None, typer.Option("--symbol", "-s", help="Symbol of each --data file.")]
_INTERVAL = Annotated[str | None, typer.Option("--interval", "-i", help="Candle interval, e.g. 5m or 1h.")]
_STRATEGY_HELP = "basic, custom, ensemble or path/to/file.py[:Class]."
_PRESET = Annotated[str | None, typer.Option("--preset", help="Indicator preset ta or seed (default: ta).")]
_FILL = Annotated[
    Fill, typer.Option("--fill", help="close (original scripts) or intrabar (high/low, next open).")
]
_START = Annotated[str | None, typer.Option("--start", help="First candle open time, inclusive (UTC).")]
_END = Annotated[
    str | None, typer.Option("--end", help="Last candle open time, inclusive; a bare date = whole day.")
]
_CASH = Annotated[float, typer.Option("--cash", help="Starting equity in quote currency.")]
_FEE = Annotated[float, typer.Option("--fee-pct", help="Taker fee per side, percent of notional.")]
_SLIP = Annotated[float, typer.Option("--slippage-pct", help="Adverse move per fill, percent.")]
_FRACTION = Annotated[float, typer.Option("--fraction", help="Share of equity per position (1 = all-in).")]
_LEVERAGE = Annotated[float, typer.Option("--leverage", help="Leverage on top of --fraction.")]
_PARAM = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Strategy parameter name=value; repeatable.")
]
_ON_GAP = Annotated[OnGap, typer.Option("--on-gap", help="Gaps in the candle grid: warn, fail or fill.")]
_DEDUPE = Annotated[
    bool, typer.Option("--dedupe", help="Drop duplicate candles instead of refusing the file.")
]
_OUT = "Write {} here."


def _in_range(
    option: str,
    value: float,
    expected: str,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> None:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        raise ConfigurationError(f"{option} {value:g}: expected {expected}")


def _check_times(start: str | None, end: str | None) -> None:
    import pandas as pd

    for option, value in (("--start", start), ("--end", end)):
        if value is None:
            continue
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"{option} {value!r}: not a date/time; e.g. 2022-01-01 or 2022-01-01T12:00 (UTC)"
            ) from None


def _outputs(data: list[Path], **options: Path | None) -> None:
    """Check every output path before the work starts (see :mod:`cryptoflow.cli._paths`)."""
    seen: dict[str, str] = {}
    for option, path in options.items():
        if path is None:
            continue
        key = str(Path(path).resolve())
        if key in seen:
            raise ConfigurationError(
                f"{seen[key]} and {option} are both {path}: give each output its own file"
            )
        seen[key] = option
        output_file(path, option, inputs=data)


def _config(
    cash: float,
    fill: Fill,
    fee_pct: float,
    slippage_pct: float,
    fraction: float,
    leverage: float,
    close_at_end: bool = False,
) -> Any:
    from backtesting import BacktestConfig

    # Checked here, in the user's terms (the engine's own message speaks of fee_rate=-0.01 for -1 %).
    _in_range("--cash", cash, "a positive amount of quote currency", 0, low_open=True)
    _in_range("--fee-pct", fee_pct, "a percentage from 0 to below 10 (0.04 = Binance's taker fee)", 0, 10)
    _in_range("--slippage-pct", slippage_pct, "a percentage from 0 to below 10", 0, 10)
    _in_range(
        "--fraction",
        fraction,
        "a share of the equity above 0 and at most 1",
        0,
        1,
        low_open=True,
        high_open=False,
    )
    _in_range("--leverage", leverage, "from 1 to 125", 1, 125, high_open=False)
    return BacktestConfig(
        cash=cash,
        fill=fill.value,
        fee_rate=fee_pct / 100.0,
        slippage_rate=slippage_pct / 100.0,
        fraction=fraction,
        leverage=leverage,
        close_at_end=close_at_end,
    )


def backtest(
    data: _DATA,
    symbol: _SYMBOL = None,
    interval: _INTERVAL = None,
    strategy: Annotated[str, typer.Option("--strategy", help=_STRATEGY_HELP)] = "custom",
    preset: _PRESET = None,
    fill: _FILL = Fill.intrabar,
    start: _START = None,
    end: _END = None,
    cash: _CASH = 10_000.0,
    fee_pct: _FEE = 0.04,
    slippage_pct: _SLIP = 0.0,
    fraction: _FRACTION = 1.0,
    leverage: _LEVERAGE = 1.0,
    close_at_end: Annotated[
        bool, typer.Option("--close-at-end", help="Close an open position at the end.")
    ] = False,
    param: _PARAM = None,
    report: Annotated[Path | None, typer.Option("--report", help=_OUT.format("an HTML report"))] = None,
    trades_json: Annotated[
        Path | None, typer.Option("--trades-json", help=_OUT.format("trades+stats JSON"))
    ] = None,
    trades_csv: Annotated[Path | None, typer.Option("--trades-csv", help=_OUT.format("trades CSV"))] = None,
    on_gap: _ON_GAP = OnGap.warn,
    dedupe: _DEDUPE = False,
) -> None:
    """Backtest a strategy on historical candles and print its statistics.

    Reproduce the original 2023 scripts with --preset seed --fill close.
    """
    from backtesting import run_backtest, write_report, write_trades_csv, write_trades_json
    from cryptoflow.strategies import load_strategy

    if preset is not None and preset not in ("ta", "seed"):
        raise ConfigurationError(f"--preset must be ta or seed, got {preset!r}")
    config = _config(cash, fill, fee_pct, slippage_pct, fraction, leverage, close_at_end)
    _check_times(start, end)
    _outputs(data, **{"--report": report, "--trades-json": trades_json, "--trades-csv": trades_csv})
    instance = load_strategy(strategy, **_params(param))
    with _progress() as progress:
        task = progress.add_task("loading candles", total=len(data) * 2 + (1 if report else 0))
        frames = _load(data, symbol, interval, on_gap, dedupe)
        progress.update(task, advance=len(data), description="backtesting")
        result = run_backtest(
            frames,
            instance,
            config,
            start=start,
            end=end,
            preset=preset,
            progress=lambda name: progress.update(task, advance=1, description=f"backtested {name}"),
        )
        if report:
            progress.update(task, description="drawing the report")
            with writing(report, "--report"):
                write_report(result, report)
            progress.update(task, advance=1)
    console.print(_summary(result))
    written = (
        ("--trades-json", trades_json, write_trades_json),
        ("--trades-csv", trades_csv, write_trades_csv),
        ("--report", report, None),
    )
    for option, path, writer in written:
        if path is not None:
            if writer is not None:
                with writing(path, option):
                    writer(result, path)
            console.print(f"wrote {path}", highlight=False)


def optimize(
    data: Annotated[Path, typer.Option("--data", "-d", help="Candle file (CSV or Parquet).")],
    symbol: Annotated[str | None, typer.Option("--symbol", "-s", help="Symbol (default: inferred).")] = None,
    interval: _INTERVAL = None,
    strategy: Annotated[str, typer.Option("--strategy", help=_STRATEGY_HELP)] = "ensemble",
    preset: _PRESET = None,
    fill: _FILL = Fill.intrabar,
    start: _START = None,
    end: _END = None,
    cash: _CASH = 10_000.0,
    fee_pct: _FEE = 0.04,
    method: Annotated[
        Method, typer.Option("--method", help="grid (all combinations) or random.")
    ] = Method.grid,
    trials: Annotated[
        int, typer.Option("--trials", min=1, help="Combinations tried by --method random.")
    ] = 50,
    metric: Annotated[
        str, typer.Option("--metric", help="Statistic maximised on the training part.")
    ] = "sharpe",
    train: Annotated[
        float, typer.Option("--train", help="Share of candles (in time order) to train on.")
    ] = 0.7,
    space: Annotated[
        list[str] | None, typer.Option("--space", help="name=v1,v2,... replaces a range.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed for --method random.")] = 0,
    top: Annotated[int, typer.Option("--top", min=0, help="Rows of the results table to print.")] = 10,
    out_json: Annotated[
        Path | None, typer.Option("--json", help=_OUT.format("every combination as JSON"))
    ] = None,
    on_gap: _ON_GAP = OnGap.warn,
) -> None:
    """Search strategy parameters (grid or random) with a train/test split in time."""
    from backtesting import STAT_LABELS
    from backtesting._optimize import OptimizeSettings
    from backtesting._optimize import optimize as run_optimize

    if metric not in STAT_LABELS:
        raise ConfigurationError(
            f"--metric {metric}: unknown statistic; choose one of {', '.join(STAT_LABELS)}"
        )
    if not 0.1 <= train <= 0.95:
        raise ConfigurationError(f"--train {train:g}: expected a share of the candles from 0.1 to 0.95")
    config = _config(cash, fill, fee_pct, 0.0, 1.0, 1.0)
    _check_times(start, end)
    _outputs([data], **{"--json": out_json})
    candles = next(iter(_load([data], [symbol] if symbol else None, interval, on_gap, False).values()))
    settings = OptimizeSettings(
        space=_space(space),
        method=method.value,
        trials=trials,
        metric=metric,
        train_fraction=train,
        seed=seed,
        preset=preset,
    )
    with _progress() as progress:
        task = progress.add_task("optimising", total=None)
        result = run_optimize(
            candles,
            strategy,
            settings,
            config,
            start=start,
            end=end,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    table = Table(
        *result.table.columns,
        title=f"{strategy}: ranked by train {metric} · train {' → '.join(result.train_period)}"
        f" · test {' → '.join(result.test_period)}",
        title_justify="left",
    )
    for row in result.table.head(top).itertuples(index=False):
        table.add_row(*(_fmt(float(v)) if isinstance(v, int | float) else str(v) for v in row))
    console.print(table)
    console.print(f"best: {json.dumps(result.best_params)}", highlight=False)
    if out_json is not None:
        records = json.loads(result.table.to_json(orient="records"))
        doc = {"metric": metric, "train": result.train_period, "test": result.test_period, "results": records}
        with writing(out_json, "--json"):
            out_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {out_json}", highlight=False)
