"""The Kafka -> Elasticsearch sink loop: consume, validate, bulk-write, dead-letter, commit.

The loop is :class:`Sink`'s own; its parts are small types beside it: the open and in-flight batches
(``_inflight.InFlight``), the offsets read and committed per partition (``_offsets.Offsets``), the
dead-letter producer (``_dlq.DeadLetterPublisher``) and the ``--give-up-after`` clock
(``_outage.Outage``). As in quix-streams' sink contract, a batch's offsets are committed only after its
flush succeeded, batch after batch in order.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from cryptoflow.config import Settings
from cryptoflow.elastic import FlushResult, IndexBlocked, IndexRouter, install_templates, make_client
from cryptoflow.errors import DataError, TemporaryError
from cryptoflow.events import EventError, decode, encode
from cryptoflow.kafka import DeliveryError, ensure_topics, is_record, message_position, new_client, topic_name
from cryptoflow.retry import Backoff
from cryptoflow.sink._dlq import DeadLetterPublisher
from cryptoflow.sink._health import HealthServer
from cryptoflow.sink._inflight import TP, Batch, InFlight, batch_bytes
from cryptoflow.sink._monitor import Monitor, SinkStats
from cryptoflow.sink._offsets import Offsets
from cryptoflow.sink._options import SinkOptions
from cryptoflow.sink._outage import Outage

__all__ = ["Sink"]

log = logging.getLogger("cryptoflow.sink")

_RETRYABLE = (TemporaryError, DeliveryError, KafkaException)


class Sink:
    """Reads event topics as a consumer group and indexes every event into Elasticsearch.

    Guarantees: offsets are committed only after Elasticsearch acknowledged every document of the
    batch and the dead-letter queue acknowledged every rejected message, batch after batch in order;
    documents are written by ``event_id`` into the time partition of the event's own time (see
    :class:`~cryptoflow.elastic.IndexRouter`), so what is read again after a crash overwrites itself. When
    Elasticsearch is unreachable, overloaded or failing the sink pauses its partitions, waits
    (exponential backoff with jitter), seeks back to the first unwritten offset and goes on; it exits
    only when the outage lasts longer than ``give_up_after_s`` (if set). An index block (the flood-stage
    disk watermark's read-only block) pauses it the same way, with one error line naming the block and
    how to lift it, and makes it unhealthy at once. Up to ``max_in_flight`` bulk requests run at once
    while the next batch is read.

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
        self.monitor = Monitor(self.options.log_interval_s, self.options.stall_timeout_s)
        self.health_port: int | None = None
        self._stop = threading.Event()
        self._dead_letters = DeadLetterPublisher(settings.kafka, self.group_id)
        self._router = IndexRouter(settings)  # each event's time partition, from its own time
        self._backoff = Backoff(self.options.backoff_initial_s, self.options.backoff_max_s)
        self._outage = Outage(self.options.give_up_after_s)
        self._max_bytes = self.options.batch_max_bytes
        # made once Elasticsearch and Kafka are up (run)
        self._consumer: Consumer | None = None
        self._offsets: Offsets | None = None
        self._inflight: InFlight | None = None
        self._aborting = False
        self._next_lag = 0.0

    @property
    def dlq_topic(self) -> str:
        """The dead-letter topic, ``<prefix>.dlq``."""
        return self._dead_letters.topic

    @property
    def stats(self) -> SinkStats:
        """Totals since start."""
        return self.monitor.stats

    def stop(self) -> None:
        """Ask the loop to write its batch, commit and return (thread- and signal-safe)."""
        self._stop.set()

    def health(self) -> dict[str, Any]:
        """``{"healthy": bool, "reason": …, "lag": …, …}``: unhealthy when there is lag and nothing was
        written for ``stall_timeout_s``, or when the loop itself stopped turning."""
        return self.monitor.health(self.group_id)

    def run(self) -> SinkStats:
        """Run until :meth:`stop` (or, with ``once``, until the topics are drained). Returns the totals.

        Raises :class:`~cryptoflow.errors.DataError` on a malformed message with ``on_malformed="fail"``,
        :class:`~cryptoflow.errors.ConfigurationError` on wrong credentials or settings.
        """
        started = time.monotonic()
        client = self._prepare()
        if client is None:  # stopped while waiting for Elasticsearch or Kafka: nothing was read
            self.stats.elapsed_s = time.monotonic() - started
            log.info("sink: stopped before it started")
            return self.stats
        health = None
        if self.options.health_port is not None:
            health = HealthServer(self.health, self.options.health_port, self.options.health_host).start()
            self.health_port = health.port
        self._inflight = InFlight(client, self.options.max_in_flight)
        self._dead_letters.start()
        admin = new_client(AdminClient, self.settings.kafka)
        self._consumer = new_client(Consumer, self.settings.kafka, self._consumer_config())
        self._offsets = Offsets(self._consumer, admin)
        self._consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        log.info("sink: group %s reading %s", self.group_id, ", ".join(self.topics))
        try:
            self._loop()
            self._write_all()
        except BaseException:
            self._aborting = True  # closing would hand the partitions over (flush + commit): nothing may be
            self._abandon()
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
            "group.id": self.group_id,
            "client.id": "cryptoflow-sink",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.options.session_timeout_ms,
            "heartbeat.interval.ms": max(300, self.options.session_timeout_ms // 5),
            **self.options.consumer_config,
        }

    def _prepare(self) -> Any:
        """Templates and topics; waits (with backoff) while Elasticsearch or Kafka are unavailable.
        Returns the client, or None when stopped meanwhile."""
        client = make_client(self.settings.elasticsearch)
        self._outage.begin()  # the wait for the services starts now
        while True:
            try:
                install_templates(client, self.settings.elasticsearch, self.options.refresh_interval)
                ensure_topics(
                    self.settings.kafka,
                    [*self.topics, self.dlq_topic],
                    timeout_s=self._outage.attempt_timeout(self.settings.kafka.connect_timeout_s),
                    stop=self._stop,
                )
                break
            except TemporaryError as exc:
                self._outage.give_up_if_too_long(exc)
                delay = min(self._backoff.next_delay(), self._outage.attempt_timeout(3600.0))
                log.warning("sink: cannot start yet (%s); retrying in %.1f s", exc, delay)
                if self._stop.wait(delay):
                    return None
        self._outage.end()
        self._backoff.reset()
        return client

    # -- the loop -------------------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._consumer is not None and self._offsets is not None and self._inflight is not None
        wait_s = self.options.batch_wait_ms / 1000.0
        idle_s = min(1.0, wait_s) if self.options.once else 1.0
        while not self._stop.is_set():
            if self._offsets.unknown:
                self._offsets.load()
            if self.options.once and self._drained():
                break
            batch = self._inflight.open
            if not batch.start:
                # the first message opens the batch as soon as it arrives
                first = self._consumer.poll(0.05 if len(self._inflight) else idle_s)
                if first is not None:
                    self._add(first)
            if len(batch):
                room = self.options.batch_size - len(batch)
                # no bulk request running: write as soon as nothing more is waiting to be read, instead
                # of lingering for batch_wait_ms (a trickle of events waits for Elasticsearch, not for
                # the clock); while requests run, batches fill up to their limits as before
                idle = not len(self._inflight)
                timeout = 0.0 if idle else max(0.0, batch.opened + wait_s - time.monotonic())
                caught_up = False
                if room > 0 and not (self.options.once and self._offsets.read_to_end()):
                    messages = self._consumer.consume(num_messages=min(room, 10_000), timeout=timeout)
                    for message in messages:
                        self._add(message)  # a batch full by bytes is submitted there, the next opened
                    caught_up = idle and not messages
                batch = self._inflight.open
                if len(batch) and (
                    caught_up
                    or len(batch) >= self.options.batch_size
                    or time.monotonic() >= batch.opened + wait_s
                    or (self.options.once and self._offsets.read_to_end())
                ):
                    self._submit()
            self._collect(block=False)
            self._tick()

    def _add(self, message: Message) -> None:
        assert self._inflight is not None and self._offsets is not None
        batch = self._inflight.open
        if not is_record(message, "sink"):
            return
        topic, partition, offset = message_position(message)
        tp = (topic, partition)
        value = message.value()
        try:
            event = decode(value)
        except EventError as exc:
            self._take(batch, tp, offset)
            self._malformed(batch, message, exc.category, exc.reason)
            return
        source = value if value is not None and b"\n" not in value and b"\r" not in value else encode(event)
        index, doc_id = self._router.index_of(event), event.event_id
        size = batch_bytes(index, doc_id, source)
        if batch.size_bytes and batch.size_bytes + size > self._max_bytes:
            self._inflight.submit_open()  # full by bytes: this document opens the next batch
            batch = self._inflight.open
        self._take(batch, tp, offset)
        batch.add(index, doc_id, source, ref=message, size=size)

    def _take(self, batch: Batch, tp: TP, offset: int) -> None:
        """The message at ``offset`` of ``tp`` is read into ``batch``."""
        assert self._offsets is not None
        if not batch.start:
            batch.opened = time.monotonic()
        batch.note(tp, offset)
        self._offsets.read(tp, offset)

    def _malformed(self, batch: Batch, message: Message, category: str, reason: str) -> None:
        where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
        if self.options.on_malformed == "fail":
            raise DataError(
                f"message {where} is not indexable ({category}): {reason}. Nothing of its batch was "
                f"committed; fix or skip it, or run with --on-malformed dlq to send it to {self.dlq_topic}"
            )
        self.monitor.warn_dead("sink: %s -> %s (%s): %s", where, self.dlq_topic, category, reason)
        batch.dead.append((message, category, reason))

    def _submit(self) -> None:
        """Send the current batch to Elasticsearch (in the background) and open the next one."""
        assert self._inflight is not None
        self._inflight.submit_open()
        self._collect(block=True)

    def _collect(self, block: bool) -> None:
        """Finish written batches in order (dead letters, commit); on a temporary failure, recover."""
        assert self._inflight is not None
        try:
            self._inflight.done(block, self._finish)
        except _RETRYABLE as exc:
            self._recover(exc)

    def _write_all(
        self, unwritten: str = "stopping with unwritten batches (%s); they will be read again"
    ) -> None:
        """Write and commit what was read (at the end, before a rebalance); what cannot be written now is
        read again, by this sink next time or by the partitions' new owner (``unwritten`` says which)."""
        assert self._inflight is not None
        self._inflight.submit_open()
        try:
            self._inflight.drain(self._finish)
        except _RETRYABLE as exc:
            log.warning("sink: " + unwritten, exc)
            self._abandon()

    def _finish(self, batch: Batch, result: FlushResult) -> None:
        """A batch Elasticsearch acknowledged: its dead letters, then its offsets (the oldest batch first)."""
        assert self._offsets is not None
        for rejection in result.rejected:
            self._malformed(batch, rejection.ref, "rejected_by_elasticsearch", rejection.reason)
        self._dead_letters.publish(batch.dead)
        if self._offsets.commit(batch.next):
            self.stats.commits += 1
        self.monitor.batch_written(
            result.indexed, len(batch.dead), (time.monotonic() - batch.submitted) * 1e3
        )
        if self.monitor.blocked is not None:
            log.info("sink: Elasticsearch accepts writes again (the index block is lifted); resumed")
        elif self.monitor.paused is not None:
            log.info("sink: Elasticsearch is back; resumed")
        self.monitor.paused = self.monitor.blocked = None
        self._backoff.reset()
        self._outage.end()

    def _abandon(self) -> dict[TP, int]:
        """Drop every batch not yet committed; returns the first offset of each partition they held."""
        return self._inflight.abandon() if self._inflight is not None else {}

    def _recover(self, exc: BaseException) -> None:
        """Pause, back off, seek back to the first unwritten offsets, resume: the batches are read again."""
        assert self._consumer is not None and self._offsets is not None
        rewind = self._abandon()
        self._outage.give_up_if_too_long(exc)
        delay = self._backoff.next_delay()
        self.stats.retries += 1
        if isinstance(exc, IndexBlocked):  # may last hours: one line when it starts, not one per retry
            if self.monitor.blocked != str(exc):
                log.error("sink: paused: %s. The sink resumes by itself once writes are accepted.", exc)
            else:
                log.debug("sink: still blocked; retrying in %.1f s", delay)
            self.monitor.blocked = str(exc)
            self.monitor.paused = f"index blocked: {exc}"
        else:
            self.monitor.paused = f"waiting for Elasticsearch/Kafka: {exc}"
            log.warning("sink: batch not written (%s); partitions paused, retrying in %.1f s", exc, delay)
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.pause(assignment)
        deadline = time.monotonic() + delay
        while not self._stop.is_set() and time.monotonic() < deadline:
            # keeps the group membership alive; paused partitions deliver nothing, but be exact anyway
            message = self._consumer.poll(min(0.5, max(0.0, deadline - time.monotonic())))
            if message is not None and message.error() is None:
                topic, partition, offset = message_position(message)
                rewind.setdefault((topic, partition), offset)
            self._tick()
        assignment = self._consumer.assignment()
        current = {(tp.topic, tp.partition) for tp in assignment}
        for tp, offset in rewind.items():
            if tp in current:
                self._offsets.seek(tp, offset)
        if assignment:
            self._consumer.resume(assignment)

    # -- rebalances -----------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._offsets is not None
        self._offsets.assign({(tp.topic, tp.partition) for tp in partitions})
        self.monitor.partitions = len(self._offsets.assigned)
        log.info("sink: assigned %d partition(s)", len(partitions))
        if self.monitor.paused is not None and partitions:
            consumer.assign(partitions)
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # hand over cleanly: write and commit what we hold before the partitions move
        if not self._aborting and self._inflight is not None:
            self._write_all("could not write before a rebalance (%s); the new owner reads it again")
        self._forget({(tp.topic, tp.partition) for tp in partitions})
        log.info("sink: revoked %d partition(s)", len(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning(
            "sink: lost %d partition(s); their uncommitted batches will be read again", len(partitions)
        )
        self._abandon()
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, keys: set[TP]) -> None:
        assert self._offsets is not None
        self._offsets.forget(keys)
        self.monitor.partitions = len(self._offsets.assigned)

    # -- drain, lag -----------------------------------------------------------------------------------

    def _drained(self) -> bool:
        """``once``: nothing open, nothing in flight, every partition committed to its end."""
        offsets, inflight = self._offsets, self._inflight
        if offsets is None or inflight is None or not offsets.ever_assigned or offsets.unknown:
            return False
        if inflight.open.start or len(inflight):
            return False
        return offsets.committed_to_end()

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_lag:
            lag = self._offsets.lag() if self._offsets is not None else None
            if lag is not None:
                self.monitor.set_lag(lag)
            self._next_lag = now + min(5.0, self.options.log_interval_s)
        self.monitor.tick()

    def _close(self, health: HealthServer | None) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("sink: closing the consumer: %s", exc)
        if self._inflight is not None:
            self._inflight.close()
        self._dead_letters.close()
        if health is not None:
            health.stop()
