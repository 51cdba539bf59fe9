"""The dead-letter queue (``<prefix>.dlq``): what the sink writes there, and reading it back once.

A dead letter is keyed by where the refused message was read, ``<topic>/<partition>/<offset>``, and its
headers are derived from the message alone. When the sink crashes (or a commit fails) after the dead
letter was acknowledged but before its offsets were committed, the message is read and dead-lettered
again: the second copy is byte for byte the first, so a reader (:func:`read_dead_letters`) or log
compaction tells a re-delivery from a new dead letter by its key.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from cryptoflow.config import KafkaSettings
from cryptoflow.errors import TemporaryError
from cryptoflow.kafka import (
    DLQ_KIND,
    DeliveryError,
    EventProducer,
    cluster_metadata,
    message_headers,
    message_position,
    new_client,
    topic_name,
)

__all__ = ["DLQ_HEADER_PREFIX", "DeadLetter", "DeadLetterPublisher", "dead_letter", "read_dead_letters"]

log = logging.getLogger("cryptoflow.sink")

DLQ_HEADER_PREFIX = "cryptoflow.dlq."
"""Headers added to dead-lettered messages: ``category``, ``reason``, ``topic``, ``partition``, ``offset``,
``timestamp_ms``, ``group`` and, when the message had one, its original ``key`` (its own headers are
kept in front)."""


def dead_letter(
    message: Message, category: str, reason: str, group: str
) -> tuple[bytes, bytes | None, list[tuple[str, bytes | None]]]:
    """``(key, value, headers)`` of the dead letter of ``message``: the same every time it is refused."""
    topic, partition, offset = message_position(message)
    headers = message_headers(message)
    headers += [
        (DLQ_HEADER_PREFIX + "category", category.encode()),
        (DLQ_HEADER_PREFIX + "reason", reason.encode("utf-8", "replace")[:4000]),
        (DLQ_HEADER_PREFIX + "topic", topic.encode()),
        (DLQ_HEADER_PREFIX + "partition", str(partition).encode()),
        (DLQ_HEADER_PREFIX + "offset", str(offset).encode()),
        (DLQ_HEADER_PREFIX + "timestamp_ms", str(message.timestamp()[1]).encode()),
        (DLQ_HEADER_PREFIX + "group", group.encode()),
    ]
    key = message.key()
    if key is not None:
        headers.append((DLQ_HEADER_PREFIX + "key", key))
    return f"{topic}/{partition}/{offset}".encode(), message.value(), headers


class DeadLetterPublisher:
    """Writes refused messages to ``<prefix>.dlq`` for the consumer group ``group``, and waits until Kafka
    acknowledged them: the sink commits a batch's offsets only after :meth:`publish` returned.

    The producer starts with :meth:`start` (once Kafka is known to be up) and stops with :meth:`close`.
    """

    def __init__(self, settings: KafkaSettings, group: str) -> None:
        self.settings = settings
        self.group = group
        self.topic = topic_name(settings, DLQ_KIND)
        self._producer: EventProducer | None = None

    def start(self) -> None:
        """Open the producer."""
        self._producer = EventProducer(self.settings, linger_ms=5)

    def publish(self, dead: list[tuple[Message, str, str]]) -> None:
        """Send the dead letter of each ``(message, category, reason)`` and wait for the acknowledgements
        (raises :class:`~cryptoflow.kafka.DeliveryError` when Kafka does not take them)."""
        assert self._producer is not None, "start() first"
        if not dead:
            return
        for message, category, reason in dead:
            # keyed by the message's own topic/partition/offset: written again after a crash before the
            # commit, it is the same record, which readers (read_dead_letters) and compaction drop
            key, value, headers = dead_letter(message, category, reason, self.group)
            self._producer.send_raw(self.topic, value, key=key, headers=headers)
        self._producer.flush(timeout_s=30.0)

    def close(self) -> None:
        """Deliver what is queued (10 s at most) and close the producer."""
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout_s=10.0)
        except (DeliveryError, KafkaException) as exc:
            log.warning("sink: closing the dead-letter producer: %s", exc)
        finally:
            self._producer.close()


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as read back: where the refused message was (``topic``, ``partition``,
    ``offset``; ``id`` joins them), why (``category``, ``reason``), and the message itself (``key``,
    ``value``, its own ``headers``)."""

    id: str
    topic: str
    partition: int
    offset: int
    category: str
    reason: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes | None]

    @classmethod
    def from_message(cls, message: Message) -> DeadLetter:
        """Parse a message of the dead-letter topic."""
        headers: dict[str, Any] = {}
        own: dict[str, bytes | None] = {}
        for name, value in message_headers(message):
            if name.startswith(DLQ_HEADER_PREFIX):
                headers[name[len(DLQ_HEADER_PREFIX) :]] = value
            else:
                own[name] = value

        def text(name: str) -> str:
            return (headers.get(name) or b"").decode("utf-8", "replace")

        topic, partition, offset = text("topic"), int(text("partition") or -1), int(text("offset") or -1)
        letter_id = f"{topic}/{partition}/{offset}"
        # letters of earlier versions are keyed by the original key, and have no "key" header
        own_key = message.key() if message.key() != letter_id.encode() else None
        return cls(
            id=letter_id,
            topic=topic,
            partition=partition,
            offset=offset,
            category=text("category"),
            reason=text("reason"),
            key=headers.get("key", own_key),
            value=message.value(),
            headers=own,
        )


def read_dead_letters(settings: KafkaSettings, timeout_s: float = 60.0) -> list[DeadLetter]:
    """Every dead letter of ``<prefix>.dlq``, from the start to the end of each partition, once each.

    A copy whose ``id`` was seen already (the same message dead-lettered again after a crash or a failed
    commit) is left out. Joins no consumer group and commits nothing. Raises
    :class:`~cryptoflow.errors.TemporaryError` when Kafka does not answer within ``timeout_s``.
    """
    consumer = new_client(
        Consumer,
        settings,
        {
            "group.id": f"{settings.topic_prefix}-dlq-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        },
    )
    topic = topic_name(settings, DLQ_KIND)
    letters: dict[str, DeadLetter] = {}
    deadline = time.monotonic() + timeout_s
    try:
        # nothing is assigned yet, so serving the consumer's callbacks in between reads no message
        metadata = cluster_metadata(consumer, settings, timeout_s, topic=topic).topics[topic]
        if metadata.error is not None:  # no dead letter was ever written
            return []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        ended: set[int] = set()
        while len(ended) < len(metadata.partitions):
            if time.monotonic() > deadline:
                raise TemporaryError(f"{topic} was not read to its end within {timeout_s:g} s")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ended.add(message_position(message)[1])
                continue
            letter = DeadLetter.from_message(message)
            letters.setdefault(letter.id, letter)
    finally:
        consumer.close()
    return list(letters.values())
