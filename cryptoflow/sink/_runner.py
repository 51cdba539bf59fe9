"""The Kafka -> Elasticsearch sink loop: consume, validate, bulk-write, dead-letter, commit."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from cryptoflow.config import Settings
from cryptoflow.elastic import BulkWriter, install_templates, make_client
from cryptoflow.errors import DataError, TemporaryError
from cryptoflow.events import EVENT_KINDS, EventError, decode, encode
from cryptoflow.kafka import DeliveryError, EventProducer, client_config, ensure_topics, topic_name
from cryptoflow.sink._health import HealthServer
from cryptoflow.sink._options import Backoff, SinkOptions

__all__ = ["DLQ_HEADER_PREFIX", "Sink", "SinkStats"]

log = logging.getLogger("cryptoflow.sink")

DLQ_HEADER_PREFIX = "cryptoflow.dlq."
"""Headers added to dead-lettered messages: ``category``, ``reason``, ``topic``, ``partition``, ``offset``,
``timestamp_ms`` and ``group`` (the original headers are kept)."""

TP = tuple[str, int]
_MAX_WARNINGS_PER_INTERVAL = 10


@dataclass
class SinkStats:
    """Totals since the sink started."""

    indexed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    commits: int = 0
    elapsed_s: float = 0.0


@dataclass
class _Interval:
    indexed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    batch_ms_total: float = 0.0
    batch_ms_max: float = 0.0
    warnings: int = 0
    started: float = 0.0


class Sink:
    """Reads event topics as a consumer group and indexes every event into Elasticsearch.

    Guarantees: offsets are committed only after Elasticsearch acknowledged every document of the
    batch and the dead-letter queue acknowledged every rejected message; documents are written by
    ``event_id``, so what is re-read after a crash overwrites itself. When Elasticsearch is unreachable,
    overloaded or failing the sink pauses its partitions, waits (exponential backoff with jitter), seeks
    back to the first unwritten offset and goes on; it does not exit.

    Example::

        sink = Sink(load_settings(), SinkOptions(once=True))
        stats = sink.run()      # returns when the topics are drained (once) or stop() is called

    Call :meth:`stop` (from a signal handler or another thread) to finish the current batch, commit and
    return.
    """

    def __init__(self, settings: Settings, options: SinkOptions | None = None) -> None:
        self.settings = settings
        self.options = options or SinkOptions()
        self.group_id = self.options.group_id or f"{settings.kafka.topic_prefix}-sink"
        self.topics = [topic_name(settings.kafka, kind) for kind in self.options.kinds]
        self.dlq_topic = topic_name(settings.kafka, "dlq")
        self.stats = SinkStats()
        self.health_port: int | None = None
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._admin: AdminClient | None = None
        self._producer: EventProducer | None = None
        self._writer: BulkWriter | None = None
        self._aliases: dict[str, str] = {}
        self._backoff = Backoff(self.options.backoff_initial_s, self.options.backoff_max_s)
        # batch state
        self._batch_start: dict[TP, int] = {}
        self._batch_next: dict[TP, int] = {}
        self._batch_opened = 0.0
        self._dead: list[tuple[Message, str, str]] = []
        # partition state
        self._assigned: set[TP] = set()
        self._committed: dict[TP, int] = {}
        self._ends: dict[TP, int] = {}
        self._unknown: set[TP] = set()
        self._ever_assigned = False
        self._paused_reason: str | None = None
        # monitoring
        self._interval = _Interval()
        self._lag: int | None = None
        self._last_progress = time.monotonic()
        self._last_tick = time.monotonic()
        self._next_lag = 0.0
        self._next_log = 0.0

    # -- public ---------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to write its batch, commit and return (thread- and signal-safe)."""
        self._stop.set()

    def health(self) -> dict[str, Any]:
        """``{"healthy": bool, "reason": …, "lag": …, …}``: unhealthy when there is lag and nothing was
        written for ``stall_timeout_s``, or when the loop itself stopped turning."""
        now = time.monotonic()
        since_progress = now - self._last_progress
        since_tick = now - self._last_tick
        reason = None
        if self._lag and since_progress > self.options.stall_timeout_s:
            reason = f"lag {self._lag} and nothing written for {since_progress:.0f} s"
            if self._paused_reason:
                reason += f" ({self._paused_reason})"
        elif since_tick > self.options.stall_timeout_s:
            reason = f"the sink loop has not turned for {since_tick:.0f} s"
        return {
            "healthy": reason is None,
            "reason": reason,
            "lag": self._lag,
            "indexed": self.stats.indexed,
            "dead_lettered": self.stats.dead_lettered,
            "seconds_since_progress": round(since_progress, 1),
            "paused": self._paused_reason,
            "partitions": len(self._assigned),
            "group": self.group_id,
        }

    def run(self) -> SinkStats:
        """Run until :meth:`stop` (or, with ``once``, until the topics are drained). Returns the totals.

        Raises :class:`~cryptoflow.errors.DataError` on a malformed message with ``on_malformed="fail"``,
        :class:`~cryptoflow.errors.ConfigurationError` on wrong credentials or settings.
        """
        started = time.monotonic()
        self._prepare()
        health = None
        if self.options.health_port is not None:
            health = HealthServer(self.health, self.options.health_port, self.options.health_host).start()
            self.health_port = health.port
        self._producer = EventProducer(self.settings.kafka, linger_ms=5)
        self._consumer = Consumer(self._consumer_config())
        self._admin = AdminClient(client_config(self.settings.kafka))
        self._consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        log.info(
            "sink: group %s reading %s into %s", self.group_id, ", ".join(self.topics),
            ", ".join(sorted(set(self._aliases.values()))),
        )  # fmt: skip
        self._interval.started = time.monotonic()
        try:
            self._loop()
            self._flush()
        except BaseException:
            self._clear_batch()  # closing would hand it over (flush + commit): nothing of it may be committed
            raise
        finally:
            self._close(health)
            self.stats.elapsed_s = time.monotonic() - started
        log.info(
            "sink: done: %d document(s) indexed, %d dead-lettered, %d batch(es), %d retr%s in %.1f s",
            self.stats.indexed, self.stats.dead_lettered, self.stats.batches, self.stats.retries,
            "y" if self.stats.retries == 1 else "ies", self.stats.elapsed_s,
        )  # fmt: skip
        return self.stats

    # -- setup ----------------------------------------------------------------------------------------

    def _consumer_config(self) -> dict[str, Any]:
        return {
            **client_config(self.settings.kafka),
            "group.id": self.group_id,
            "client.id": "cryptoflow-sink",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.options.session_timeout_ms,
            "heartbeat.interval.ms": max(300, self.options.session_timeout_ms // 5),
            **self.options.consumer_config,
        }

    def _prepare(self) -> None:
        """Templates and topics; waits (with backoff) while Elasticsearch or Kafka are unavailable."""
        backoff = Backoff(self.options.backoff_initial_s, self.options.backoff_max_s)
        client = make_client(self.settings.elasticsearch)
        while True:
            try:
                aliases = install_templates(
                    client, self.settings.elasticsearch, self.options.refresh_interval
                )
                ensure_topics(self.settings.kafka, [*self.topics, self.dlq_topic])
                break
            except TemporaryError as exc:
                delay = backoff.next_delay()
                log.warning("sink: cannot start yet (%s); retrying in %.1f s", exc, delay)
                if self._stop.wait(delay):
                    raise
        self._aliases = {schema: aliases[kind] for schema, kind in EVENT_KINDS.items()}
        self._writer = BulkWriter(client)

    # -- the loop -------------------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._consumer is not None and self._writer is not None
        wait_s = self.options.batch_wait_ms / 1000.0
        while not self._stop.is_set():
            if self._unknown:
                self._init_positions()
            if self.options.once and self._drained():
                break
            room = self.options.batch_size - len(self._writer) - len(self._dead)
            if self._batch_start:
                timeout = max(0.0, self._batch_opened + wait_s - time.monotonic())
            else:
                timeout = min(1.0, wait_s) if self.options.once else 1.0
            messages = self._consumer.consume(num_messages=max(1, min(room, 10_000)), timeout=timeout)
            for message in messages:
                self._add(message)
            if self._batch_start and (
                len(self._writer) + len(self._dead) >= self.options.batch_size
                or time.monotonic() >= self._batch_opened + wait_s
                or (self.options.once and self._read_to_end())
            ):
                self._flush()
            self._tick()

    def _add(self, message: Message) -> None:
        assert self._writer is not None
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            if error.fatal():
                raise KafkaException(error)
            log.warning("sink: consumer error: %s", error.str())
            return
        tp = (message.topic(), message.partition())
        offset = message.offset()
        if not self._batch_start:
            self._batch_opened = time.monotonic()
        self._batch_start.setdefault(tp, offset)
        self._batch_next[tp] = offset + 1
        value = message.value()
        try:
            event = decode(value)
        except EventError as exc:
            self._malformed(message, exc.category, exc.reason)
            return
        source = value if b"\n" not in value and b"\r" not in value else encode(event)
        self._writer.add(self._aliases[event.schema_name], event.event_id, source, ref=message)

    def _malformed(self, message: Message, category: str, reason: str) -> None:
        where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
        if self.options.on_malformed == "fail":
            raise DataError(
                f"message {where} is not indexable ({category}): {reason}. Nothing of its batch was "
                f"committed; fix or skip it, or run with --on-malformed dlq to send it to {self.dlq_topic}"
            )
        if self._interval.warnings < _MAX_WARNINGS_PER_INTERVAL:
            log.warning("sink: %s -> %s (%s): %s", where, self.dlq_topic, category, reason)
        self._interval.warnings += 1
        self._dead.append((message, category, reason))

    def _flush(self) -> None:
        """Write the batch, dead-letter what must be, commit. On a temporary failure: back off and rewind."""
        if not self._batch_start:
            return
        assert self._writer is not None and self._producer is not None
        started = time.monotonic()
        try:
            result = self._writer.flush()
            for rejection in result.rejected:
                self._malformed(rejection.ref, "rejected_by_elasticsearch", rejection.reason)
            self._dead_letter()
        except (TemporaryError, DeliveryError, KafkaException) as exc:
            self._recover(exc)
            return
        offsets = dict(self._batch_next)
        dead = len(self._dead)
        self._clear_batch()
        self._commit(offsets)
        elapsed_ms = (time.monotonic() - started) * 1000.0
        self.stats.indexed += result.indexed
        self.stats.dead_lettered += dead
        self.stats.batches += 1
        self._interval.indexed += result.indexed
        self._interval.dead_lettered += dead
        self._interval.batches += 1
        self._interval.batch_ms_total += elapsed_ms
        self._interval.batch_ms_max = max(self._interval.batch_ms_max, elapsed_ms)
        self._last_progress = time.monotonic()
        if self._paused_reason is not None:
            log.info("sink: Elasticsearch is back; resumed")
            self._paused_reason = None
        self._backoff.reset()

    def _dead_letter(self) -> None:
        assert self._producer is not None
        if not self._dead:
            return
        for message, category, reason in self._dead:
            headers = list(message.headers() or [])
            headers += [
                (DLQ_HEADER_PREFIX + "category", category.encode()),
                (DLQ_HEADER_PREFIX + "reason", reason.encode("utf-8", "replace")[:4000]),
                (DLQ_HEADER_PREFIX + "topic", message.topic().encode()),
                (DLQ_HEADER_PREFIX + "partition", str(message.partition()).encode()),
                (DLQ_HEADER_PREFIX + "offset", str(message.offset()).encode()),
                (DLQ_HEADER_PREFIX + "timestamp_ms", str(message.timestamp()[1]).encode()),
                (DLQ_HEADER_PREFIX + "group", self.group_id.encode()),
            ]
            self._producer.send_raw(self.dlq_topic, message.value(), key=message.key(), headers=headers)
        self._producer.flush(timeout_s=30.0)

    def _commit(self, offsets: dict[TP, int]) -> None:
        assert self._consumer is not None
        if not offsets:
            return
        partitions = [
            TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()
        ]
        try:
            results = self._consumer.commit(offsets=partitions, asynchronous=False) or []
        except KafkaException as exc:
            log.warning(
                "sink: offsets not committed (%s); those messages will be read again and overwrite "
                "their documents",
                exc.args[0].str() if exc.args else exc,
            )
            return
        failed = [tp for tp in results if tp.error is not None]
        for tp in failed:
            log.warning("sink: offset of %s[%d] not committed: %s", tp.topic, tp.partition, tp.error)
        failed_keys = {(tp.topic, tp.partition) for tp in failed}
        self._committed.update({tp: off for tp, off in offsets.items() if tp not in failed_keys})
        self.stats.commits += 1

    def _clear_batch(self) -> None:
        if self._writer is not None:
            self._writer.clear()
        self._batch_start.clear()
        self._batch_next.clear()
        self._dead.clear()

    def _recover(self, exc: BaseException) -> None:
        """Pause, back off, seek back to the batch's first offsets, resume: the batch is read again."""
        assert self._consumer is not None
        rewind = dict(self._batch_start)
        self._clear_batch()
        delay = self._backoff.next_delay()
        self.stats.retries += 1
        self._paused_reason = f"waiting for Elasticsearch/Kafka: {exc}"
        log.warning("sink: batch not written (%s); partitions paused, retrying in %.1f s", exc, delay)
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.pause(assignment)
        deadline = time.monotonic() + delay
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # keeps the group membership alive; paused partitions deliver nothing, but be exact anyway
            message = self._consumer.poll(min(0.5, remaining))
            if message is not None and message.error() is None:
                rewind.setdefault((message.topic(), message.partition()), message.offset())
            self._tick()
        assignment = self._consumer.assignment()
        current = {(tp.topic, tp.partition) for tp in assignment}
        for (topic, partition), offset in rewind.items():
            if (topic, partition) in current:
                self._seek(TopicPartition(topic, partition, offset))
        if assignment:
            self._consumer.resume(assignment)

    def _seek(self, tp: TopicPartition) -> None:
        assert self._consumer is not None
        for attempt in range(50):
            try:
                self._consumer.seek(tp)
                return
            except KafkaException as exc:  # e.g. the fetcher of a just-assigned partition is not ready
                if attempt == 49:
                    raise TemporaryError(f"could not rewind {tp.topic}[{tp.partition}]: {exc}") from None
                self._consumer.poll(0.1)

    # -- rebalances -----------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned |= keys
        self._unknown |= keys
        self._ever_assigned = True
        log.info("sink: assigned %d partition(s)", len(partitions))
        if self._paused_reason is not None and partitions:
            consumer.assign(partitions)
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # hand over cleanly: write and commit what we hold before the partitions move
        if self._batch_start and self._writer is not None:
            try:
                result = self._writer.flush()
                for rejection in result.rejected:
                    self._malformed(rejection.ref, "rejected_by_elasticsearch", rejection.reason)
                self._dead_letter()
                offsets = dict(self._batch_next)
                self.stats.indexed += result.indexed
                self.stats.dead_lettered += len(self._dead)
                self._clear_batch()
                self._commit(offsets)
                self._last_progress = time.monotonic()
            except (TemporaryError, DeliveryError, KafkaException) as exc:
                log.warning(
                    "sink: could not write the batch before a rebalance (%s); it will be re-read", exc
                )
                self._clear_batch()
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._forget(keys)
        log.info("sink: revoked %d partition(s)", len(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("sink: lost %d partition(s); their uncommitted batch will be re-read", len(partitions))
        self._clear_batch()
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, keys: set[TP]) -> None:
        self._assigned -= keys
        self._unknown -= keys
        for key in keys:
            self._committed.pop(key, None)
            self._ends.pop(key, None)

    # -- positions, lag, drain ------------------------------------------------------------------------

    def _init_positions(self) -> None:
        """Committed offsets (or the start of the partition) and, with ``once``, the end to drain to."""
        assert self._consumer is not None
        keys = list(self._unknown)
        try:
            committed = self._consumer.committed([TopicPartition(t, p) for t, p in keys], timeout=10)
            earliest = self._list_offsets(keys, OffsetSpec.earliest())
            latest = self._list_offsets(keys, OffsetSpec.latest())
        except (KafkaException, TemporaryError) as exc:
            log.warning("sink: could not read partition offsets yet: %s", exc)
            return
        for tp in committed:
            key = (tp.topic, tp.partition)
            self._committed[key] = tp.offset if tp.offset >= 0 else earliest[key]
            self._ends[key] = latest[key]
            self._unknown.discard(key)

    def _list_offsets(self, keys: list[TP], spec: OffsetSpec) -> dict[TP, int]:
        """Earliest or latest offsets of many partitions in one request (the consumer's own
        ``get_watermark_offsets`` queues behind its fetches, ~0.5 s per partition)."""
        if not keys:
            return {}
        assert self._admin is not None
        futures = self._admin.list_offsets({TopicPartition(t, p): spec for t, p in keys}, request_timeout=10)
        try:
            return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
        except KafkaException as exc:
            raise TemporaryError(f"could not list offsets: {exc}") from None

    def _read_to_end(self) -> bool:
        return all(
            self._batch_next.get(tp, self._committed.get(tp, -1)) >= end for tp, end in self._ends.items()
        )

    def _drained(self) -> bool:
        if not self._ever_assigned or self._unknown or self._batch_start:
            return False
        return all(self._committed.get(tp, -1) >= self._ends.get(tp, 0) for tp in self._assigned)

    def _update_lag(self) -> None:
        keys = [key for key in self._assigned if key in self._committed]
        try:
            latest = self._list_offsets(keys, OffsetSpec.latest())
        except TemporaryError:
            return  # Kafka busy: keep the last figure
        self._lag = sum(max(0, latest[key] - self._committed[key]) for key in keys)
        if self._lag == 0 and not self._unknown:
            self._last_progress = time.monotonic()  # idle is not stalled

    def _tick(self) -> None:
        now = time.monotonic()
        self._last_tick = now
        if now >= self._next_lag:
            self._update_lag()
            self._next_lag = now + min(5.0, self.options.log_interval_s)
        if now >= self._next_log:
            if self._next_log:
                self._log_interval(now)
            self._next_log = now + self.options.log_interval_s

    def _log_interval(self, now: float) -> None:
        span = max(1e-9, now - self._interval.started)
        iv = self._interval
        latency = (
            f"{iv.batch_ms_total / iv.batches:.0f} ms avg, {iv.batch_ms_max:.0f} ms max"
            if iv.batches
            else "-"
        )
        log.info(
            "sink: %.0f docs/s (%d in %.0f s), %d batch(es) (%s), lag %s, dlq %d (total %d)%s",
            iv.indexed / span, iv.indexed, span, iv.batches, latency,
            "?" if self._lag is None else self._lag, iv.dead_lettered, self.stats.dead_lettered,
            f", PAUSED: {self._paused_reason}" if self._paused_reason else "",
        )  # fmt: skip
        if iv.warnings > _MAX_WARNINGS_PER_INTERVAL:
            log.warning(
                "sink: %d more dead-lettered message(s) not logged", iv.warnings - _MAX_WARNINGS_PER_INTERVAL
            )
        self._interval = _Interval(started=now)

    def _close(self, health: HealthServer | None) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("sink: closing the consumer: %s", exc)
        if self._producer is not None:
            try:
                self._producer.flush(timeout_s=10.0)
            except (DeliveryError, KafkaException) as exc:
                log.warning("sink: closing the dead-letter producer: %s", exc)
        if health is not None:
            health.stop()
