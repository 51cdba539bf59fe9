"""Helpers of the whole-chain tests: starting and stopping the chain's real processes, the round trips they
must agree with the backtester on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

import pandas as pd

from cryptoflow.config import Settings
from cryptoflow.stack import Supervisor
from cryptoflow.testing.fake_binance import FakeExchange
from cryptoflow.testing.services import REPO, committed_to_end, group_ready, wait_until


def chain_processes(folder: Path, env: Mapping[str, str]) -> Supervisor:
    """The chain's processes (``python -m cryptoflow ...`` from the checkout), each logging to
    ``<folder>/<name>.log``."""
    return Supervisor(folder, env=env, cwd=REPO)


def start_chain(
    procs: Supervisor,
    settings: Settings,
    exchange: FakeExchange,
    *,
    symbols: Iterable[str],
    params: Mapping[str, object],
    market_run: str,
    trade_run: str,
    state_dir: Path,
    sink_args: Iterable[str] = (),
) -> None:
    """Start the sink, two ``trade --from-kafka`` workers (``basic`` strategy with ``params``, paper broker,
    5m) in one consumer group, and once they share the candles' partitions the ``indicators`` service; return
    when it subscribed to ``exchange`` (the replay is the test's to start)."""
    joined = ",".join(symbols)
    options = [arg for name, value in params.items() for arg in ("-p", f"{name}={value}")]
    group = f"{settings.kafka.topic_prefix}.auto-trade.{trade_run}"
    wait = partial(wait_until, watching=procs)
    procs.start("sink", "sink", "--batch-wait-ms", "200", *sink_args)
    for worker in ("worker-1", "worker-2"):
        procs.start(
            worker, "trade", "--from-kafka", "--symbols", joined, "--interval", "5m", "--strategy", "basic",
            *options, "--run-id", trade_run, "--candles-run-id", market_run, "--state-dir", str(state_dir),
            "--max-candle-age", "0",
        )  # fmt: skip
    wait(lambda: group_ready(settings, group, 2), 90, "both workers to share the partitions")
    procs.start("indicators", "indicators", "--symbols", joined, "--interval", "5m", "--run-id", market_run)
    wait(lambda: bool(exchange.subscribers), 60, "the indicators service to subscribe")


def stop_chain(procs: Supervisor, settings: Settings, *producers: str) -> None:
    """Stop the ``producers``, wait until the sink committed all they published (it commits a batch only
    once Elasticsearch took it), then stop the sink: each must exit with 0."""
    for name in producers:
        assert procs.stop(name, timeout_s=60) == {name: 0}, procs.logs()
    sink_group = f"{settings.kafka.topic_prefix}-sink"
    wait_until(lambda: committed_to_end(settings, sink_group), 60, "the sink's last batch", watching=procs)
    assert procs.stop("sink", timeout_s=60) == {"sink": 0}, procs.logs()


def round_trips(trades: pd.DataFrame) -> list[tuple]:
    """The backtester's trades as ``(side, entry ms, exit ms, exit reason, pnl)`` per round trip."""
    return [
        (t.side, t.entry_time.value // 1_000_000, t.exit_time.value // 1_000_000, t.exit_reason, t.pnl)
        for t in trades.itertuples()
    ]


def closed_trades(docs: object, symbol: str) -> list[tuple]:
    """The round trips of ``symbol`` among trade documents, as :func:`round_trips` gives them."""
    closed = sorted(
        (d["trade"] for d in docs if d["symbol"] == symbol and d["trade"]["leg"] == "close"),  # type: ignore[attr-defined]
        key=lambda t: t["entry_time_ms"],
    )
    return [(t["side"], t["entry_time_ms"], t["exit_time_ms"], t["exit_reason"], t["pnl"]) for t in closed]


def activated(log: str) -> list[str]:
    """The symbols a worker took on, in order (its ``<SYMBOL>: trading it (partition ...`` lines)."""
    return re.findall(r" (\w+): trading it \(partition", log)
