"""Smoke tests against the real local Kafka and Elasticsearch (no mocks)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, Producer
from confluent_kafka.admin import AdminClient

from cryptoflow.config import KafkaSettings
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


def test_a_fresh_broker_is_ready_only_when_any_consumer_group_can_join(own_kafka) -> None:
    # On a broker that has just started, metadata answers seconds before its group coordinator does;
    # ready() waits for the coordinator, so these first group calls need no retry.
    config = {"bootstrap.servers": own_kafka.bootstrap}
    ensure_topics(KafkaSettings(bootstrap_servers=own_kafka.bootstrap), ["fresh"])
    admin = AdminClient(config)
    groups = [f"group-{n}" for n in range(20)]  # spread over the partitions of __consumer_offsets
    for future in admin.describe_consumer_groups(groups).values():
        assert future.result(timeout=10).state == ConsumerGroupState.DEAD  # known coordinator, no group
    consumer = Consumer({**config, "group.id": "group-0", "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe(["fresh"])
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert len(consumer.assignment()) == 3
    finally:
        consumer.close()


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
    producer.close()
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
