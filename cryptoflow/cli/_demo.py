"""``cryptoflow demo``: the main job on its local default.

The local Kafka + Elasticsearch, the sink and the dashboard page run as child processes; the bundled real
samples of several symbols are backtested, and the run is replayed through Kafka into Elasticsearch,
where the dashboard page shows it. A backtest report of the same data is written for comparison.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cryptoflow.cli._common import console, err_console, settings
from cryptoflow.config import Settings
from cryptoflow.errors import StackError, TemporaryError
from cryptoflow.stack import LocalStack
from cryptoflow.stack._kafka import port_in_use


class _Children:
    """The demo's long-running helpers, each `python -m cryptoflow ...` with its own log file."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "cryptoflow", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops the children in order
            )

    def check(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise TemporaryError(
                    f"the demo's {name} exited with code {process.returncode}; see {self.log_dir / name}.log"
                )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _replay_samples(config: Settings, strategy: str, out_dir: Path) -> tuple[str, dict[str, int], dict]:
    """Backtest the bundled samples, write the report, publish the run; returns run id, counts, stats."""
    from backtesting import BacktestConfig, run_backtest, write_report
    from backtesting_trade import count_events, replay
    from cryptoflow.candles import load_candles, sample_path, sample_symbols
    from cryptoflow.kafka import EventProducer

    frames = {symbol: load_candles(sample_path("5m", symbol)) for symbol in sample_symbols("5m")}
    result = run_backtest(frames, strategy, BacktestConfig(fill="intrabar"))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(result, out_dir / "backtest.html")
    counts = count_events(result)
    with (
        Progress(
            TextColumn("[bold]replaying through Kafka"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress,
        EventProducer(config.kafka) as producer,
    ):
        task = progress.add_task("replay", total=sum(counts.values()))
        published = replay(
            result,
            producer,
            source="replay",
            progress=lambda done, total: progress.update(task, completed=done),
        )
    return published.run_id, counts, result.stats


def _indexed(config: Settings, run_id: str) -> dict[str, int]:
    from cryptoflow.elastic import make_client

    client = make_client(config.elasticsearch)
    prefix = config.elasticsearch.index_prefix
    counts = {}
    for kind in ("candles", "trades"):
        try:
            counts[kind] = client.count(index=f"{prefix}-{kind}", query={"term": {"run_id": run_id}})["count"]
        except Exception:  # the index appears with the sink's first batch
            counts[kind] = 0
    return counts


def demo(
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Seconds to run, then stop by itself (default: until Ctrl-C)."),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port of the dashboard page.")] = 8050,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Strategy run over the samples (5m candles).")
    ] = "basic",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report and the logs.")] = Path(
        "out/demo"
    ),
) -> None:
    """Run cryptoflow on its local default: real stack, sink, dashboard page and a multi-symbol run."""
    config = settings()
    started = time.monotonic()
    LocalStack(config.stack).up(
        on_progress=lambda message: err_console.print(f"[dim]stack:[/] {escape(message)}")
    )
    if port_in_use(port):
        raise StackError(f"port {port} for the dashboard page is taken: choose another with --port")
    children = _Children(out_dir / "logs")
    summary = "summary: nothing ran"
    try:
        children.start("sink", "sink", "--log-interval", "5")
        children.start("dashboard", "dashboard", "serve", "--port", str(port))
        console.print(f"dashboard: http://127.0.0.1:{port}/  (logs in {out_dir / 'logs'})", highlight=False)
        run_id, counts, stats = _replay_samples(config, strategy, out_dir)
        console.print(f"backtest report of the same data: {out_dir / 'backtest.html'}", highlight=False)
        expected = {"candles": counts["candle"], "trades": counts["trade"]}
        indexed = _indexed(config, run_id)
        deadline = time.monotonic() + 180
        while indexed != expected and time.monotonic() < deadline:
            children.check()
            time.sleep(1)
            indexed = _indexed(config, run_id)
        summary = (
            f"summary: run {run_id}: candles {indexed['candles']}/{expected['candles']} indexed, "
            f"trade events {indexed['trades']}/{expected['trades']}, trades {stats['n_trades']}, "
            f"total return {stats['total_return_pct']:.2f} %, final equity {stats['final_equity']:.2f}"
        )
        console.print(summary.replace("summary: ", "indexed: ", 1), highlight=False, soft_wrap=True)
        if duration is None:
            console.print("running; press Ctrl-C to stop", highlight=False)
        while duration is None or time.monotonic() - started < duration:
            children.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        err_console.print("stopping")
    finally:
        children.stop()
    console.print(
        summary + "; the stack keeps running (`cryptoflow stack down` stops it)",
        highlight=False,
        soft_wrap=True,
    )
