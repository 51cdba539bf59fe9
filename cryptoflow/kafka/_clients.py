"""Kafka client configuration from settings, topic names, and topic creation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic

from cryptoflow.config import KafkaSettings
from cryptoflow.errors import ConfigurationError, TemporaryError
from cryptoflow.events import EVENT_TOPIC_KINDS
from cryptoflow.kafka._security import client_reasons, creation_error, security_callbacks

log = logging.getLogger(__name__)

DLQ_KIND = "dlq"
"""The dead-letter topic's kind: it carries records that are not valid events (with the reason), so it
is a topic kind but no event kind."""

TOPIC_KINDS: tuple[str, ...] = (*EVENT_TOPIC_KINDS, DLQ_KIND)
"""Every topic kind: the event topics (``candles``, ``indicators``, ``signals``, ``trades``; the
executors' locks and errors travel with their trades), and the dead-letter queue."""

_T = TypeVar("_T")
_Client = TypeVar("_Client", Producer, Consumer, AdminClient)


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings shared by producers, consumers and admin clients: bootstrap, security, and
    the callbacks that turn a wrong password or an untrusted certificate into a
    :class:`~cryptoflow.errors.ConfigurationError` (raised from the client's next poll) and send
    librdkafka's log lines to the ``cryptoflow.kafka.librdkafka`` logger (each distinct line once per five
    minutes, all of them with ``--verbose``: a broker that is down is not a flood of lines)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
        **security_callbacks(settings),
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


def new_client(kind: type[_Client], settings: KafkaSettings, config: dict[str, Any] | None = None) -> _Client:
    """A ``Producer``, ``Consumer`` or ``AdminClient`` on :func:`client_config` plus ``config``.

    Raises :class:`~cryptoflow.errors.ConfigurationError` when librdkafka refuses the configuration
    (e.g. a CA file that holds no certificate).

    >>> consumer = new_client(Consumer, settings.kafka, {"group.id": "readers"})  # doctest: +SKIP
    """
    try:
        return kind({**client_config(settings), **(config or {})})
    except KafkaException as exc:
        raise creation_error(settings, exc) from None


def cluster_metadata(
    admin: AdminClient | Consumer,
    settings: KafkaSettings,
    timeout_s: float,
    *,
    topic: str | None = None,
    stop: threading.Event | None = None,
) -> ClusterMetadata:
    """``admin.list_topics`` in slices of at most a second, serving the client's callbacks in between:
    a wrong password or an untrusted certificate raises its ConfigurationError within about a second,
    and Ctrl-C or SIGTERM are served (a blocked librdkafka call defers Python's signal handlers).

    Raises :class:`~cryptoflow.errors.TemporaryError`, naming the servers and librdkafka's own reason
    (refused, unknown host...), when Kafka does not answer within ``timeout_s`` (sooner once ``stop`` is
    set)."""
    deadline = time.monotonic() + timeout_s
    reasons: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        try:
            return admin.list_topics(topic, timeout=max(0.1, min(1.0, remaining)))
        except KafkaException as exc:
            reasons.extend(client_reasons(admin))  # a security failure raises here, within a second
            if remaining > 1.0 and not (stop is not None and stop.is_set()):
                continue
            error = exc.args[0] if exc.args else exc
            reason = "; ".join(list(dict.fromkeys(reasons))[:2]) or (
                error.str() if hasattr(error, "str") else str(error)
            )
            raise TemporaryError(
                f"Kafka at {settings.bootstrap_servers} did not answer within {timeout_s:.0f} s ({reason}): "
                "start it, or point CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS at where it runs"
            ) from None


def topic_name(settings: KafkaSettings, kind: str) -> str:
    """``<prefix>.<kind>``, e.g. ``cryptoflow.candles``; ``kind`` is one of :data:`TOPIC_KINDS`."""
    if kind not in TOPIC_KINDS:
        raise ValueError(f"unknown topic kind {kind!r}; expected one of {', '.join(TOPIC_KINDS)}")
    return f"{settings.topic_prefix}.{kind}"


def ping(settings: KafkaSettings, timeout_s: float = 10.0) -> None:
    """Raise :class:`~cryptoflow.errors.TemporaryError` (naming the servers and librdkafka's reason) unless
    Kafka answers a metadata request within ``timeout_s``; a security failure is a ConfigurationError."""
    cluster_metadata(new_client(AdminClient, settings), settings, timeout_s)


def ensure_topics(
    settings: KafkaSettings,
    names: list[str],
    timeout_s: float | None = None,
    *,
    stop: threading.Event | None = None,
) -> list[str]:
    """Create the missing topics (configured partitions and replication); returns those it created.
    The dead-letter topic is compacted as well as expired (``cleanup.policy=compact,delete``).

    Raises :class:`~cryptoflow.errors.TemporaryError` when Kafka does not answer within ``timeout_s``
    (default: ``settings.connect_timeout_s``; sooner once ``stop`` is set; signals are served meanwhile),
    :class:`~cryptoflow.errors.ConfigurationError` when it refuses the topic for good.
    """
    if timeout_s is None:
        timeout_s = settings.connect_timeout_s
    admin = new_client(AdminClient, settings)
    existing = set(cluster_metadata(admin, settings, timeout_s, stop=stop).topics)
    missing = [name for name in names if name not in existing]
    if not missing:
        return []
    dlq = topic_name(settings, DLQ_KIND)
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
