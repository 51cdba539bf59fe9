"""The event producer against the real broker: keys, topics, failed deliveries raise, SIGTERM flushes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from cryptoflow.config import KafkaSettings, Settings
from cryptoflow.events import EVENT_TOPICS, decode, encode
from cryptoflow.kafka import DeliveryError, EventProducer, client_config, topic_name
from cryptoflow.testing.events import candle_events, one_of_each_other_kind
from cryptoflow.testing.services import REPO, prefix_env, read_topic

pytestmark = pytest.mark.integration


def test_events_go_to_their_topic_keyed_by_symbol_and_interval(pipeline: Settings) -> None:
    events = candle_events(40) + one_of_each_other_kind()
    with EventProducer(pipeline.kafka) as producer:
        producer.send_many(events)
    assert producer.delivered == producer.sent == len(events)
    for kind in EVENT_TOPICS.values():
        expected = [e for e in events if producer.topic_for(e) == topic_name(pipeline.kafka, kind)]
        messages = read_topic(pipeline, kind, expected=len(expected))
        assert sorted(decode(m.value()).event_id for m in messages) == sorted(e.event_id for e in expected)
        for message in messages:
            event = decode(message.value())
            assert message.key() == f"{event.symbol}|{event.interval}".encode()
        # one key, one partition: a symbol's events stay in order
        by_key: dict[bytes, set[int]] = {}
        for message in messages:
            by_key.setdefault(message.key(), set()).add(message.partition())
        assert all(len(partitions) == 1 for partitions in by_key.values())


def test_a_delivery_kafka_refuses_is_an_error_not_a_log_line(pipeline: Settings) -> None:
    topic = f"{pipeline.kafka.topic_prefix}.small"
    admin = AdminClient(client_config(pipeline.kafka))
    admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "2000"})])[topic].result(30)
    try:
        reports: list[tuple[object, bytes]] = []
        producer = EventProducer(
            pipeline.kafka, compression="none", on_delivery=lambda e, m: reports.append((e, m.value()))
        )
        too_large = os.urandom(10_000)
        producer.send_raw(topic, too_large, key=b"k")
        with pytest.raises(DeliveryError, match="did not accept 1 message.*small.*(too large|MSG_SIZE)"):
            producer.flush(timeout_s=30)
        producer.close()
        assert len(reports) == 1 and reports[0][0] is not None and reports[0][1] == too_large
    finally:
        admin.delete_topics([topic])[topic].result(30)


def test_without_a_listener_a_refused_delivery_still_raises_and_is_not_counted(pipeline: Settings) -> None:
    topic = f"{pipeline.kafka.topic_prefix}.small"
    admin = AdminClient(client_config(pipeline.kafka))
    admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "2000"})])[topic].result(30)
    try:
        producer = EventProducer(pipeline.kafka, compression="none")  # only failures are reported
        producer.send_raw(topic, b"small enough", key=b"k")
        producer.flush(timeout_s=30)  # alone: Kafka refuses a batch as a whole
        producer.send_raw(topic, os.urandom(10_000), key=b"k")
        with pytest.raises(DeliveryError, match="did not accept 1 message.*small.*(too large|MSG_SIZE)"):
            producer.flush(timeout_s=30)
        producer.close()
        assert producer.sent == 2 and producer.delivered == 1
    finally:
        admin.delete_topics([topic])[topic].result(30)


def test_encoded_events_go_out_in_order_under_their_key(pipeline: Settings) -> None:
    events = candle_events(50)
    with EventProducer(pipeline.kafka) as producer:
        assert producer.send_encoded("candles", [encode(e) for e in events], key=b"ETHUSDT|1h") == 50
    assert producer.delivered == producer.sent == 50
    messages = read_topic(pipeline, "candles", expected=50)
    assert {m.key() for m in messages} == {b"ETHUSDT|1h"} and len({m.partition() for m in messages}) == 1
    assert [m.value() for m in sorted(messages, key=lambda m: m.offset())] == [encode(e) for e in events]


def test_the_delivery_listener_sees_every_acknowledged_message(pipeline: Settings) -> None:
    events = candle_events(30)
    reports: list[tuple[object, bytes]] = []
    with EventProducer(pipeline.kafka, on_delivery=lambda e, m: reports.append((e, m.value()))) as producer:
        producer.send_many(events)
    assert producer.delivered == len(reports) == len(events)
    assert all(error is None for error, _ in reports)
    assert sorted(decode(value).event_id for _, value in reports) == sorted(e.event_id for e in events)


_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from cryptoflow.config import load_settings
    from cryptoflow.testing.events import candle_events
    from cryptoflow.kafka import EventProducer

    events = candle_events(20_000)
    sent = 0
    try:
        # a long linger keeps messages queued: without the flush on SIGTERM they would be lost
        with EventProducer(load_settings().kafka, linger_ms=60_000) as producer:
            for event in events:
                producer.send(event)
                sent += 1
                if sent == 15_000:
                    os.kill(os.getpid(), signal.SIGTERM)
    except KeyboardInterrupt:
        print("interrupted after", sent, flush=True)
        sys.exit(143)
    """
)


def test_sigterm_delivers_what_was_queued_before_exiting(pipeline: Settings) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=REPO, env=prefix_env(pipeline.kafka.topic_prefix),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 143, done.stderr[-2000:]
    sent = int(done.stdout.split("interrupted after")[1])
    assert 15_000 <= sent < 20_000
    assert len(read_topic(pipeline, "candles", expected=sent)) == sent


def test_a_full_queue_waits_for_kafka_to_come_back_and_loses_nothing(own_kafka) -> None:
    """Kafka away and the local queue full: send waits (serving reports) until the broker is back and
    takes every message; it neither raises BufferError nor drops what it could not queue."""
    kafka = KafkaSettings(bootstrap_servers=own_kafka.bootstrap, topic_prefix="full-queue")
    values = [encode(event) for event in candle_events(60)]
    producer = EventProducer(kafka, linger_ms=0, config={"queue.buffering.max.messages": 5})
    topic = producer.topic("candles")  # made while the broker answers
    own_kafka.stop(timeout_s=20)
    back = threading.Timer(3.0, own_kafka.start)  # same storage: the topic survives
    back.start()
    try:
        with producer:
            assert producer.send_encoded("candles", values, key=b"ETHUSDT|1m") == len(values)
        assert producer.delivered == len(values)
    finally:
        back.join()
    own_kafka.wait_ready(60)
    consumer = Consumer({"bootstrap.servers": own_kafka.bootstrap, "group.id": "full-queue"})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        stored = sum(
            high - low
            for low, high in (
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in metadata.partitions
            )
        )
    finally:
        consumer.close()
    assert stored == len(values)
