"""Smoke tests against the real local Kafka and Elasticsearch (no mocks)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from confluent_kafka import Consumer, Producer

from cryptoflow.elastic import make_client, server_version
from cryptoflow.kafka import client_config, ensure_topics

pytestmark = pytest.mark.integration


def test_status_reports_both_services_up_with_real_versions(local_stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cryptoflow", "stack", "status"], capture_output=True, text=True, check=True
    )
    status = json.loads(result.stdout)
    assert status["kafka"]["up"] is True
    assert status["kafka"]["bootstrap"] == local_stack.kafka.bootstrap
    assert status["kafka"]["brokers"] == 1
    assert status["elasticsearch"]["up"] is True
    assert status["elasticsearch"]["version"].startswith("8.")
    assert status["elasticsearch"]["health"] in ("green", "yellow")


def test_up_twice_is_harmless(local_stack) -> None:
    pids = {name: info["managed_pid"] for name, info in local_stack.status().items()}
    status = local_stack.up()
    assert {name: info["managed_pid"] for name, info in status.items()} == pids


def test_kafka_round_trip_on_a_real_topic(local_stack, stack_settings, unique_name) -> None:
    settings = stack_settings.kafka
    assert ensure_topics(settings, [unique_name]) == [unique_name]
    assert ensure_topics(settings, [unique_name]) == []
    producer = Producer({**client_config(settings), "enable.idempotence": True, "acks": "all"})
    delivered = []
    for number in range(50):
        producer.produce(
            unique_name,
            key=f"ETHUSDT|{number % 3}",
            value=json.dumps({"n": number}),
            on_delivery=lambda err, msg: delivered.append(err),
        )
    assert producer.flush(30) == 0
    assert delivered == [None] * 50
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": unique_name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([unique_name])
    received = []
    try:
        for _ in range(200):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                received.append(json.loads(message.value())["n"])
            if len(received) == 50:
                break
    finally:
        consumer.close()
    assert sorted(received) == list(range(50))


def test_elasticsearch_index_refresh_search(local_stack, stack_settings, unique_name) -> None:
    client = make_client(stack_settings.elasticsearch)
    assert server_version(client).startswith("8.")
    try:
        for number in range(10):
            client.index(index=unique_name, id=f"candle-{number}", document={"close": 100.0 + number})
        client.index(index=unique_name, id="candle-3", document={"close": 103.0})  # same id: overwrite
        client.indices.refresh(index=unique_name)
        result = client.search(index=unique_name, query={"range": {"close": {"gte": 105}}}, size=20)
        assert result["hits"]["total"]["value"] == 5
        assert client.count(index=unique_name)["count"] == 10
    finally:
        client.indices.delete(index=unique_name, ignore_unavailable=True)
