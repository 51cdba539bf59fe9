"""Kafka: client configuration from settings, topic naming and creation, and the event producer."""

from cryptoflow.kafka._clients import (
    DLQ_KIND,
    TOPIC_KINDS,
    client_config,
    cluster_metadata,
    ensure_topics,
    new_client,
    ping,
    retry_retriable,
    topic_name,
)
from cryptoflow.kafka._messages import is_record, message_headers, message_position
from cryptoflow.kafka._producer import DeliveryError, DeliveryListener, EventProducer

__all__ = [
    "DLQ_KIND",
    "TOPIC_KINDS",
    "DeliveryError",
    "DeliveryListener",
    "EventProducer",
    "client_config",
    "cluster_metadata",
    "ensure_topics",
    "is_record",
    "message_headers",
    "message_position",
    "new_client",
    "ping",
    "retry_retriable",
    "topic_name",
]
