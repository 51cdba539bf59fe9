"""The demo's orchestration: the stack, the supervised live chain, the backtest replayed beside it."""

from __future__ import annotations

import shutil
import time
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptoflow.config import Settings
from cryptoflow.demo._counts import indexed_counts, live_counts
from cryptoflow.errors import StackError, TemporaryError
from cryptoflow.stack import LocalStack, Supervisor, port_in_use

__all__ = ["LIVE_RUN_ID", "DemoOptions", "DemoView", "run_demo"]

LIVE_RUN_ID = "demo-live"


@dataclass(frozen=True)
class DemoOptions:
    """How the demo runs: ``duration_s`` seconds (``None``: until interrupted), the dashboard page on
    ``port``, the fake exchange on ``exchange_port`` replaying ``speed`` candles per second, ``strategy``
    for the backtest comparison, report, state and logs in ``out_dir``."""

    duration_s: float | None = None
    port: int = 8050
    exchange_port: int = 9010
    speed: float = 20.0
    strategy: str = "basic"
    out_dir: Path = Path("out/demo")


class DemoView(Protocol):
    """What the demo tells its user (``cryptoflow demo`` prints it)."""

    def stack(self, message: str) -> None:
        """A step of bringing the local stack up."""

    def say(self, line: str, *, one_line: bool = False) -> None:
        """A line of the demo's story; ``one_line``: never wrapped."""

    def stopping(self) -> None:
        """The demo was interrupted: it stops its processes and waits for the sink."""

    def replaying(self, total: int) -> AbstractContextManager[Callable[[int], None]]:
        """Progress of publishing ``total`` events: a callback taking the number published so far."""


def _replay_samples(
    config: Settings, options: DemoOptions, view: DemoView
) -> tuple[str, dict[str, int], Any]:
    """Backtest the bundled samples, write the report, publish the run; returns run id, counts, stats."""
    from backtesting import BacktestRequest, run_backtest, write_report
    from backtesting_trade import count_events, replay
    from cryptoflow.candles import sample_path, sample_symbols
    from cryptoflow.kafka import EventProducer

    request = BacktestRequest(
        data=tuple(sample_path("5m", symbol) for symbol in sample_symbols("5m")), strategy=options.strategy
    )
    result = run_backtest(request.load_candles(), request.load_strategy(), request.config())
    options.out_dir.mkdir(parents=True, exist_ok=True)
    write_report(result, options.out_dir / "backtest.html")
    counts = count_events(result)
    with view.replaying(sum(counts.values())) as advance, EventProducer(config.kafka) as producer:
        published = replay(
            result, producer, source="replay", progress=lambda state: advance(state.acknowledged)
        )
    return published.run_id, counts, result.stats


