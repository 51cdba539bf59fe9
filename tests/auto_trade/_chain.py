"""Helpers of the whole-chain tests: the chain's real processes, the consumer group, the backtest they
must agree with."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from confluent_kafka.admin import AdminClient

from backtesting import BacktestConfig, backtest_symbol
from cryptoflow.candles import load_candles
from cryptoflow.config import Settings
from cryptoflow.indicators import compute
from cryptoflow.kafka import client_config, retry_retriable, topic_name
from cryptoflow.stack import Supervisor
from cryptoflow.testing.services import REPO
from cryptoflow.testing.services import wait_until as _wait_until


class Processes(Supervisor):
    """The chain's processes (``python -m cryptoflow ...``), each logging to ``<folder>/<name>.log``; a wait
    fails at once, with their logs, when one that was not stopped on purpose exited."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        super().__init__(folder, env=env, cwd=REPO)

    def check_alive(self) -> None:
        dead = self.exited()
        assert not dead, f"exited early: {dead}\n{self.logs()}"

    def wait_until(self, predicate: Callable[[], object], timeout_s: float, what: str) -> None:
        """Like :func:`cryptoflow.testing.services.wait_until`, failing at once (with the logs) when a process
        that was not stopped on purpose exited."""

        def check() -> bool:
            self.check_alive()
            return bool(predicate())

        try:
            _wait_until(check, timeout_s, what)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()}") from None


def group_ready(settings: Settings, group: str, members: int) -> bool:
    """``members`` workers joined and every partition of the candles topic is assigned to one of them."""
    admin = AdminClient(client_config(settings.kafka))
    topic = topic_name(settings.kafka, "candles")
    partitions = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    description = retry_retriable(lambda: admin.describe_consumer_groups([group])[group].result(timeout=10))
    assigned = [tp for m in description.members for tp in m.assignment.topic_partitions]
    return len(description.members) == members and len(assigned) == partitions and partitions > 0


def backtest_trades(
    shared_data: Path, symbol: str, strategy, *, history: int, live: int, symbols: int
) -> list[tuple]:
    """What the backtester trades on the ``live`` candles after ``history`` (equal budget per symbol):
    ``(side, entry ms, exit ms, exit reason, pnl)`` per round trip."""
    candles = load_candles(shared_data / f"{symbol}_5m_2025-08.csv").iloc[: history + live]
    indicators = compute(candles, preset=strategy.indicator_preset, **strategy.indicator_params())
    engine = BacktestConfig(cash=10_000 / symbols, fill="close", fee_rate=0.0004, fraction=1.0)
    trades = backtest_symbol(
        candles.iloc[history:], strategy, engine, indicators=indicators.iloc[history:], symbol=symbol
    ).trades
    return [
        (t.side, t.entry_time.value // 1_000_000, t.exit_time.value // 1_000_000, t.exit_reason, t.pnl)
        for t in trades.itertuples()
    ]


def closed_trades(docs: object, symbol: str) -> list[tuple]:
    """The round trips of ``symbol`` among trade documents, as :func:`backtest_trades` gives them."""
    closed = sorted(
        (d["trade"] for d in docs if d["symbol"] == symbol and d["trade"]["leg"] == "close"),  # type: ignore[attr-defined]
        key=lambda t: t["entry_time_ms"],
    )
    return [(t["side"], t["entry_time_ms"], t["exit_time_ms"], t["exit_reason"], t["pnl"]) for t in closed]


def activated(log: str) -> list[str]:
    """The symbols a worker took on, in order (its ``<SYMBOL>: trading it (partition ...`` lines)."""
    return re.findall(r" (\w+): trading it \(partition", log)
