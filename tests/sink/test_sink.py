"""The sink against the real local Kafka and Elasticsearch: exact counts, idempotence, templates, DLQ."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, TopicPartition

from cryptoflow.config import Settings
from cryptoflow.elastic import INDEX_KINDS, index_alias, make_client
from cryptoflow.errors import DataError
from cryptoflow.events import CandleEvent, CandlePayload, encode, index_kind
from cryptoflow.kafka import EventProducer, client_config, topic_name
from cryptoflow.sink import DLQ_HEADER_PREFIX, Sink, SinkOptions
from cryptoflow.testing.events import candle_events, one_of_each_other_kind
from cryptoflow.testing.services import es_count, es_docs, headers_of, read_topic

pytestmark = pytest.mark.integration


def _publish(settings: Settings, events: list) -> None:
    with EventProducer(settings.kafka) as producer:
        producer.send_many(events)


def test_a_bulk_request_is_capped_by_bytes_as_well_as_by_count(pipeline: Settings) -> None:
    events = candle_events(60)
    _publish(pipeline, events)
    biggest = max(len(encode(e)) for e in events) + 200  # with its action line
    cap = 5 * biggest  # room for at least 5 documents, and fewer than the batch size of 1000

    stats = Sink(pipeline, SinkOptions(once=True, batch_size=1000, batch_max_bytes=cap)).run()

    assert stats.indexed == len(events) and stats.dead_lettered == 0
    assert len(events) / 12 <= stats.batches <= len(events) / 5 + 1  # each batch held 5 to 12 documents
    assert es_count(pipeline, "candles") == len(events)


def test_every_event_is_indexed_once_by_its_id_even_when_published_twice(pipeline: Settings) -> None:
    events = candle_events(1_200) + one_of_each_other_kind()
    _publish(pipeline, events)

    stats = Sink(pipeline, SinkOptions(once=True, batch_size=300)).run()

    assert stats.indexed == len(events) and stats.dead_lettered == 0
    expected = {kind: [e for e in events if index_kind(e) == kind] for kind in INDEX_KINDS}
    for kind, of_kind in expected.items():
        docs = es_docs(pipeline, kind)
        assert docs == {e.event_id: json.loads(encode(e)) for e in of_kind}, kind

    # the same events again (a producer retry, a replay): documents are overwritten, not added
    _publish(pipeline, events)
    again = Sink(pipeline, SinkOptions(once=True, batch_size=300)).run()
    assert again.indexed == len(events)
    assert {kind: es_count(pipeline, kind) for kind in INDEX_KINDS} == {
        k: len(v) for k, v in expected.items()
    }

    # offsets were committed: a third run has nothing to do
    assert Sink(pipeline, SinkOptions(once=True)).run().indexed == 0


def test_every_partition_joins_the_read_alias_with_explicit_mappings(pipeline: Settings) -> None:
    events = candle_events(10) + one_of_each_other_kind()  # all in November 2023 (UTC)
    _publish(pipeline, events)
    Sink(pipeline, SinkOptions(once=True)).run()
    client = make_client(pipeline.elasticsearch)
    partitions = {"candles": "2023.11", "indicators": "2023.11.14", "signals": "2023.11", "trades": "2023.11"}
    partitions |= {"locks": "2023.11", "errors": "2023.11"}
    for kind in INDEX_KINDS:
        alias = index_alias(pipeline.elasticsearch, kind)
        (index, info), *rest = client.indices.get_alias(name=alias).items()
        assert not rest and index == f"{alias}-{partitions[kind]}"
        assert info["aliases"][alias]["is_write_index"] is False  # nothing may write through the alias
        mapping = client.indices.get_mapping(index=alias)[index]["mappings"]
        assert mapping["dynamic"] == "strict"
        assert mapping["_meta"] == {"managed_by": "cryptoflow", "kind": kind}
        for keyword in ("source", "symbol", "interval", "strategy", "run_id"):
            assert mapping["properties"][keyword]["type"] == "keyword"
        assert mapping["properties"]["@timestamp"]["type"] == "date"
    # a second start keeps the data and the indices
    Sink(pipeline, SinkOptions(once=True)).run()
    assert es_count(pipeline, "candles") == 10


def _poison_batch(pipeline: Settings, total: int) -> tuple[list, dict[bytes, str]]:
    """``total`` messages, 1 % of them poison of three kinds; returns the good events and the poison
    messages' keys with the category each must be dead-lettered under."""
    good = candle_events(total - total // 100)
    poison: dict[bytes, str] = {}
    topic = topic_name(pipeline.kafka, "candles")
    with EventProducer(pipeline.kafka) as producer:
        for i, event in enumerate(good):
            producer.send(event)
            if i % 99 == 50 and len(poison) < total // 100:
                n = len(poison)
                key = f"POISON-{n}".encode()
                if n % 3 == 0:  # not JSON at all
                    producer.send_raw(topic, b'{"schema_name": "candle", "close": 1', key=key)
                    poison[key] = "invalid_json"
                elif n % 3 == 1:  # JSON, but a price as a string: the schema says number
                    raw = encode(event).replace(b'"open":', b'"open":"x","was":', 1)
                    producer.send_raw(topic, raw, key=key, headers=[("origin", b"test")])
                    poison[key] = "invalid_event"
                else:  # a valid event whose trade count overflows the mapping's long
                    payload = CandlePayload(
                        close_time_ms=event.time_ms + 59_999,
                        open=1.0,
                        high=1.0,
                        low=1.0,
                        close=1.0,
                        volume=1.0,
                        trades=2**70,
                    )
                    bad = CandleEvent.create(
                        source="replay",
                        run_id="poison",
                        symbol="ETHUSDT",
                        interval="1m",
                        open_time_ms=event.time_ms,
                        candle=payload,
                    )
                    producer.send_raw(topic, encode(bad), key=key)
                    poison[key] = "rejected_by_elasticsearch"
    return good, poison


def test_poison_messages_land_in_the_dlq_with_their_reasons_and_nothing_else_does(pipeline: Settings) -> None:
    good, poison = _poison_batch(pipeline, 3_000)
    assert len(poison) == 30

    stats = Sink(pipeline, SinkOptions(once=True, batch_size=500)).run()

    assert stats.indexed == len(good) and stats.dead_lettered == len(poison)
    assert set(es_docs(pipeline, "candles")) == {e.event_id for e in good}
    dead = read_topic(pipeline, "dlq", expected=len(poison))
    keys = [headers_of(m)[DLQ_HEADER_PREFIX + "key"].encode() for m in dead]
    assert sorted(keys) == sorted(poison)
    for message, key in zip(dead, keys, strict=True):
        headers = headers_of(message)
        assert headers[DLQ_HEADER_PREFIX + "category"] == poison[key]
        assert headers[DLQ_HEADER_PREFIX + "topic"] == topic_name(pipeline.kafka, "candles")
        assert headers[DLQ_HEADER_PREFIX + "reason"]
        original = _original(pipeline, headers)
        assert message.value() == original.value() and key == original.key()
        # keyed by where the message was read: a copy written again after a crash has the same key
        assert message.key() == f"{original.topic()}/{original.partition()}/{original.offset()}".encode()
        if poison[key] == "invalid_event":
            assert headers["origin"] == "test"  # the original headers are kept
            assert "candle.open" in headers[DLQ_HEADER_PREFIX + "reason"]
        if poison[key] == "rejected_by_elasticsearch":
            assert "candle.trades" in headers[DLQ_HEADER_PREFIX + "reason"]


def _original(settings: Settings, headers: dict[str, str]):
    consumer = Consumer({**client_config(settings.kafka), "group.id": "unused", "enable.auto.commit": False})
    try:
        tp = TopicPartition(
            headers[DLQ_HEADER_PREFIX + "topic"],
            int(headers[DLQ_HEADER_PREFIX + "partition"]),
            int(headers[DLQ_HEADER_PREFIX + "offset"]),
        )
        consumer.assign([tp])
        message = consumer.consume(1, timeout=10)[0]
        assert message.offset() == tp.offset
        return message
    finally:
        consumer.close()


def test_on_malformed_fail_stops_without_committing_the_bad_batch(pipeline: Settings) -> None:
    topic = topic_name(pipeline.kafka, "candles")
    events = candle_events(50)
    with EventProducer(pipeline.kafka, config={"partitioner": "murmur2_random"}) as producer:
        producer.send_many(events)
        producer.send_raw(topic, b"not json", key=b"ETHUSDT|1m")

    with pytest.raises(DataError, match="not indexable.*--on-malformed dlq"):
        Sink(pipeline, SinkOptions(once=True, on_malformed="fail")).run()

    # nothing of the failing batch was committed: the default (dlq) run reads it all again
    stats = Sink(pipeline, SinkOptions(once=True)).run()
    assert stats.dead_lettered == 1
    assert es_count(pipeline, "candles") == len(events)
