"""A Kafka producer for events: idempotent, ``acks=all``, compressed, every delivery report checked."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import FrameType, TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from cryptoflow.config import KafkaSettings
from cryptoflow.errors import CryptoflowError, TemporaryError, Terminated
from cryptoflow.events import Event, encode, topic_kind
from cryptoflow.kafka._clients import ensure_topics, new_client, topic_name

__all__ = ["DeliveryError", "DeliveryListener", "EventProducer"]

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes | str | None]]
DeliveryListener = Callable[[KafkaError | None, Message], None]
_WARN_EVERY_S = 30.0  # flush(None): one warning this often while Kafka is away


class DeliveryError(CryptoflowError):
    """Kafka did not acknowledge a message (after the producer's own retries) or a flush timed out.

    The message names the topic and Kafka's reason; check that the brokers are reachable and the topic
    exists, then run again (events have deterministic ids, so re-publishing duplicates nothing)."""


class EventProducer:
    """Publishes events to ``<prefix>.<kind>`` topics, keyed by ``symbol|interval``.

    Idempotence and ``acks=all`` are on, batches are compressed (``zstd`` by default), and every
    delivery report is checked: a failed delivery raises :class:`DeliveryError` from the next
    :meth:`send`, :meth:`poll` or :meth:`flush`. A message is never given up by the producer itself:
    while the brokers are down (a restart, a network cut) messages wait in the local queue and go out
    when Kafka is back (librdkafka reconnects on its own); when the queue is full, :meth:`send` waits.
    Only :meth:`flush` bounds a wait, by its ``timeout_s``. Topics are created on first use with the
    configured partitions and replication factor. Used as a context manager it flushes on exit, also when
    the process is interrupted (SIGINT) or terminated (SIGTERM, turned into
    :class:`~cryptoflow.errors.Terminated`, a ``KeyboardInterrupt``, while the ``with`` block runs in the
    main thread).

    Example::

        with EventProducer(settings.kafka) as producer:
            for event in events:
                producer.send(event)
            producer.send_encoded("candles", encoded_candles, key=b"ETHUSDT|1m")  # a replay's batches
        # every event is acknowledged here

    Its own work per message is one ``produce`` call: topics are checked once each, and without a
    listener librdkafka reports only failed deliveries (``delivery.report.only.error``), so an
    acknowledged message costs no Python call at all while every failure is still seen.

    Parameters
    ----------
    settings: the Kafka settings (bootstrap servers, security, topic prefix, partitions, replication).
    linger_ms: how long to wait to fill a batch, in milliseconds (default 20).
    compression: ``zstd`` (default), ``lz4``, ``snappy``, ``gzip`` or ``none``.
    config: extra librdkafka settings, applied last.
    on_delivery: called with ``(error, message)`` for every delivery report, after the producer has
        counted it: ``error`` is ``None`` when Kafka acknowledged the message, ``message.value()`` is the
        bytes sent. It runs inside :meth:`send`, :meth:`poll` and :meth:`flush` (where reports are
        served), on the caller's thread; an exception it raises comes out of that call. Unset (default),
        only failed deliveries are reported (and raise): an acknowledged message costs no Python call.
        Benchmarks time acknowledgements with it::

            acked = []
            producer = EventProducer(settings.kafka, on_delivery=lambda error, message: acked.append(error))
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        linger_ms: int = 20,
        compression: str = "zstd",
        config: dict[str, Any] | None = None,
        on_delivery: DeliveryListener | None = None,
    ) -> None:
        self.settings = settings
        self._listening = on_delivery is not None
        conf: dict[str, Any] = {
            "client.id": "cryptoflow-producer",
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": compression,
            "linger.ms": linger_ms,
            "queue.buffering.max.messages": 500_000,
            # 0: no local timeout. With a timeout, a broker down longer than it (a restart after kill -9
            # recovers its logs first) failed every queued event and the service exited.
            "delivery.timeout.ms": 0,
            # without a listener only failures need a report: an acknowledged message costs no Python call
            "delivery.report.only.error": not self._listening,
        }
        conf.update(config or {})
        # one callback for every message (librdkafka's default), none stored per message
        conf["on_delivery"] = self._on_delivery
        if on_delivery is not None:

            def report(error: KafkaError | None, message: Message) -> None:
                self._on_delivery(error, message)
                on_delivery(error, message)

            conf["on_delivery"] = report
        self._producer = new_client(Producer, settings, conf)
        self._topics: dict[str, str] = {}  # topic kind -> topic, checked or created
        self._ready: set[str] = set()  # topics checked or created
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self._failed = 0
        self._acknowledged = 0  # counted by the reports when a listener wants every one
        self._pending_at_close = 0
        self.sent = 0
        self._previous_handler: Any = None
        self._closed = False

    # -- publishing -----------------------------------------------------------------------------------

    @property
    def delivered(self) -> int:
        """Messages Kafka acknowledged so far (each one sent and neither queued nor failed any more)."""
        if self._listening:
            return self._acknowledged
        pending = self._pending_at_close if self._closed else len(self._producer)
        return self.sent - pending - self._failed

    def topic_for(self, event: Event) -> str:
        """The topic an event is published to (``<prefix>.candles`` for a candle)."""
        return self.topic(topic_kind(event))

    def topic(self, kind: str) -> str:
        """The topic of a topic kind (``candles`` -> ``<prefix>.candles``), checked or created once."""
        topic = self._topics.get(kind)
        if topic is None:
            topic = topic_name(self.settings, kind)
            self._ensure_topic(topic)
            self._topics[kind] = topic
        return topic

    def send(self, event: Event) -> None:
        """Queue one event for delivery (asynchronous; :meth:`flush` waits for the acknowledgements)."""
        self.send_encoded(topic_kind(event), (encode(event),), key=event.key)

    def send_encoded(self, kind: str, values: Iterable[bytes], *, key: bytes) -> int:
        """Queue encoded events of one topic kind and one key (``symbol|interval``), in order; returns how
        many. The history path: :meth:`CandleEvent.encode_columns
        <cryptoflow.events.CandleEvent.encode_columns>` builds them, this sends them with one
        ``produce`` call each and nothing else per message."""
        topic = self.topic(kind)
        self._raise_failures()
        produce = self._producer.produce
        count = 0
        try:
            for value in values:
                try:
                    produce(topic, value, key)
                except BufferError:  # the local queue is full: let deliveries drain it
                    self._produce_when_room(topic, value, key)
                count += 1
        finally:
            self.sent += count
        self._producer.poll(0)
        return count

    def send_many(self, events: Iterable[Event]) -> int:
        """Queue several events; returns how many."""
        count = 0
        for event in events:
            self.send(event)
            count += 1
        return count

    def send_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue raw bytes (the dead-letter queue and tests use this; events go through :meth:`send`)."""
        self._ensure_topic(topic)
        self._raise_failures()
        try:
            self._producer.produce(topic, value=value, key=key, headers=list(headers or ()))
        except BufferError:  # the local queue is full: let deliveries drain it
            self._produce_when_room(topic, value, key, list(headers or ()))
        self.sent += 1
        self._producer.poll(0)

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports; raises :class:`DeliveryError` if one failed."""
        self._producer.poll(timeout_s)
        self._raise_failures()

    def flush(self, timeout_s: float | None = 60.0) -> None:
        """Wait until every queued message is acknowledged by Kafka.

        ``timeout_s=None`` waits for as long as Kafka is away, with a warning every 30 s (services that
        must not go on before their events are stored, e.g. a trading worker recording a decision).
        Raises :class:`DeliveryError` when a delivery failed or messages are still queued after
        ``timeout_s`` seconds. Waits in slices of a second: a blocked librdkafka call would defer
        Python's signal handlers (a second Ctrl-C) until it returns.
        """
        started = time.monotonic()
        deadline = None if timeout_s is None else started + timeout_s
        warned = started
        # short steps: a signal handler runs between them
        while remaining := self._producer.flush(
            1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
        ):
            self._raise_failures()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise DeliveryError(
                    f"{remaining} message(s) not acknowledged by Kafka at {self.settings.bootstrap_servers} "
                    f"after {timeout_s:g} s; check that the brokers are up"
                )
            if deadline is None and now - warned >= _WARN_EVERY_S:
                warned = now
                log.warning(
                    "waiting for Kafka at %s: %d message(s) not acknowledged for %.0f s",
                    self.settings.bootstrap_servers, remaining, now - started,
                )  # fmt: skip
        self._raise_failures()
        if warned != started:
            log.info("Kafka acknowledged every message again after %.0f s", time.monotonic() - started)

    def pending(self) -> int:
        """Messages queued or in flight."""
        return len(self._producer)

    def close(self) -> None:
        """Release the producer's connections (the context manager does this on exit, after a flush).

        Call :meth:`flush` first: whatever is still queued when it is closed is dropped. Safe to call
        twice."""
        if self._closed:
            return
        self._pending_at_close = len(self._producer)
        self._closed = True
        if self._pending_at_close:
            self._producer.purge()
        self._producer.close()

    # -- internals ------------------------------------------------------------------------------------

    def _ensure_topic(self, topic: str) -> None:
        """Create ``topic`` if needed; while Kafka does not answer, wait (one warning per attempt)."""
        while topic not in self._ready:
            try:
                ensure_topics(self.settings, [topic], timeout_s=10.0)
            except TemporaryError as exc:
                log.warning("cannot check or create topic %s yet (%s); retrying", topic, exc)
                time.sleep(1.0)
                continue
            self._ready.add(topic)

    def _produce_when_room(
        self, topic: str, value: bytes | None, key: bytes | str | None, headers: list | None = None
    ) -> None:
        """The local queue is full: serve reports until it takes the message, for as long as Kafka is
        away (a message is never given up here; a failed delivery raises)."""
        while True:
            self._producer.poll(0.05)
            self._raise_failures()
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers)
                return
            except BufferError:
                continue

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self._acknowledged += 1
            return
        with self._lock:
            self._failed += 1
            self._failures.append(f"{message.topic()}: {error.str()} ({error.name()})")

    def _raise_failures(self) -> None:
        if self._failures:
            with self._lock:
                failures, self._failures = self._failures, []
            shown = "; ".join(failures[:3]) + (
                f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
            )
            raise DeliveryError(f"Kafka did not accept {len(failures)} message(s): {shown}")

    # -- context manager: flush on exit, SIGTERM -> KeyboardInterrupt ------------------------------------

    def __enter__(self) -> EventProducer:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the CLI installs its own
        ):
            self._previous_handler = signal.signal(signal.SIGTERM, _terminate)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None and issubclass(exc_type, KeyboardInterrupt) and self.pending():
                log.warning("interrupted: delivering the %d queued message(s) before exiting", self.pending())
            try:
                self.flush()
            except (DeliveryError, KafkaException, TemporaryError) as error:
                if exc_type is None:
                    raise
                log.error("could not deliver the queued messages while exiting: %s", error)
        finally:
            self.close()
            if self._previous_handler is not None:
                signal.signal(signal.SIGTERM, self._previous_handler)
                self._previous_handler = None


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")
