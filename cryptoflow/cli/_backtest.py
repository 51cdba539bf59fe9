"""``cryptoflow backtest`` (also ``python -m backtesting``) and the backtest options other commands share."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cryptoflow.cli._common import console, err_console
from cryptoflow.cli._paths import input_file, output_file, writing
from cryptoflow.errors import ConfigurationError

if TYPE_CHECKING:
    from backtesting import BacktestRequest

__all__ = ["Fill", "OnGap", "backtest", "backtest_options", "check_inputs", "params"]


class Fill(StrEnum):
    """Fill models (see ``backtesting`` docs)."""

    close = "close"
    intrabar = "intrabar"


class OnGap(StrEnum):
    """What loading does with gaps in the candle grid (see ``load_candles``)."""

    warn = "warn"
    fail = "fail"
    fill = "fill"


def params(items: list[str] | None) -> dict[str, str]:
    """``--param name=value`` options as a mapping."""
    parsed: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--param expects name=value (e.g. rsi_oversold=20), got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


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
_ON_GAP = Annotated[OnGap, typer.Option("--on-gap", help="Gaps in the candle grid: warn, fail or fill.")]
_OUT = "Write {} here."


def _request(
    data: Annotated[
        list[Path], typer.Option("--data", "-d", help="Candle file (CSV/Parquet); repeat per symbol.")
    ],
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", "-s", help="Symbol of each --data file.")
    ] = None,
    interval: _INTERVAL = None,
    strategy: Annotated[str, typer.Option("--strategy", help=_STRATEGY_HELP)] = "custom",
    preset: _PRESET = None,
    fill: _FILL = Fill.intrabar,
    start: _START = None,
    end: _END = None,
    cash: Annotated[float, typer.Option("--cash", help="Starting equity in quote currency.")] = 10_000.0,
    fee_pct: Annotated[
        float, typer.Option("--fee-pct", help="Taker fee per side, percent of notional.")
    ] = 0.04,
    slippage_pct: Annotated[
        float, typer.Option("--slippage-pct", help="Adverse move per fill, percent.")
    ] = 0.0,
    fraction: Annotated[
        float, typer.Option("--fraction", help="Share of equity per position (1 = all-in).")
    ] = 1.0,
    leverage: Annotated[float, typer.Option("--leverage", help="Leverage on top of --fraction.")] = 1.0,
    close_at_end: Annotated[
        bool, typer.Option("--close-at-end", help="Close an open position at the end.")
    ] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Strategy parameter name=value; repeatable.")
    ] = None,
    on_gap: _ON_GAP = OnGap.warn,
    dedupe: Annotated[
        bool, typer.Option("--dedupe", help="Drop duplicate candles instead of refusing the file.")
    ] = False,
) -> BacktestRequest:
    """The options of a backtest, as the request they describe (``data`` and ``symbol`` may be declared
    by the command as one file and one symbol)."""
    from backtesting import BacktestRequest

    return BacktestRequest(
        data=tuple(data) if isinstance(data, list) else (data,),
        symbols=tuple(symbol) if isinstance(symbol, list) else ((symbol,) if symbol else ()),
        interval=interval,
        strategy=strategy,
        params=params(param),
        preset=preset,
        fill=fill.value,
        start=start,
        end=end,
        cash=cash,
        fee_pct=fee_pct,
        slippage_pct=slippage_pct,
        fraction=fraction,
        leverage=leverage,
        close_at_end=close_at_end,
        on_gap=on_gap.value,
        dedupe=dedupe,
    )


def backtest_options(*, omit: tuple[str, ...] = ()) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options of a backtest (``--data``, ``--strategy``, ``--fee-pct`` ...) but those
    in ``omit`` (left at their defaults): typer sees them before the command's own options, and the command
    receives them as its first argument, the checked :class:`~backtesting.BacktestRequest`. A command that
    declares an option of the same name (another default, one ``--data`` file) replaces it in place.
    ``backtest`` and ``replay`` take exactly the same options."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        # the request's type is imported lazily (it loads pandas); typer needs only the options' types
        lazy = {"BacktestRequest": Any}
        hints = {
            **get_type_hints(_request, localns=lazy, include_extras=True),
            **get_type_hints(command, localns=lazy, include_extras=True),
        }
        declared = list(inspect.signature(command).parameters)[1:]  # after the request
        own = dict(list(inspect.signature(command).parameters.items())[1:])
        shared = [name for name in inspect.signature(_request).parameters if name not in omit]
        parameters = [
            own.pop(name) if name in own else inspect.signature(_request).parameters[name] for name in shared
        ] + list(own.values())

        @functools.wraps(command)
        def parsed(**options: Any) -> None:
            request = _request(**{name: options[name] for name in shared})
            command(request, **{name: options[name] for name in declared})

        parameters = [p.replace(annotation=hints[p.name]) for p in parameters]
        # inspect.signature (and so typer) reads __signature__, an attribute no function type declares
        parsed.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        parsed.__annotations__ = {p.name: p.annotation for p in parameters}
        return parsed

    return decorate


def check_inputs(request: BacktestRequest) -> None:
    """Every ``--data`` file exists and is readable (the message names the option)."""
    for path in request.data:
        input_file(path, "--data")


def _outputs(data: tuple[Path, ...], **options: Path | None) -> None:
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


@backtest_options()
def backtest(
    request: BacktestRequest,
    report: Annotated[Path | None, typer.Option("--report", help=_OUT.format("an HTML report"))] = None,
    trades_json: Annotated[
        Path | None, typer.Option("--trades-json", help=_OUT.format("trades+stats JSON"))
    ] = None,
    trades_csv: Annotated[Path | None, typer.Option("--trades-csv", help=_OUT.format("trades CSV"))] = None,
    bot: Annotated[
        Path | None,
        typer.Option(
            "--bot",
            help="Backtest a bot file (its strategies, symbols, capital and protections) as its executor "
            "trades: one --data file per symbol of the bot; its strategies decide on closes (--fill "
            "does not apply).",
        ),
    ] = None,
    exchange_protection: Annotated[
        bool | None,
        typer.Option(
            "--exchange-protection/--no-exchange-protection",
            help="With --bot: stop-loss/take-profit orders on the exchange, triggered inside candles "
            "(default: on for a testnet or live bot).",
        ),
    ] = None,
) -> None:
    """Backtest a strategy on historical candles and print its statistics.

    Reproduce the original 2023 scripts with --preset seed --fill close. With --bot, backtest a bot's
    strategies together, with one capital, the executor's conflict rule and the bot's protections.
    """
    from backtesting import run_backtest

    _outputs(request.data, **{"--report": report, "--trades-json": trades_json, "--trades-csv": trades_csv})
    if bot is not None:
        _backtest_bot(request, bot, exchange_protection, report, trades_json, trades_csv)
        return
    if exchange_protection is not None:
        raise ConfigurationError("--exchange-protection applies to a bot's backtest; add --bot bot.toml")
    instance = request.load_strategy()
    check_inputs(request)
    with _progress() as progress:
        task = progress.add_task("loading candles", total=len(request.data) * 2 + (1 if report else 0))
        frames = request.load_candles()
        progress.update(task, advance=len(request.data), description="backtesting")
        result = run_backtest(
            frames,
            instance,
            request.config(),
            start=request.start,
            end=request.end,
            preset=request.preset,
            progress=lambda name: progress.update(task, advance=1, description=f"backtested {name}"),
        )
        _draw_report(progress, task, "write_report", result, report)
    console.print(_summary(result))
    _write_trades(result, trades_json, trades_csv, report)


def _draw_report(progress: Progress, task: TaskID, writer: str, result: Any, report: Path | None) -> None:
    """Draw the ``--report`` (when asked for) with ``backtesting``'s ``writer`` as the last step of the
    progress bar. The writer is imported only then: plotly loads only when a report is asked for."""
    if report is None:
        return
    import backtesting

    progress.update(task, description="drawing the report")
    with writing(report, "--report"):
        getattr(backtesting, writer)(result, report)
    progress.update(task, advance=1)


def _write_trades(
    result: Any, trades_json: Path | None, trades_csv: Path | None, report: Path | None
) -> None:
    """Write the trades files asked for and say what was written (the report was written already)."""
    from backtesting import write_trades_csv, write_trades_json

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


_BOT_SETS = {  # options a bot file replaces, with their defaults
    "--strategy": ("strategy", "custom"),
    "--param": ("params", {}),
    "--cash": ("cash", 10_000.0),
    "--fraction": ("fraction", 1.0),
    "--leverage": ("leverage", 1.0),
    "--preset": ("preset", None),
    "--close-at-end": ("close_at_end", False),
}


def _bot_summary(result: Any) -> list[Table]:
    from backtesting import STAT_LABELS

    bot = result.bot
    protection = "exchange-side stop/take-profit" if result.exchange_protection else "no exchange-side orders"
    title = (
        f"bot {escape(bot.name)} · {bot.broker} · {len(bot.strategies)} strategies × {len(bot.symbols)} "
        f"symbols · {protection}"
    )
    stats = Table("statistic", "value", title=title, title_justify="left")
    for key, label in STAT_LABELS.items():
        stats.add_row(escape(label), _fmt(result.stats.values.get(key)))
    for position in result.open_positions:
        stats.add_row(
            f"open {position['side']} {position['symbol']} ({escape(position['run_id'])})",
            f"since {position['entry_time']} @ {position['entry_price']:,.4f} "
            f"(unrealised {position['unrealized_pnl']:,.2f})",
        )
    tables = [stats]
    labels = {s.run_id: s.describe() for s in bot.strategies}
    for by, heading in (("run_id", "strategy"), ("symbol", "symbol")):
        table = Table(
            heading, "trades", "pnl", "fees", "win rate [%]", title=f"by {heading}", title_justify="left"
        )
        for row in result.breakdown(by).itertuples():
            name = str(row.Index)
            table.add_row(
                escape(labels.get(name, name)),
                str(row.trades),
                _fmt(row.pnl),
                _fmt(row.fees),
                _fmt(row.win_rate_pct),
            )
        tables.append(table)
    skips = Table("skipped because", "signals", title="skipped signals", title_justify="left")
    for code, count in result.skips.items():
        skips.add_row(code, str(count))
    by_protection = result.locks.groupby("protection")["blocked"].agg(["size", "sum"])
    for name, row in by_protection.iterrows():
        skips.add_row(f"  locked by {name}", f"{row['sum']} ({row['size']} locks)")
    tables.append(skips)
    return tables


def _backtest_bot(
    request: BacktestRequest,
    path: Path,
    exchange_protection: bool | None,
    report: Path | None,
    trades_json: Path | None,
    trades_csv: Path | None,
) -> None:
    """``backtest --bot``: the bot's portfolio backtest on the --data files."""
    from backtesting import run_portfolio_backtest
    from cryptoflow.portfolio import load_bot

    for option, (name, default) in _BOT_SETS.items():
        if getattr(request, name) != default:
            raise ConfigurationError(
                f"{option}: the bot file {str(path)!r} sets the strategies, their parameters and the "
                f"capital; drop {option} (or edit the bot file)"
            )
    loaded = load_bot(path)
    check_inputs(request)
    with _progress() as progress:
        total = len(request.data) + len(loaded.strategies) * len(loaded.symbols) + (1 if report else 0)
        task = progress.add_task("loading candles", total=total)
        frames = request.load_candles()
        extra = sorted(set(frames) - set(loaded.symbols))
        if extra:
            raise ConfigurationError(
                f"--data: {', '.join(extra)} is not among the symbols of {loaded.source} "
                f"({', '.join(loaded.symbols)}); drop that file or add the symbol to the bot"
            )
        progress.update(task, advance=len(request.data), description="signals")
        config = request.config()
        result = run_portfolio_backtest(
            loaded,
            frames,
            fee_rate=config.fee_rate,
            slippage_rate=config.slippage_rate,
            exchange_protection=exchange_protection,
            start=request.start,
            end=request.end,
            progress=lambda name: progress.update(task, advance=1, description=f"signals of {name}"),
        )
        _draw_report(progress, task, "write_portfolio_report", result, report)
    for table in _bot_summary(result):
        console.print(table)
    _write_trades(result, trades_json, trades_csv, report)
