"""``cryptoflow signals``: a strategy worker (closed candles -> K strategies -> signal events)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cryptoflow.cli._common import console
from cryptoflow.cli._paths import output_dir
from cryptoflow.errors import ConfigurationError

if TYPE_CHECKING:
    from auto_trade import StrategyRun


def strategy_runs(specs: list[str], items: list[str]) -> list[StrategyRun]:
    """The strategy runs of ``--strategy NAME[@RUN_ID]`` and ``--param [RUN_ID.]name=value`` options.

    NAME is what ``--strategy`` takes everywhere (a built-in name, ``file.py[:Class]`` or
    ``package.module:Class``); RUN_ID defaults to the strategy's name. A parameter names its run
    (``sig-basic.stop_loss_pct=2``); with a single strategy the run may be left out.
    """
    from auto_trade import StrategyRun
    from cryptoflow.strategies import load_strategy, strategy_class

    if not specs:
        raise ConfigurationError("give at least one --strategy NAME[@RUN_ID] (or --bot FILE)")
    named: dict[str, str] = {}
    for spec in specs:
        name, at, run_id = spec.rpartition("@") if "@" in spec else (spec, "", "")
        if at and not run_id.strip():
            raise ConfigurationError(f"--strategy {spec!r}: the run id after '@' is empty")
        run_id = run_id.strip() or strategy_class(name.strip()).name
        if run_id in named:
            raise ConfigurationError(
                f"--strategy {spec!r}: run id {run_id!r} is taken by --strategy {named[run_id]!r}; "
                f"give each strategy its own: --strategy {name.strip()}@ANOTHER_RUN_ID"
            )
        named[run_id] = name.strip()
    params: dict[str, dict[str, str]] = {run_id: {} for run_id in named}
    for item in items:
        left, sep, value = item.partition("=")
        run_id, dot, key = left.strip().rpartition(".")
        if not sep or not key:
            raise ConfigurationError(
                f"--param expects RUN_ID.name=value (e.g. {next(iter(named))}.stop_loss_pct=2), got {item!r}"
            )
        if not dot and len(named) == 1:
            run_id = next(iter(named))
        if run_id not in params:
            known = ", ".join(named)
            raise ConfigurationError(
                f"--param {item!r}: "
                + (f"no --strategy has run id {run_id!r}" if dot else "say which strategy it is for")
                + f"; write RUN_ID.{key}={value.strip()} with RUN_ID one of: {known}"
            )
        params[run_id][key] = value.strip()
    runs = []
    for run_id, spec in named.items():
        try:
            runs.append(StrategyRun(run_id, load_strategy(spec, **params[run_id])))
        except ConfigurationError as exc:
            raise ConfigurationError(f"--strategy {spec!r} (run {run_id}): {exc}") from None
    return runs


def _bot_runs(path: Path) -> tuple[list[StrategyRun], list[str], str]:
    """The strategies, symbols and interval of a bot file's ``[[strategies]]``."""
    from auto_trade import StrategyRun
    from cryptoflow.portfolio import load_bot

    bot = load_bot(path)
    return [StrategyRun(f.run_id, f.load()) for f in bot.strategies], bot.symbols, bot.interval


def signals(
    strategy: list[str] | None = typer.Option(  # noqa: B008
        None,
        "--strategy",
        "-s",
        help="NAME or NAME@RUN_ID, repeatable. NAME: a built-in name, file.py:Class or module:Class; "
        "RUN_ID (default: the strategy's name) names its signals and state.",
    ),
    param: list[str] | None = typer.Option(  # noqa: B008
        None, "--param", "-p", help="RUN_ID.name=value, repeatable (name=value with one strategy)."
    ),
    bot: Path | None = typer.Option(  # noqa: B008
        None,
        "--bot",
        help="Run the strategies tables of this bot file (strategy, run_id, params) on its symbols "
        "and interval, instead of --strategy/--param/--symbols/--interval.",
    ),
    symbols: str = typer.Option("ETHUSDT", "--symbols", help="Symbols, comma-separated."),
    interval: str = typer.Option("5m", "--interval", help="Candle interval."),
    state_dir: Path = typer.Option(  # noqa: B008
        Path("state"), "--state-dir", help="The strategies' virtual positions; shared by the group."
    ),
    candles_run_id: str = typer.Option(
        "realtime", "--candles-run-id", help="Decide on the candles of this `cryptoflow indicators` run."
    ),
    candles_preset: str = typer.Option(
        "ta",
        "--candles-preset",
        help="The --preset that indicators run uses: strategies with that preset and default periods "
        "use the candles' indicators, the others compute their own. 'none': all compute their own.",
    ),
    group: str | None = typer.Option(
        None, "--group", help="Consumer group (default <prefix>.signals.<run ids sorted, joined by +>)."
    ),
    warmup: int = typer.Option(
        300, "--warmup", help="REST candles warming up the indicators a strategy computes itself."
    ),
) -> None:
    """Strategy worker: closed candles from the candles topic -> strategies -> signal events.

    Each strategy trades a virtual position of its own (entry at the close, the backtester's exits)
    and publishes its entries and exits on the signals topic: exactly its `close`-model backtest.
    Start several workers with the same strategies and they share the symbols (a consumer group),
    keeping the positions in --state-dir, which they must share.

    Example: cryptoflow signals -s basic@sig-basic -s custom@sig-custom -p sig-basic.stop_loss_pct=2
    """
    from auto_trade import SignalOptions, SignalWorker
    from cryptoflow.cli._common import settings
    from cryptoflow.cli._live import _emitter, _endpoints, _live_interval, _symbols
    from cryptoflow.indicators import resolve_params

    if bot is not None:
        if strategy or param:
            raise ConfigurationError(
                "--bot names the strategies and their parameters: drop --strategy/--param"
            )
        runs, universe, interval = _bot_runs(bot)
    else:
        runs, universe = strategy_runs(strategy or [], param or []), _symbols(symbols)
    _live_interval(interval)
    if warmup < 0:
        raise ConfigurationError(f"--warmup must be >= 0, got {warmup}")
    candles = None if candles_preset.strip().lower() == "none" else resolve_params(candles_preset)
    config = settings()
    output_dir(state_dir, "--state-dir")
    options = SignalOptions(
        universe,
        interval,
        state_dir,
        candles_run_id=candles_run_id,
        candles_indicators=candles,
        group=group,
        warmup_candles=warmup,
    )
    for run in runs:
        console.print(f"signals of {run.describe()} on {', '.join(universe)} {interval}", highlight=False)
    with _emitter(True, config.kafka, ("signals",)) as (emit, flush):
        worker = SignalWorker(
            options, config.kafka, runs, emit, flush=flush, endpoints=_endpoints(config.binance, False)
        )
        asyncio.run(worker.run())
