"""Helpers of the integration tests against the real Kafka and Elasticsearch: per-test topic and index
prefixes, a subprocess's environment, reading what a test published or indexed, cleaning up, waiting for a
condition (while watching the test's child processes), consumer groups' progress, a free port.

Example::

    settings = prefixed_settings("test-abc123")
    try:
        ...  # run the code under test with ``settings`` (or ``prefix_env`` for a subprocess)
        assert es_count(settings, "candles") == 10
    finally:
        cleanup(settings)
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from elasticsearch import ApiError

from cryptoflow.config import Settings, load_settings
from cryptoflow.elastic import INDEX_KINDS, index_alias, make_client
from cryptoflow.events import EVENT_TOPIC_KINDS
from cryptoflow.kafka import TOPIC_KINDS, client_config, message_headers, retry_retriable, topic_name
from cryptoflow.stack import Supervisor

__all__ = [
    "REPO",
    "clean_env",
    "cleanup",
    "committed_to_end",
    "es_count",
    "es_docs",
    "free_port",
    "group_ready",
    "headers_of",
    "prefix_env",
    "prefixed_settings",
    "read_topic",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[2]
"""The checkout (the working directory of the ``cryptoflow`` subprocesses tests start)."""


def prefixed_settings(prefix: str) -> Settings:
    """The session's settings with this test's own topic and index prefixes."""
    return load_settings(kafka={"topic_prefix": prefix}, elasticsearch={"index_prefix": prefix})


def prefix_env(prefix: str) -> dict[str, str]:
    """Environment for a ``cryptoflow`` subprocess using the same prefixes."""
    return {
        **os.environ,
        "CRYPTOFLOW_KAFKA__TOPIC_PREFIX": prefix,
        "CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX": prefix,
        "PYTHONUNBUFFERED": "1",
    }


def clean_env(**settings: str) -> dict[str, str]:
    """The environment of a ``cryptoflow`` subprocess: this process's, without any ``CRYPTOFLOW_*`` variable
    (none leaks in from the shell or CI), with unbuffered output (its log can be read while it runs), plus
    ``settings``: ``clean_env(CRYPTOFLOW_STACK__HOME=str(home), COLUMNS="250")``."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("CRYPTOFLOW_")}
    return {**inherited, "PYTHONUNBUFFERED": "1", **settings}


