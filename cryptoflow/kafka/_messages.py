"""What a consumer delivered, with the types it has: confluent-kafka types a message's topic, partition,
offset and headers as optional because an error event or a hand-built message may lack them."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException, Message

log = logging.getLogger(__name__)


def message_position(message: Message) -> tuple[str, int, int]:
    """``(topic, partition, offset)`` of a message a consumer delivered (a record or a partition-EOF event).

    Raises ``ValueError`` for a message without them (one built by hand, or a client-level error).
    """
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError(
            f"not a consumed message: topic {topic!r}, partition {partition!r}, offset {offset!r}"
        )
    return topic, partition, offset


def message_headers(message: Message) -> list[tuple[str, bytes | None]]:
    """The headers of ``message`` in order, each value bytes (or ``None`` for a null value)."""
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [(name, value.encode() if isinstance(value, str) else value) for name, value in pairs]


def is_record(message: Message, consumer: str, ended: set[tuple[str, int]] | None = None) -> bool:
    """Whether ``message`` is a record to handle, and not one of the events a consumer also delivers.

    A partition-EOF event adds its ``(topic, partition)`` to ``ended`` (when given; it needs
    ``enable.partition.eof``), a record removes its own from there (that partition had more to read);
    any other error is logged as a warning naming the ``consumer``, except a fatal one, which raises
    :class:`~confluent_kafka.KafkaException`.
    """
    error = message.error()
    if error is None:
        if ended is not None:
            ended.discard(message_position(message)[:2])
        return True
    if error.code() == KafkaError._PARTITION_EOF:
        if ended is not None:
            ended.add(message_position(message)[:2])
    elif error.fatal():
        raise KafkaException(error)
    else:
        log.warning("%s: consumer error: %s", consumer, error.str())
    return False
