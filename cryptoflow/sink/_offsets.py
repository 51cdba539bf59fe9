"""Where the sink stands in each partition it holds: read up to, committed up to, and (``once``) where the
partition ended when it was assigned."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from cryptoflow.errors import TemporaryError
from cryptoflow.retry import Backoff, retry
from cryptoflow.sink._inflight import TP

__all__ = ["Offsets"]

log = logging.getLogger("cryptoflow.sink")

_SEEK_ATTEMPTS, _SEEK_PAUSE_S = 50, 0.1  # a rewind waits up to 5 s for a partition's fetcher


class Offsets:
    """The offset bookkeeping of one consumer: per assigned partition the next offset to read
    (``position``), the next offset after what is written and committed (``committed``) and, for
    ``once``, the end to drain to (``ends``).

    Only :meth:`commit` moves ``committed``, and the sink calls it with a batch's offsets only after
    Elasticsearch and the dead-letter queue acknowledged the whole batch, batch after batch in order.
    A partition just assigned is ``unknown`` until :meth:`load` read its committed offset.
    """

    def __init__(self, consumer: Consumer, admin: AdminClient) -> None:
        self._consumer = consumer
        self._admin = admin
        self.assigned: set[TP] = set()
        self.unknown: set[TP] = set()  # assigned, committed offset not read yet
        self.committed: dict[TP, int] = {}  # next offset to read after what is written and committed
        self.position: dict[TP, int] = {}  # next offset to read after what was consumed
        self.ends: dict[TP, int] = {}  # once: where the partition ended when we got it
        self.ever_assigned = False

    # -- assignment -----------------------------------------------------------------------------------

    def assign(self, keys: set[TP]) -> None:
        """Partitions handed to this consumer; their offsets are read by the next :meth:`load`."""
        self.assigned |= keys
        self.unknown |= keys
        self.ever_assigned = True

    def forget(self, keys: set[TP]) -> None:
        """Partitions revoked or lost: nothing is kept of them."""
        self.assigned -= keys
        self.unknown -= keys
        for key in keys:
            self.committed.pop(key, None)
            self.position.pop(key, None)
            self.ends.pop(key, None)

    def load(self) -> None:
        """Committed offsets (or the start of the partition) of the unknown partitions, and, for
        ``once``, the end to drain to; a Kafka too busy to answer is asked again next time."""
        keys = list(self.unknown)
        try:
            committed = self._consumer.committed([TopicPartition(t, p) for t, p in keys], timeout=10)
            earliest = self._list_offsets(keys, OffsetSpec.earliest())
            latest = self._list_offsets(keys, OffsetSpec.latest())
        except (KafkaException, TemporaryError) as exc:
            log.warning("sink: could not read partition offsets yet: %s", exc)
            return
        for tp in committed:
            key = (tp.topic, tp.partition)
            self.committed[key] = tp.offset if tp.offset >= 0 else earliest[key]
            self.position.setdefault(key, self.committed[key])
            self.ends[key] = latest[key]
            self.unknown.discard(key)

    # -- moving ---------------------------------------------------------------------------------------

    def read(self, tp: TP, offset: int) -> None:
        """The message at ``offset`` of ``tp`` was consumed."""
        self.position[tp] = offset + 1

    def commit(self, offsets: dict[TP, int]) -> bool:
        """Commit ``offsets`` (synchronously); ``True`` when the commit request was answered.

        A commit Kafka refuses is logged and leaves ``committed`` where it was: those messages are read
        again and overwrite their documents.
        """
        if not offsets:
            return False
        partitions = [TopicPartition(t, p, offset) for (t, p), offset in offsets.items()]
        try:
            results = self._consumer.commit(offsets=partitions, asynchronous=False) or []
        except KafkaException as exc:
            log.warning(
                "sink: offsets not committed (%s); those messages will be read again and overwrite "
                "their documents",
                exc.args[0].str() if exc.args else exc,
            )
            return False
        failed = {(tp.topic, tp.partition) for tp in results if tp.error is not None}
        for tp in results:
            if tp.error is not None:
                log.warning("sink: offset of %s[%d] not committed: %s", tp.topic, tp.partition, tp.error)
        self.committed.update({tp: off for tp, off in offsets.items() if tp not in failed})
        return True

    def seek(self, tp: TP, offset: int) -> None:
        """Rewind the consumer to ``offset`` of ``tp``: the next read starts there."""
        partition = TopicPartition(tp[0], tp[1], offset)
        try:
            # e.g. the fetcher of a just-assigned partition is not ready: serve the consumer, try again
            retry(
                lambda: self._consumer.seek(partition),
                backoff=Backoff(_SEEK_PAUSE_S, _SEEK_PAUSE_S, jitter=False),
                retry_on=KafkaException,
                attempts=_SEEK_ATTEMPTS,
                sleep=self._consumer.poll,  # the partitions are paused: nothing is delivered meanwhile
            )
        except KafkaException as exc:
            raise TemporaryError(f"could not rewind {tp[0]}[{tp[1]}]: {exc}") from None
        self.position[tp] = offset

    # -- where we stand -------------------------------------------------------------------------------

    def read_to_end(self) -> bool:
        """``once``: every partition was read up to where it ended when it was assigned."""
        return all(self.position.get(tp, -1) >= end for tp, end in self.ends.items())

    def committed_to_end(self) -> bool:
        """``once``: every assigned partition is committed up to where it ended."""
        return all(self.committed.get(tp, -1) >= self.ends.get(tp, 0) for tp in self.assigned)

    def lag(self) -> int | None:
        """Messages not yet committed, over the assigned partitions; ``None`` when Kafka is too busy to
        tell or when partitions not loaded yet would make a lag of 0 a lie."""
        keys = [key for key in self.assigned if key in self.committed]
        try:
            latest = self._list_offsets(keys, OffsetSpec.latest())
        except TemporaryError:
            return None  # Kafka busy: keep the last figure
        lag = sum(max(0, latest[key] - self.committed[key]) for key in keys)
        if self.unknown and lag == 0:
            return None
        return lag

    def _list_offsets(self, keys: list[TP], spec: OffsetSpec) -> dict[TP, int]:
        """Earliest or latest offsets of many partitions in one request (the consumer's own
        ``get_watermark_offsets`` queues behind its fetches, ~0.5 s per partition)."""
        if not keys:
            return {}
        futures = self._admin.list_offsets({TopicPartition(t, p): spec for t, p in keys}, request_timeout=10)
        try:
            return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
        except KafkaException as exc:
            raise TemporaryError(f"could not list offsets: {exc}") from None
