"""Publish a backtest to Kafka: the replay behind ``cryptoflow replay``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from backtesting_trade._events import (
    BacktestRun,
    count_events,
    default_run_id,
    encoded_events,
    result_interval,
)
from cryptoflow.events import Source
from cryptoflow.kafka import EventProducer

__all__ = ["ReplayProgress", "ReplayResult", "replay"]

_SLICE = 8192  # events sent between two progress reports
_ACK_WAIT_S = 60.0  # at the end, how long acknowledgements may stall before the final flush decides


@dataclass(frozen=True)
class ReplayProgress:
    """Where a replay stands: events built (encoded), produced (queued in the producer) and acknowledged
    by Kafka, out of ``total``."""

    built: int
    produced: int
    acknowledged: int
    total: int


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

    @property
    def events_per_s(self) -> float:
        """Events built, published and acknowledged per second, over the whole replay."""
        return self.total / self.elapsed_s if self.elapsed_s > 0 else 0.0


def replay(
    result: BacktestRun,
    producer: EventProducer,
    *,
    run_id: str | None = None,
    interval: str | None = None,
    source: Source = "backtest",
    rate: float | None = None,
    progress: Callable[[ReplayProgress], None] | None = None,
) -> ReplayResult:
    """Publish every candle (with indicators) and trade leg of ``result`` and wait for Kafka's acks.

    The events are built column-wise (:func:`encoded_events`), a batch of candles at a time, and sent
    as encoded bytes: the same bytes a live process sends for the same candle.

    Parameters
    ----------
    result: a finished backtest (:func:`backtesting.run_backtest`).
    producer: where to publish (its settings name the topics).
    run_id: the run's id; default :func:`default_run_id`, the same each time the same backtest is
        replayed, so a second replay overwrites the first one's documents instead of adding to them.
    interval: candle interval; default from the candles.
    source: the events' ``source`` (``backtest`` by default, ``replay`` to tell re-runs apart).
    rate: events per second at most (``None``: as fast as Kafka takes them), to watch a run unfold.
    progress: called with a :class:`ReplayProgress` every few thousand events and at the end.

    Raises :class:`~cryptoflow.kafka.DeliveryError` when Kafka does not acknowledge every event.
    """
    started = time.monotonic()
    interval = result_interval(result, interval)
    run_id = run_id or default_run_id(result, interval)
    total = sum(count_events(result).values())
    topics: Counter[str] = Counter()
    acknowledged_before = producer.delivered
    built = produced = 0

    def report() -> None:
        if progress is not None:
            progress(ReplayProgress(built, produced, producer.delivered - acknowledged_before, total))

    step = _SLICE if not rate else max(1, min(_SLICE, int(rate / 20)))  # paced: 20 slices a second
    for batch in encoded_events(result, run_id=run_id, interval=interval, source=source):
        built += len(batch.values)
        report()
        for start in range(0, len(batch.values), step):
            produced += producer.send_encoded(batch.kind, batch.values[start : start + step], key=batch.key)
            if rate:
                delay = started + produced / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            report()
        topics[producer.topic(batch.kind)] += len(batch.values)
    stalled_since, seen = time.monotonic(), producer.delivered
    while producer.pending() and time.monotonic() - stalled_since < _ACK_WAIT_S:
        producer.poll(0.1)  # the acknowledgements come in; the bar follows them
        if producer.delivered != seen:
            stalled_since, seen = time.monotonic(), producer.delivered
        report()
    producer.flush()
    report()
    return ReplayResult(run_id, interval, dict(topics), time.monotonic() - started)
