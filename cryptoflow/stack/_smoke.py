"""A round trip through the real services: produce to Kafka, consume, bulk-index, search."""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import Consumer, Producer
from elasticsearch import helpers

from cryptoflow.config import Settings
from cryptoflow.elastic import make_client
from cryptoflow.errors import TemporaryError
from cryptoflow.kafka import client_config, ensure_topics


def round_trip(settings: Settings, messages: int = 100, timeout_s: float = 60.0) -> dict[str, object]:
    """Send ``messages`` events through ``<prefix>.smoke`` into the ``<prefix>-smoke`` index and count them.

    Returns the counts and the time taken; raises :class:`TemporaryError` when a service does not answer.
    """
    topic = f"{settings.kafka.topic_prefix}.smoke"
    index = f"{settings.elasticsearch.index_prefix}-smoke"
    run_id = uuid.uuid4().hex[:8]
    started = time.monotonic()
    ensure_topics(settings.kafka, [topic])
    producer = Producer({**client_config(settings.kafka), "enable.idempotence": True, "acks": "all"})
    failures: list[str] = []
    for number in range(messages):
        event = {
            "run_id": run_id,
            "seq": number,
            "event_id": f"{run_id}-{number}",
            "ts": int(time.time() * 1000),
        }
        producer.produce(
            topic,
            key=run_id,
            value=json.dumps(event),
            on_delivery=lambda err, _msg: failures.append(str(err)) if err else None,
        )
    if producer.flush(timeout_s) or failures:
        raise TemporaryError(f"Kafka did not acknowledge every smoke message: {failures[:3]}")
    consumer = Consumer(
        {
            **client_config(settings.kafka),
            "group.id": f"cryptoflow-smoke-{run_id}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    events = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(events) < messages and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            event = json.loads(message.value())
            if event["run_id"] == run_id:
                events.append(event)
    finally:
        consumer.close()
    client = make_client(settings.elasticsearch)
    indexed, _errors = helpers.bulk(
        client,
        ({"_index": index, "_id": event["event_id"], "_source": event} for event in events),
        refresh=True,
    )
    found = client.count(index=index, query={"term": {"run_id.keyword": run_id}})["count"]
    return {
        "produced": messages,
        "consumed": len(events),
        "indexed": indexed,
        "searchable": found,
        "seconds": round(time.monotonic() - started, 2),
        "topic": topic,
        "index": index,
    }
