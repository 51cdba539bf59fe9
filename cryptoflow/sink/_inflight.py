"""Batches on their way to Elasticsearch: the open one being filled, and those written concurrently and
acknowledged strictly in order."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from cryptoflow.elastic import BulkWriter, FlushResult

__all__ = ["Batch", "InFlight", "batch_bytes"]

TP = tuple[str, int]

# the bulk action line BulkWriter writes around index and id, and the two lines' newlines
_ACTION_BYTES = len(b'{"index":{"_index":"","_id":""}}') + 2


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
    size_bytes: int = 0  # of the bulk request's body so far

    def __len__(self) -> int:
        return len(self.writer) + len(self.dead)

    def add(self, index: str, doc_id: str, source: bytes, ref: Any, size: int) -> None:
        """Add a document (its JSON ``source``, one line) to the bulk request; ``size`` is what it adds
        to the body (:func:`batch_bytes`)."""
        self.writer.add(index, doc_id, source, ref=ref)
        self.size_bytes += size

    def note(self, tp: TP, offset: int) -> None:
        """Record that the message at ``offset`` of partition ``tp`` belongs to this batch."""
        self.start.setdefault(tp, offset)
        self.next[tp] = offset + 1


def batch_bytes(index: str, doc_id: str, source: bytes) -> int:
    """What a document adds to a bulk request's body, counted as elasticsearch-py's helpers count it:
    its action line and its source line, each with its newline."""
    return _ACTION_BYTES + len(index) + len(doc_id) + len(source)


class InFlight:
    """The open batch (:attr:`open`, which the sink fills) and up to ``limit`` bulk requests at once, so
    reading and validating the next batch overlaps with Elasticsearch indexing the previous ones (Kafka
    Connect's ``max.in.flight.requests``).

    Batches complete in any order but are handed back by :meth:`done` in the order they were submitted:
    offsets are committed in order, so a failed batch can never be skipped over.
    """

    def __init__(self, client: Elasticsearch, limit: int) -> None:
        self._client = client
        self.limit = limit
        self._queue: deque[Batch] = deque()
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="sink-bulk")
        self.open = self.new_batch()

    def __len__(self) -> int:
        return len(self._queue)

    def new_batch(self) -> Batch:
        """An empty batch whose writer shares this pool's client."""
        return Batch(BulkWriter(self._client))

    def submit_open(self) -> None:
        """Start writing the open batch (when it holds any message) and open the next one."""
        if self.open.start:
            self.submit(self.open)
            self.open = self.new_batch()

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

    def abandon(self) -> dict[TP, int]:
        """Wait for the requests still running, then drop every batch not handed over yet (the open one
        too); returns the first offset of each partition they held, so the caller can rewind there."""
        futures = [batch.future for batch in self._queue if batch.future is not None]
        wait(futures)
        batches = [*self._queue, self.open]
        self._queue.clear()
        self.open = self.new_batch()
        rewind: dict[TP, int] = {}
        for batch in batches:  # oldest first: the first offset seen per partition wins
            for tp, offset in batch.start.items():
                rewind.setdefault(tp, offset)
        return rewind

    def close(self) -> None:
        """Stop the worker threads (after the running requests)."""
        self._pool.shutdown(wait=True)
