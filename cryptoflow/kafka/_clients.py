"""Kafka client configuration from settings, topic names, and topic creation."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from cryptoflow.config import KafkaSettings
from cryptoflow.errors import TemporaryError

log = logging.getLogger(__name__)

TOPIC_KINDS = ("candles", "indicators", "signals", "trades", "dlq")


def client_config(settings: KafkaSettings) -> dict[str, str]:
    """librdkafka settings (bootstrap and security) shared by producers, consumers and admin clients."""
    config = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
    if settings.sasl_username:
        config["sasl.username"] = settings.sasl_username
    if settings.sasl_password:
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_ca_location:
        config["ssl.ca.location"] = str(settings.ssl_ca_location)
    return config


def topic_name(settings: KafkaSettings, kind: str) -> str:
    """``<prefix>.<kind>``, e.g. ``cryptoflow.candles``; ``kind`` is one of :data:`TOPIC_KINDS`."""
    if kind not in TOPIC_KINDS:
        raise ValueError(f"unknown topic kind {kind!r}; expected one of {', '.join(TOPIC_KINDS)}")
    return f"{settings.topic_prefix}.{kind}"


def ensure_topics(settings: KafkaSettings, names: list[str], timeout_s: float = 30.0) -> list[str]:
    """Create the missing topics (configured partitions and replication); returns those it created."""
    admin = AdminClient(client_config(settings))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise TemporaryError(f"Kafka at {settings.bootstrap_servers} did not answer: {exc}") from None
    missing = [name for name in names if name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(name, settings.partitions, settings.replication_factor) for name in missing],
        operation_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):  # another process created it meanwhile
                raise TemporaryError(f"could not create topic {name!r}: {exc}") from None
    log.info("created topics %s", ", ".join(created))
    return created
