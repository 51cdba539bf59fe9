"""``cryptoflow execute --bot`` and ``cryptoflow status --bot``: a bot's executor, and what it holds."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from cryptoflow.cli._common import console, settings, stop_requests, stopped_by
from cryptoflow.cli._paths import output_dir
from cryptoflow.errors import ConfigurationError

__all__ = ["execute", "status"]

_BOT_HELP = (
    "The bot file (TOML): strategies followed, broker, capital, protections (docker/bot.example.toml)."
)
_STATE_HELP = "Where the executor keeps its state (the book, the signals handled) and its broker's."


def execute(
    bot: Annotated[Path, typer.Option("--bot", help=_BOT_HELP)],
    live: Annotated[bool, typer.Option("--live", help="Confirms a live bot: real money.")] = False,
    state_dir: Annotated[Path, typer.Option("--state-dir", help=_STATE_HELP)] = Path("state"),
    group: Annotated[
        str | None, typer.Option("--group", help="Consumer group (default <prefix>.execute.<bot name>).")
    ] = None,
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning",
            help="A new group reads the signals topic from its start (default: signals from now on).",
        ),
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Trade what is in the signals topic, then exit.")
    ] = False,
    gather_ms: Annotated[
        float,
        typer.Option(
            "--gather-ms",
            help="How long a candle's signals are gathered from all partitions before they are decided.",
        ),
    ] = 50.0,
) -> None:
    """Trade the signals of the strategies a bot follows: signals topic -> portfolio rules -> broker.

    One member of the consumer group <prefix>.execute.<bot name>. Every order, fill, lock, skip and
    position change is logged at INFO, one line each; trade, lock and error events go to the trades
    topic; a signal the bot cannot trade (a followed run id under another strategy, a symbol it does not
    trade) goes to the dead-letter topic with its reason. SIGTERM finishes the signal in hand, commits,
    prints a summary and exits 0 (Ctrl-C: 130).
    """
    from auto_trade import ExecuteOptions, ExecuteWorker, bot_broker
    from cryptoflow.cli._live import _emitter
    from cryptoflow.portfolio import check_broker, load_bot

    chosen = load_bot(bot)
    config = settings()
    check_broker(chosen, live_flag=live, settings=config)
    output_dir(state_dir, "--state-dir")
    if not 0 <= gather_ms <= 60_000:
        raise ConfigurationError(f"--gather-ms expects 0 to 60000 milliseconds, got {gather_ms:g}")
    # the broker reports the positions the exchange closes to the executor (testnet, live)
    broker = bot_broker(chosen, state_dir, config, lambda trade: worker.executor.on_exchange_close(trade))
    options = ExecuteOptions(
        state_dir, group=group, from_beginning=from_beginning, once=once, gather_s=gather_ms / 1000
    )
    followed = ", ".join(s.describe() for s in chosen.strategies)
    console.print(
        f"bot {chosen.name} ({chosen.broker}): {', '.join(chosen.symbols)} {chosen.interval}, "
        f"following {followed}",
        highlight=False,
    )
    with _emitter(True, config.kafka, ("signals", "trades")) as (emit, flush):
        worker = ExecuteWorker(chosen, config.kafka, broker, emit, flush, options)
        with stop_requests(
            worker.stop, "stopping: finishing the signal in hand and committing (again to abort)"
        ):
            summary = asyncio.run(worker.run())
    for line in summary.lines():
        console.print(line, highlight=False)
    if stopped_by() == signal.SIGINT:
        raise typer.Exit(130)


def status(
    bot: Annotated[Path, typer.Option("--bot", help=_BOT_HELP)],
    state_dir: Annotated[Path, typer.Option("--state-dir", help=_STATE_HELP)] = Path("state"),
) -> None:
    """Show a bot's open positions, today's PnL and the protections locking entries now, from its
    executor's state (like freqtrade's /status and /profit)."""
    from rich.table import Table

    from auto_trade import bot_status, executor_state_path
    from cryptoflow.events import iso_ms
    from cryptoflow.portfolio import load_bot

    chosen = load_bot(bot)
    now = int(time.time() * 1000)
    state = bot_status(chosen, executor_state_path(state_dir, chosen), now)
    console.print(
        f"bot {chosen.name} ({chosen.broker}) at {iso_ms(now)}: equity {state.equity:.2f} "
        f"(capital {chosen.capital.total:.2f}), {len(state.open_positions)} open position(s)",
        highlight=False,
    )
    positions = Table(
        "symbol", "side", "quantity", "entry price", "entered", "strategy", title="open positions"
    )
    for holding in state.open_positions:
        p = holding.position
        owner = chosen.strategy(holding.run_id).describe()
        positions.add_row(
            p.symbol, holding.side, f"{p.quantity:g}", f"{p.entry_price:g}", iso_ms(p.entry_time), owner
        )
    console.print(positions)
    profit = Table("strategy", "trades today", "PnL today", "trades", "PnL", title="profit")
    today, total = state.pnl_by_run(state.today), state.pnl_by_run(state.trades)
    for followed in chosen.strategies:
        run = followed.run_id
        count_today = sum(1 for t in state.today if t.run_id == run)
        count = sum(1 for t in state.trades if t.run_id == run)
        profit.add_row(
            followed.describe(), str(count_today), f"{today[run]:+.2f}", str(count), f"{total[run]:+.2f}"
        )
    profit.add_row(
        "all",
        str(len(state.today)),
        f"{state.today_pnl:+.2f}",
        str(len(state.trades)),
        f"{state.total_pnl:+.2f}",
    )
    console.print(profit)
    if state.locks:
        for lock in state.locks:
            console.print(f"LOCK {lock.describe()}", highlight=False)
    else:
        console.print("no protection locks entries now", highlight=False)