def cleanup(settings: Settings) -> None:
    """Delete the test's topics, indices and index templates (only those carrying its prefix)."""
    admin = AdminClient(client_config(settings.kafka))
    topics = [topic_name(settings.kafka, kind) for kind in TOPIC_KINDS]
    try:
        existing = set(admin.list_topics(timeout=10).topics)
    except KafkaException:  # a broker of the test's own that a failed test left down
        existing = set()
    doomed = [t for t in topics if t in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            try:
                future.result(timeout=30)
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
    try:
        client = make_client(settings.elasticsearch)
        prefix = settings.elasticsearch.index_prefix
        indices = list(client.indices.get(index=f"{prefix}-*", expand_wildcards="all").keys())
        if indices:
            client.indices.delete(index=",".join(indices))
        for kind in INDEX_KINDS:
            client.options(ignore_status=404).indices.delete_index_template(
                name=index_alias(settings.elasticsearch, kind)
            )
    except Exception:  # noqa: BLE001 - Elasticsearch may be down after a failed outage test
        pass


def _once_shards_started(call: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Run an Elasticsearch read, retrying while it answers 503 because an index the sink has just
    created still has its primary shard initialising (a busy 2-core machine takes seconds for that)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except ApiError as error:
            if error.meta.status != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def es_count(settings: Settings, kind: str) -> int:
    """How many documents of ``kind`` (``candles``, ``trades``, ...) are indexed, after a refresh."""
    client = make_client(settings.elasticsearch)
    alias = index_alias(settings.elasticsearch, kind)

    def count() -> int:
        client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
        return int(client.count(index=alias, ignore_unavailable=True, allow_no_indices=True)["count"])

    return int(_once_shards_started(count))


def es_docs(settings: Settings, kind: str, query: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every document of a kind: ``{_id: _source}`` (scrolling with search_after)."""
    client = make_client(settings.elasticsearch)
    alias = index_alias(settings.elasticsearch, kind)
    _once_shards_started(lambda: client.indices.refresh(index=alias))
    docs: dict[str, dict[str, Any]] = {}
    after: list[Any] | None = None

    def page_after(after: list[Any] | None) -> list[dict[str, Any]]:
        return client.search(
            index=alias,
            size=5000,
            query=query or {"match_all": {}},
            sort=[{"event_id": "asc"}],
            search_after=after,
        )["hits"]["hits"]

    while True:
        page = _once_shards_started(partial(page_after, after))
        if not page:
            return docs
        for hit in page:
            docs[hit["_id"]] = hit["_source"]
        after = page[-1]["sort"]


def read_topic(
    settings: Settings, kind: str, expected: int | None = None, timeout_s: float = 30.0
) -> list[Message]:
    """Every message of a topic, from the start (until ``expected`` arrived or nothing came for 3 s)."""
    consumer = Consumer(
        {
            **client_config(settings.kafka),
            "group.id": f"{settings.kafka.topic_prefix}-reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic_name(settings.kafka, kind)])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(500, timeout=0.5)
            good = [m for m in batch if m.error() is None]
            messages.extend(good)
            if good:
                quiet_since = time.monotonic()
            if expected is not None and len(messages) >= expected:
                break
            if expected is None and messages and time.monotonic() - quiet_since > 3.0:
                break
    finally:
        consumer.close()
    return messages


def wait_until(
    predicate: Callable[[], object],
    timeout_s: float,
    what: str,
    every_s: float = 0.5,
    *,
    watching: Supervisor | None = None,
) -> None:
    """Call ``predicate`` every ``every_s`` seconds until it is true; after ``timeout_s`` seconds raise
    ``AssertionError`` naming ``what`` was awaited.

    ``watching``: the test's child processes. The wait fails at once when one of them exited although
    nobody stopped it, and either failure ends with their logs::

        wait_until(lambda: exchange.subscribers, 60, "the subscription", watching=children)
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if watching is not None and (dead := watching.exited()):
            raise AssertionError(f"exited before {what}: {dead}\n{watching.logs()}")
        if predicate():
            return
        if time.monotonic() >= deadline:
            logs = "" if watching is None else f"\n{watching.logs()}"
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{logs}")
        time.sleep(every_s)


def group_ready(settings: Settings, group: str, members: int) -> bool:
    """``members`` consumers joined ``group`` and every partition of the candles topic is assigned to one
    of them."""
    admin = AdminClient(client_config(settings.kafka))
    topic = topic_name(settings.kafka, "candles")
    partitions = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    description = retry_retriable(lambda: admin.describe_consumer_groups([group])[group].result(timeout=10))
    assigned = [tp for m in description.members for tp in m.assignment.topic_partitions]
    return len(description.members) == members and len(assigned) == partitions and partitions > 0


def committed_to_end(settings: Settings, group: str, kinds: Sequence[str] = EVENT_TOPIC_KINDS) -> bool:
    """Whether ``group`` committed the end of every partition of the ``kinds`` topics: it has handled all
    that was published so far (the sink commits a batch only after Elasticsearch took it)."""
    consumer = Consumer({**client_config(settings.kafka), "group.id": group, "enable.auto.commit": False})
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in (topic_name(settings.kafka, kind) for kind in kinds)
            for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ]
        for committed in consumer.committed(partitions, timeout=10):
            _, end = consumer.get_watermark_offsets(committed, timeout=10)
            if end > 0 and committed.offset < end:  # no commit at all reads OFFSET_INVALID (-1001)
                return False
        return True
    finally:
        consumer.close()


def headers_of(message: Message) -> dict[str, str]:
    """A Kafka message's headers as text (``{name: value}``; a header without value reads ``""``)."""
    return {key: (value or b"").decode() for key, value in message_headers(message)}


def free_port() -> int:
    """A TCP port nothing listens on now (for a service of the test's own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
