"""Kafka client configuration from settings, topic names, and topic creation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from cryptoflow.config import KafkaSettings
from cryptoflow.errors import ConfigurationError, TemporaryError

log = logging.getLogger(__name__)

TOPIC_KINDS = ("candles", "indicators", "signals", "trades", "dlq")

_T = TypeVar("_T")


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
    """Create the missing topics (configured partitions and replication); returns those it created.
    The dead-letter topic is compacted as well as expired (``cleanup.policy=compact,delete``).

    Raises :class:`~cryptoflow.errors.TemporaryError` when Kafka does not answer (try again later),
    :class:`~cryptoflow.errors.ConfigurationError` when it refuses the topic for good.
    """
    admin = AdminClient(client_config(settings))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise TemporaryError(f"Kafka at {settings.bootstrap_servers} did not answer: {exc}") from None
    missing = [name for name in names if name not in existing]
    if not missing:
        return []
    dlq = topic_name(settings, "dlq")
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                settings.partitions,
                settings.replication_factor,
                # dead letters are keyed by the refused message's topic/partition/offset: compaction drops
                # a letter written twice (a crash between the DLQ's ack and the sink's commit)
                config={"cleanup.policy": "compact,delete"} if name == dlq else {},
            )
            for name in missing
        ],
        operation_timeout=timeout_s,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" in str(exc):  # another process created it meanwhile
                continue
            error = exc.args[0] if exc.args else None
            if error is not None and not error.retriable():  # e.g. a replication factor above the brokers
                raise ConfigurationError(
                    f"Kafka refused to create topic {name!r}: {error.str()}; check "
                    "CRYPTOFLOW_KAFKA__PARTITIONS, CRYPTOFLOW_KAFKA__REPLICATION_FACTOR and the user's ACLs"
                ) from None
            raise TemporaryError(f"could not create topic {name!r}: {exc}") from None
    log.info("created topics %s", ", ".join(created))
    return created


def retry_retriable(call: Callable[[], _T], timeout_s: float = 30.0, pause_s: float = 0.5) -> _T:
    """Run an admin call, again while Kafka answers with a retriable error (``NOT_COORDINATOR`` and
    ``COORDINATOR_LOAD_IN_PROGRESS`` while a broker starts, a leader election...), up to ``timeout_s``.

    >>> retry_retriable(lambda: admin.describe_consumer_groups([group])[group].result(10))  # doctest: +SKIP
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = getattr(error, "retriable", None)
            if not (callable(retriable) and retriable()) or time.monotonic() + pause_s > deadline:
                raise
            time.sleep(pause_s)
