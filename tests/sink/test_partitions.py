"""Time partitions on the real stack: a re-delivery across a partition boundary stays one document, every
partition is read through ``<prefix>-<kind>``, and a deployment from before partitions keeps working."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from cryptoflow.config import Settings
from cryptoflow.elastic import INDEX_KINDS, apply_retention, index_alias, install_templates, make_client
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import Event, encode, index_kind, index_mappings
from cryptoflow.kafka import EventProducer
from cryptoflow.sink import Sink, SinkOptions
from cryptoflow.testing.events import (
    MINUTE,
    candle_event,
    error_event,
    indicator_event,
    lock_event,
    ms,
    signal_event,
    trade_events,
)
from cryptoflow.testing.services import es_count, es_docs

pytestmark = pytest.mark.integration


def boundary_events() -> list[Event]:
    """Events on both sides of midnight 2026-01-31/02-01 UTC (a day, a month boundary), to the ms."""
    last_ms, first_ms = ms("2026-01-31T23:59:59.999"), ms("2026-02-01T00:00:00.000")
    january, february = first_ms - MINUTE, first_ms  # the last candle of January, the first of February
    run = {"run_id": "boundary"}
    return [
        *(candle_event(open_ms, **run) for open_ms in (january, february)),
        *(indicator_event(at, **run) for at in (last_ms - 2_500, last_ms, first_ms, first_ms + 2_500)),
        *(signal_event(open_ms, **run) for open_ms in (january, february)),  # decided at the candle's close
        *trade_events(january, first_ms + 3 * MINUTE, **run),  # entered in January, closed in February
        lock_event(last_ms, **run),  # the executor's: each by its own time
        error_event(first_ms, **run),
    ]


EXPECTED_PARTITIONS = {
    "candles": {"2026.01": 1, "2026.02": 1},
    "indicators": {"2026.01.31": 2, "2026.02.01": 2},
    "signals": {"2026.01": 1, "2026.02": 1},
    "trades": {"2026.01": 2},  # both legs by their entry time
    "locks": {"2026.01": 1},
    "errors": {"2026.02": 1},
}


def _where(settings: Settings, kind: str) -> dict[str, str]:
    """``{_id: _index}`` of every document read through the kind's alias."""
    client = make_client(settings.elasticsearch)
    alias = index_alias(settings.elasticsearch, kind)
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, size=1000, source=False, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_index"] for hit in hits}


def test_a_redelivery_across_partition_boundaries_stays_one_document(pipeline: Settings) -> None:
    events = boundary_events()
    with EventProducer(pipeline.kafka) as producer:
        producer.send_many(events)
        producer.send_many(events)  # published twice (a producer retry, a replay)

    first = Sink(pipeline, SinkOptions(once=True, batch_size=5)).run()
    # everything read again from the start by another group: a sink that crashed before committing
    again = Sink(
        pipeline, SinkOptions(once=True, batch_size=7, group_id=f"{pipeline.kafka.topic_prefix}-b")
    ).run()

    assert first.indexed == again.indexed == 2 * len(events)
    prefix = pipeline.elasticsearch.index_prefix
    for kind in INDEX_KINDS:
        of_kind = [e for e in events if index_kind(e) == kind]
        assert es_docs(pipeline, kind) == {e.event_id: json.loads(encode(e)) for e in of_kind}, kind
        assert es_count(pipeline, kind) == len(of_kind)
        # read through <prefix>-<kind>: both partitions, each event in the partition of its own time
        partitions = Counter(
            name.removeprefix(f"{prefix}-{kind}-") for name in _where(pipeline, kind).values()
        )
        assert partitions == EXPECTED_PARTITIONS[kind], kind


def test_a_deployment_from_before_partitions_keeps_its_index_readable(pipeline: Settings) -> None:
    client = make_client(pipeline.elasticsearch)
    alias = index_alias(pipeline.elasticsearch, "candles")
    legacy = f"{alias}-000001"
    # what an older cryptoflow left behind: one index behind a write alias, with a document in it
    client.indices.create(
        index=legacy, aliases={alias: {"is_write_index": True}}, mappings=index_mappings()["candles"]
    )
    old, new = [e for e in boundary_events() if e.kind == "candle"]  # January, February
    client.index(index=alias, id=old.event_id, document=json.loads(encode(old)), refresh=True)

    with EventProducer(pipeline.kafka) as producer:
        producer.send(new)
    Sink(pipeline, SinkOptions(once=True)).run()

    assert _where(pipeline, "candles") == {old.event_id: legacy, new.event_id: f"{alias}-2026.02"}
    assert es_count(pipeline, "candles") == 2
    assert client.indices.get_alias(name=alias)[legacy]["aliases"][alias]["is_write_index"] is True
    # retention reports the old index and never deletes it, whatever its age
    keep_a_day = pipeline.retention.model_copy(update={"candles_keep_days": 1})
    report = apply_retention(
        client,
        pipeline.model_copy(update={"retention": keep_a_day}),
        now_ms=ms("2030-01-01T00:00:00.000"),
    )
    assert [p.index for p in report.legacy] == [legacy]
    assert report.legacy[0].docs == 1 and report.legacy[0].newest_ms == old.time_ms
    assert report.deleted == [f"{alias}-2026.02"]
    assert _where(pipeline, "candles") == {old.event_id: legacy}


def test_an_index_holding_the_alias_name_is_a_clear_configuration_error(pipeline: Settings) -> None:
    client = make_client(pipeline.elasticsearch)
    alias = index_alias(pipeline.elasticsearch, "signals")
    client.indices.create(index=alias)  # e.g. something wrote to <prefix>-signals before any partition
    with pytest.raises(
        ConfigurationError,
        match=f"Elasticsearch has an index named '{alias}' where cryptoflow needs an alias",
    ):
        install_templates(client, pipeline.elasticsearch)
