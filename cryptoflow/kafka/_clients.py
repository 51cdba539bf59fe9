"""Kafka client configuration from settings, topic names, and topic creation."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from cryptoflow.config import KafkaSettings
from cryptoflow.errors import TemporaryError

log = logging.getLogger(__name__)

TOPIC_KINDS = ("candles", "indicators", "signals", "trades", "dlq")

_T = TypeVar("_T")


class _LibrdkafkaLog(logging.Filter):
    """librdkafka's own log lines, tamed: it repeats a failure at every reconnect attempt (every 0.1 to
    10 s, for every client), so each distinct line passes once per ``window_s`` at most (every one with
    ``--verbose``), at WARNING at most, without the thread and instance tags. What the user must act on
    is said by our own messages (which name the setting); this line gives librdkafka's reason."""

    _TAGS = re.compile(r"^\[thrd:[^\]]*\]: ")
    _VARIABLE = re.compile(r"\(after \d+ms in state \w+[^)]*\)|#\w+-\d+|\d+ms")

    def __init__(self, window_s: float = 300.0) -> None:
        super().__init__()
        self.window_s = window_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._captured = threading.local()  # lines served by a poll are delivered in the polling thread

    def reasons(self, admin: AdminClient) -> list[str]:
        """Serve ``admin``'s pending log lines and return them instead of logging them (to put the
        reason into an error message rather than in a line of its own)."""
        self._captured.lines = lines = []
        try:
            admin.poll(0)
        finally:
            self._captured.lines = None
        return list(dict.fromkeys(self._VARIABLE.sub("", line).strip() for line in lines))

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) and len(record.args) == 3 else None
        text = self._TAGS.sub("", str(args[2])) if args else record.getMessage()
        captured = getattr(self._captured, "lines", None)
        if captured is not None:
            captured.append(text)
            return False
        record.msg, record.args = "Kafka client: %s", (text,)
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        if _librdkafka_log.isEnabledFor(logging.DEBUG):
            return True
        key = self._VARIABLE.sub("", text)
        now = time.monotonic()
        with self._lock:
            if now - self._seen.get(key, -self.window_s) < self.window_s:
                return False
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[key] = now
        return True


_librdkafka_log = logging.getLogger("cryptoflow.kafka.client")
_librdkafka_filter = _LibrdkafkaLog()
_librdkafka_log.addFilter(_librdkafka_filter)


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings (bootstrap and security) shared by producers, consumers and admin clients.

    librdkafka's log lines go to the ``cryptoflow.kafka.client`` logger (served when the client is
    polled), each distinct line once per five minutes: a broker that is down is not a flood of lines.
    """
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
        "logger": _librdkafka_log,
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


def _list_topics(
    admin: AdminClient, settings: KafkaSettings, timeout_s: float, stop: threading.Event | None
) -> set[str]:
    """The topic names, asking in short slices: a blocked librdkafka call defers Python's signal handlers
    (Ctrl-C, SIGTERM) until it returns, and ``stop`` may be set meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            return set(admin.list_topics(timeout=max(0.1, min(1.0, remaining))).topics)
        except KafkaException as exc:
            if remaining > 1.0 and not (stop is not None and stop.is_set()):
                continue
            # librdkafka's own reason (refused, unknown host, TLS...) says more than its exception
            error = exc.args[0] if exc.args else exc
            reason = "; ".join(_librdkafka_filter.reasons(admin)[:2]) or (
                error.str() if hasattr(error, "str") else str(error)
            )
            raise TemporaryError(
                f"Kafka at {settings.bootstrap_servers} did not answer within {timeout_s:.0f} s ({reason}): "
                "start it, or point CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS at where it runs"
            ) from None


def ping(settings: KafkaSettings, timeout_s: float = 10.0) -> None:
    """Raise :class:`~cryptoflow.errors.TemporaryError` (naming the servers and the reason) unless Kafka
    answers a metadata request within ``timeout_s``."""
    _list_topics(AdminClient(client_config(settings)), settings, timeout_s, None)


def ensure_topics(
    settings: KafkaSettings,
    names: list[str],
    timeout_s: float = 30.0,
    *,
    stop: threading.Event | None = None,
) -> list[str]:
    """Create the missing topics (configured partitions and replication); returns those it created.

    Raises :class:`~cryptoflow.errors.TemporaryError` when Kafka does not answer within ``timeout_s``
    (sooner once ``stop`` is set); signals are served meanwhile.
    """
    admin = AdminClient(client_config(settings))
    existing = _list_topics(admin, settings, timeout_s, stop)
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
