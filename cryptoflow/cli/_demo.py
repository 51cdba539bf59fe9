"""``cryptoflow demo``: the main job on its local default (see :mod:`cryptoflow.demo`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cryptoflow.cli._common import console, err_console, settings
from cryptoflow.cli._paths import output_dir

__all__ = ["demo"]


class _Printed:
    """The demo's story on the terminal (a :class:`cryptoflow.demo.DemoView`)."""

    def stack(self, message: str) -> None:
        err_console.print(f"[dim]stack:[/] {escape(message)}")

    def say(self, line: str, *, one_line: bool = False) -> None:
        console.print(line, highlight=False, soft_wrap=one_line)

    def stopping(self) -> None:
        err_console.print("stopping")

    @contextmanager
    def replaying(self, total: int) -> Iterator[Callable[[int], None]]:
        with Progress(
            TextColumn("[bold]replaying through Kafka"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("replay", total=total)
            yield lambda done: progress.update(task, completed=done)


def demo(
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", min=1.0, help="Seconds to run, then stop by itself (default: until Ctrl-C)."
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port of the dashboard page.")] = 8050,
    exchange_port: Annotated[int, typer.Option("--exchange-port", help="Port of the fake exchange.")] = 9010,
    speed: Annotated[
        float, typer.Option("--speed", help="Candles per second the fake exchange replays.")
    ] = 20.0,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Strategy of the backtest comparison.")
    ] = "basic",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report, state and logs.")] = Path(
        "out/demo"
    ),
) -> None:
    """Run cryptoflow on its local default: real stack, fake exchange, live indicators and paper trading for
    several symbols, sink, dashboard page, and a backtest of the same candles for comparison."""
    from cryptoflow.demo import DemoOptions, run_demo

    config = settings()
    output_dir(out_dir, "--out")
    options = DemoOptions(duration, port, exchange_port, speed, strategy, out_dir)
    run_demo(config, options, _Printed())
