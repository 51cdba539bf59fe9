"""``cryptoflow demo``: the main job on its local default.

The local Kafka + Elasticsearch, then as child processes: the fake Binance exchange replaying the bundled
real 5m samples of several symbols at high speed, ``realtime_indicator`` and ``auto_trade`` (paper broker)
reading it over Binance's real protocol, the sink and the dashboard page. The same candles are backtested
(report written for comparison) and that run is replayed through Kafka too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cryptoflow.cli._common import console, err_console, settings
from cryptoflow.cli._paths import output_dir
from cryptoflow.config import Settings
from cryptoflow.errors import StackError, TemporaryError
from cryptoflow.stack import LocalStack
from cryptoflow.stack._kafka import port_in_use

if TYPE_CHECKING:
    from backtesting import Stats


class _Children:
    """The demo's long-running helpers, each `python -m cryptoflow ...` with its own log file."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "cryptoflow", *args],
                env={**os.environ, **(env or {})},
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

    def stop(self, *names: str) -> None:
        """SIGTERM the named children (all when none is named) and wait for them."""
        chosen = [process for name, process in self.processes.items() if not names or name in names]
        for process in chosen:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in chosen:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _replay_samples(config: Settings, strategy: str, out_dir: Path) -> tuple[str, dict[str, int], Stats]:
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


LIVE_RUN_ID = "demo-live"


def _start_live(children: _Children, exchange_port: int, speed: float, out_dir: Path) -> list[str]:
    """Fake exchange, then the intrabar indicator stream and the paper trader reading it; returns symbols."""
    from cryptoflow.candles import sample_path, sample_symbols

    symbols = sample_symbols("5m")
    files = ",".join(str(sample_path("5m", symbol)) for symbol in symbols)
    children.start(
        "exchange",
        "exchange",
        "serve",
        "--data",
        files,
        "--port",
        str(exchange_port),
        "--speed",
        str(speed),
        "--history",
        "300",
    )
    base_url = f"http://127.0.0.1:{exchange_port}"
    deadline = time.monotonic() + 60
    while True:  # the apps warm up through REST at start: the exchange must answer first
        children.check()
        try:
            with urllib.request.urlopen(base_url + "/fapi/v1/ping", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise TemporaryError(f"the fake exchange did not answer on {base_url}") from None
            time.sleep(0.3)
    endpoints = {
        "CRYPTOFLOW_BINANCE__BASE_URL": base_url,
        "CRYPTOFLOW_BINANCE__STREAM_URL": f"ws://127.0.0.1:{exchange_port}/",
    }
    state_dir = out_dir / "state"
    shutil.rmtree(state_dir, ignore_errors=True)  # a fresh paper account each demo
    joined = ",".join(symbols)
    children.start(
        "indicators",
        "indicators",
        "--symbols",
        joined,
        "--interval",
        "5m",
        "--run-id",
        LIVE_RUN_ID,
        env=endpoints,
    )
    children.start(
        "trade",
        "trade",
        "--symbols",
        joined,
        "--interval",
        "5m",
        "--strategy",
        "basic",
        "--broker",
        "paper",
        "--run-id",
        LIVE_RUN_ID,
        "--state-dir",
        str(state_dir),
        env=endpoints,
    )
    return symbols


def _live_summary(config: Settings) -> str:
    """What the live chain has put into Elasticsearch so far."""
    from cryptoflow.elastic import make_client

    client = make_client(config.elasticsearch)
    prefix = config.elasticsearch.index_prefix
    query = {"term": {"run_id": LIVE_RUN_ID}}
    counts = {}
    for kind in ("candles", "indicators", "signals", "trades"):
        try:
            counts[kind] = client.count(index=f"{prefix}-{kind}", query=query)["count"]
        except Exception:  # the index appears with the sink's first batch of that kind
            counts[kind] = 0
    try:
        closed = client.search(
            index=f"{prefix}-trades",
            size=0,
            query={"bool": {"filter": [query, {"term": {"trade.leg": "close"}}]}},
            aggs={"pnl": {"sum": {"field": "trade.pnl"}}},
        )
        trades, pnl = closed["hits"]["total"]["value"], closed["aggregations"]["pnl"]["value"] or 0.0
    except Exception:
        trades, pnl = 0, 0.0
    return (
        f"live (paper) run {LIVE_RUN_ID}: candles {counts['candles']}, "
        f"indicator updates {counts['indicators']}, signals {counts['signals']}, closed trades {trades}, "
        f"PnL {pnl:.2f} USDT"
    )


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


def _drain(config: Settings, timeout_s: float = 60.0) -> str:
    """Wait until the sink has indexed what the live chain produced (the counts stop changing)."""
    previous, deadline = "", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = _live_summary(config)
        if current == previous:
            return current
        previous = current
        time.sleep(3)
    return previous


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
    config = settings()
    output_dir(out_dir, "--out")
    started = time.monotonic()
    LocalStack(config.stack).up(
        on_progress=lambda message: err_console.print(f"[dim]stack:[/] {escape(message)}")
    )
    for wanted, option in ((port, "--port"), (exchange_port, "--exchange-port")):
        if port_in_use(wanted):
            raise StackError(f"port {wanted} is taken: choose another with {option}")
    children = _Children(out_dir / "logs")
    backtest_line, live_line = "backtest: not run", "live: not run"
    try:
        children.start("sink", "sink", "--log-interval", "5")
        children.start("dashboard", "dashboard", "serve", "--port", str(port))
        console.print(f"dashboard: http://127.0.0.1:{port}/  (logs in {out_dir / 'logs'})", highlight=False)
        symbols = _start_live(children, exchange_port, speed, out_dir)
        console.print(
            f"live: fake exchange on 127.0.0.1:{exchange_port} replaying {', '.join(symbols)} 5m at "
            f"{speed:g} candles/s; realtime indicators and paper trading ({LIVE_RUN_ID})",
            highlight=False,
        )
        run_id, counts, stats = _replay_samples(config, strategy, out_dir)
        expected = {"candles": counts["candle"], "trades": counts["trade"]}
        indexed = _indexed(config, run_id)
        deadline = time.monotonic() + 180
        while indexed != expected and time.monotonic() < deadline:
            children.check()
            time.sleep(1)
            indexed = _indexed(config, run_id)
        backtest_line = (
            f"backtest {run_id} of the same candles: {stats['n_trades']} trades, total return "
            f"{stats['total_return_pct']:.2f} %, candles {indexed['candles']}/{expected['candles']} "
            f"and trade events {indexed['trades']}/{expected['trades']} indexed, "
            f"report {out_dir / 'backtest.html'}"
        )
        console.print(backtest_line, highlight=False, soft_wrap=True)
        if duration is None:
            console.print("running; press Ctrl-C to stop", highlight=False)
        while duration is None or time.monotonic() - started < duration:
            children.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        err_console.print("stopping")
    finally:
        children.stop("exchange", "indicators", "trade")
        live_line = _drain(config)
        children.stop()
    console.print(f"summary: {live_line}; {backtest_line}", highlight=False, soft_wrap=True)