def _wait_for_exchange(children: Supervisor, base_url: str, timeout_s: float = 60.0) -> None:
    """The apps warm up through REST at start: the exchange must answer first."""
    deadline = time.monotonic() + timeout_s
    while True:
        children.check()
        try:
            with urllib.request.urlopen(base_url + "/fapi/v1/ping", timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TemporaryError(f"the fake exchange did not answer on {base_url}") from None
            time.sleep(0.3)


def _start_live(children: Supervisor, options: DemoOptions) -> list[str]:
    """Fake exchange, then the intrabar indicator stream and the paper trader reading it; returns symbols."""
    from cryptoflow.candles import sample_path, sample_symbols
    from cryptoflow.testing.fake_binance import exchange_environment

    symbols = sample_symbols("5m")
    files = ",".join(str(sample_path("5m", symbol)) for symbol in symbols)
    port = str(options.exchange_port)
    children.start("exchange", "exchange", "serve", "--data", files, "--port", port,
                   "--speed", str(options.speed), "--history", "300")  # fmt: skip
    endpoints = exchange_environment("127.0.0.1", options.exchange_port)
    _wait_for_exchange(children, endpoints["CRYPTOFLOW_BINANCE__BASE_URL"])
    state_dir = options.out_dir / "state"
    shutil.rmtree(state_dir, ignore_errors=True)  # a fresh paper account each demo
    joined = ",".join(symbols)
    children.start("indicators", "indicators", "--symbols", joined, "--interval", "5m",
                   "--run-id", LIVE_RUN_ID, env=endpoints)  # fmt: skip
    children.start("trade", "trade", "--symbols", joined, "--interval", "5m", "--strategy", "basic",
                   "--broker", "paper", "--run-id", LIVE_RUN_ID, "--state-dir", str(state_dir),
                   env=endpoints)  # fmt: skip
    return symbols


def _drain(config: Settings, timeout_s: float = 60.0) -> str:
    """Wait until the sink has indexed what the live chain produced (the counts stop changing)."""
    from cryptoflow.elastic import make_client

    client, prefix = make_client(config.elasticsearch), config.elasticsearch.index_prefix
    previous, deadline = "", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = live_counts(client, prefix, LIVE_RUN_ID).describe()
        if current == previous:
            return current
        previous = current
        time.sleep(3)
    return previous


def run_demo(config: Settings, options: DemoOptions, view: DemoView) -> None:
    """Run the demo until ``options.duration_s`` has passed or it is interrupted (Ctrl-C, SIGTERM), then
    stop the live chain, wait for the sink to index what it produced, stop everything and tell the summary.

    Raises :class:`~cryptoflow.errors.StackError` when a port is taken, and
    :class:`~cryptoflow.stack.ChildExited` when one of its processes dies (its log is in
    ``<out_dir>/logs``).
    """
    from cryptoflow.elastic import make_client

    out_dir = options.out_dir
    started = time.monotonic()
    LocalStack(config.stack).up(on_progress=view.stack)
    for wanted, option in ((options.port, "--port"), (options.exchange_port, "--exchange-port")):
        if port_in_use(wanted):
            raise StackError(f"port {wanted} is taken: choose another with {option}")
    children = Supervisor(out_dir / "logs", owner="the demo's")
    backtest_line, live_line = "backtest: not run", "live: not run"
    try:
        children.start("sink", "sink", "--log-interval", "5")
        children.start("dashboard", "dashboard", "serve", "--port", str(options.port))
        view.say(f"dashboard: http://127.0.0.1:{options.port}/  (logs in {out_dir / 'logs'})")
        symbols = _start_live(children, options)
        view.say(
            f"live: fake exchange on 127.0.0.1:{options.exchange_port} replaying {', '.join(symbols)} 5m at "
            f"{options.speed:g} candles/s; realtime indicators and paper trading ({LIVE_RUN_ID})"
        )
        run_id, counts, stats = _replay_samples(config, options, view)
        client, prefix = make_client(config.elasticsearch), config.elasticsearch.index_prefix
        expected = {"candles": counts["candle"], "trades": counts["trade"]}
        indexed = indexed_counts(client, prefix, run_id, expected)
        deadline = time.monotonic() + 180
        while indexed != expected and time.monotonic() < deadline:
            children.check()
            time.sleep(1)
            indexed = indexed_counts(client, prefix, run_id, expected)
        backtest_line = (
            f"backtest {run_id} of the same candles: {stats['n_trades']} trades, total return "
            f"{stats['total_return_pct']:.2f} %, candles {indexed['candles']}/{expected['candles']} "
            f"and trade events {indexed['trades']}/{expected['trades']} indexed, "
            f"report {out_dir / 'backtest.html'}"
        )
        view.say(backtest_line, one_line=True)
        if options.duration_s is None:
            view.say("running; press Ctrl-C to stop")
        while options.duration_s is None or time.monotonic() - started < options.duration_s:
            children.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        view.stopping()
    finally:
        children.stop("exchange", "indicators", "trade")
        live_line = _drain(config)
        children.stop()
    view.say(f"summary: {live_line}; {backtest_line}", one_line=True)
