"""Publish a backtest to Kafka: the replay behind ``cryptoflow replay``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from backtesting_trade._events import (
    BacktestRun,
    backtest_events,
    count_events,
    default_run_id,
    result_interval,
)
from cryptoflow.events import Source
from cryptoflow.kafka import EventProducer

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """What a replay published: the run id, events per topic, and how long it took."""

    run_id: str
    interval: str
    topics: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        """Events published."""
        return sum(self.topics.values())


def replay(
    result: BacktestRun,
    producer: EventProducer,
    *,
    run_id: str | None = None,
    interval: str | None = None,
    source: Source = "backtest",
    rate: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Publish every candle (with indicators) and trade leg of ``result`` and wait for Kafka's acks.

    Parameters
    ----------
    result: a finished backtest (:func:`backtesting.run_backtest`).
    producer: where to publish (its settings name the topics).
    run_id: the run's id; default :func:`default_run_id`, the same each time the same backtest is
        replayed, so a second replay overwrites the first one's documents instead of adding to them.
    interval: candle interval; default from the candles.
    source: the events' ``source`` (``backtest`` by default, ``replay`` to tell re-runs apart).
    rate: events per second at most (``None``: as fast as Kafka takes them), to watch a run unfold.
    progress: called with ``(done, total)`` every few hundred events.

    Raises :class:`~cryptoflow.kafka.DeliveryError` when Kafka does not acknowledge every event.
    """
    started = time.monotonic()
    interval = result_interval(result, interval)
    run_id = run_id or default_run_id(result, interval)
    total = sum(count_events(result).values())
    topics: Counter[str] = Counter()
    done = 0
    for event in backtest_events(result, run_id=run_id, interval=interval, source=source):
        producer.send(event)
        topics[producer.topic_for(event)] += 1
        done += 1
        if rate:
            delay = started + done / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if progress is not None and (done % 500 == 0 or done == total):
            progress(done, total)
    producer.flush()
    if progress is not None:
        progress(done, total)
    return ReplayResult(run_id, interval, dict(topics), time.monotonic() - started)
