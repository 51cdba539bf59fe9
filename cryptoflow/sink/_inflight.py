"""Batches on their way to Elasticsearch: written concurrently, acknowledged strictly in order."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from cryptoflow.elastic import BulkWriter, FlushResult

__all__ = ["Batch", "InFlight"]

TP = tuple[str, int]


@dataclass
class Batch:
    """Messages read since the previous batch: their documents, the dead ones, and the offsets they span
    per partition (``start``: first offset read, ``next``: the offset to commit once written)."""

    writer: BulkWriter
    opened: float = field(default_factory=time.monotonic)
    start: dict[TP, int] = field(default_factory=dict)
    next: dict[TP, int] = field(default_factory=dict)
    dead: list[tuple[Any, str, str]] = field(default_factory=list)
    future: Future[FlushResult] | None = None
    submitted: float = 0.0

    def __len__(self) -> int:
        return len(self.writer) + len(self.dead)

    def note(self, tp: TP, offset: int) -> None:
        """Record that the message at ``offset`` of partition ``tp`` belongs to this batch."""
        self.start.setdefault(tp, offset)
        self.next[tp] = offset + 1


class InFlight:
    """Up to ``limit`` bulk requests at once, so reading and validating the next batch overlaps with
    Elasticsearch indexing the previous ones (Kafka Connect's ``max.in.flight.requests``).

    Batches complete in any order but are handed back by :meth:`done` in the order they were submitted:
    offsets are committed in order, so a failed batch can never be skipped over.
    """

    def __init__(self, client: Elasticsearch, limit: int) -> None:
        self._client = client
        self.limit = limit
        self._queue: deque[Batch] = deque()
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="sink-bulk")

    def __len__(self) -> int:
        return len(self._queue)

    def new_batch(self) -> Batch:
        """An empty batch whose writer shares this pool's client."""
        return Batch(BulkWriter(self._client))

    def submit(self, batch: Batch) -> None:
        """Start writing ``batch`` in the background."""
        batch.submitted = time.monotonic()
        batch.future = self._pool.submit(batch.writer.flush)
        self._queue.append(batch)

    def done(self, block: bool, on_done: Callable[[Batch, FlushResult], None]) -> None:
        """Hand finished batches to ``on_done`` in submission order; the first failure (of the write or
        of ``on_done``) raises, and the failed batch and every later one stay queued for :meth:`abandon`.

        ``block``: wait until fewer than ``limit`` batches are in flight (``True``) or take only those
        already finished (``False``).
        """
        while self._queue:
            head = self._queue[0]
            assert head.future is not None
            if not head.future.done() and not (block and len(self._queue) >= self.limit):
                return
            result = head.future.result()  # raises the flush's TemporaryError/ConfigurationError
            on_done(head, result)  # may raise too: the batch stays queued, to be rewound
            self._queue.popleft()

    def drain(self, on_done: Callable[[Batch, FlushResult], None]) -> None:
        """Wait for every batch and hand them over in order (raises at the first failure)."""
        while self._queue:
            head = self._queue[0]
            assert head.future is not None
            result = head.future.result()
            on_done(head, result)
            self._queue.popleft()

    def abandon(self) -> list[Batch]:
        """Wait for the requests still running, then drop every queued batch and return them (oldest
        first) so the caller can rewind to their first offsets."""
        futures = [batch.future for batch in self._queue if batch.future is not None]
        wait(futures)
        batches = list(self._queue)
        self._queue.clear()
        return batches

    def close(self) -> None:
        """Stop the worker threads (after the running requests)."""
        self._pool.shutdown(wait=True)
