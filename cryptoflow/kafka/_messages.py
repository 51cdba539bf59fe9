"""What a consumer delivered, with the types it has: confluent-kafka types a message's topic, partition,
offset and headers as optional because an error event or a hand-built message may lack them."""

from __future__ import annotations

from confluent_kafka import Message


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
