"""The event pipeline's speed on the real local Kafka and Elasticsearch (``cryptoflow stack up``).

    python -m benchmarks.pipeline --json OUT [--events 200000] [--e2e-seconds 30]

Measures, in one run on this machine, with 200,000 candle events (4 generated symbols x 50,000 1m
candles with their indicators, the events a backtest replay publishes):

- ``producer_msgs_per_s``: :class:`~cryptoflow.kafka.EventProducer` publishing the events (JSON
  encoding, idempotent ``acks=all``, zstd) until Kafka acknowledged the last one; peer
  ``raw_producer_msgs_per_s``: a bare confluent-kafka producer sending the already-encoded bytes;
- ``sink_docs_per_s``: ``cryptoflow sink --once`` (in process) from group join until every event is
  indexed and its offset committed (consume, validate, bulk write, commit);
- ``raw_bulk_docs_per_s``: the same documents indexed straight into the same Elasticsearch with the
  client's helpers (the best of ``helpers.bulk`` and ``helpers.parallel_bulk`` with 2 threads, chunks
  of the sink's batch size), into indices made from the same templates; ``sink_vs_raw_bulk`` is the ratio;
- ``e2e_p50_ms`` / ``e2e_p99_ms``: from ``produce()`` to the document being returned by a search, at a
  steady 200 events/s for ``--e2e-seconds`` with a ``cryptoflow sink`` process running (1 s refresh
  interval, the template default; searches every 20 ms add up to 20 ms).

Sink and raw bulk runs alternate (``--repeat`` times each, fresh indices every time) and the best of each
is kept, so a background merge does not favour either. Everything created (topics, indices, templates,
consumer groups' offsets) carries a ``bench-`` prefix and is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Producer
from elasticsearch import helpers

from benchmarks._output import emit_json
from cryptoflow.config import Settings, load_settings
from cryptoflow.elastic import IndexRouter, install_templates, make_client
from cryptoflow.events import Event, encode
from cryptoflow.kafka import TOPIC_KINDS, EventProducer, client_config, ensure_topics, topic_name
from cryptoflow.sink import Sink, SinkOptions
from cryptoflow.stack import Supervisor
from cryptoflow.testing.services import REPO, cleanup

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")


def candle_events(count: int) -> list[Event]:
    """``count`` candle events with indicators, from a backtest replay of generated candles."""
    from backtesting import BacktestConfig, run_backtest
    from backtesting_trade import backtest_events
    from benchmarks._generate import generate_candles

    per_symbol = -(-count // len(SYMBOLS))
    frames = {}
    for k, symbol in enumerate(SYMBOLS):
        frame = generate_candles(per_symbol, seed=100 + k, symbol=symbol, interval="1m")
        frame.attrs.update(symbol=symbol, interval="1m")
        frames[symbol] = frame
    result = run_backtest(frames, "custom", BacktestConfig())
    events = [e for e in backtest_events(result, run_id="bench", interval="1m") if e.schema_name == "candle"]
    return events[:count]


def prefixed(prefix: str) -> Settings:
    return load_settings(kafka={"topic_prefix": prefix}, elasticsearch={"index_prefix": prefix})


def measure_producer(settings: Settings, events: list[Event]) -> float:
    topic = topic_name(settings.kafka, "candles")
    ensure_topics(settings.kafka, [topic])
    with EventProducer(settings.kafka) as producer:
        producer.send(events[0])
        producer.flush()  # connections and topic metadata ready before timing
        started = time.perf_counter()
        for event in events:
            producer.send(event)
        producer.flush()
        elapsed = time.perf_counter() - started
    return len(events) / elapsed


def measure_raw_producer(settings: Settings, payloads: list[tuple[bytes, bytes]]) -> float:
    topic = topic_name(settings.kafka, "indicators")  # any other topic: the sink reads only candles here
    ensure_topics(settings.kafka, [topic])
    conf = {
        **client_config(settings.kafka),
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "zstd",
        "linger.ms": 20,
        "queue.buffering.max.messages": 500_000,
    }
    producer = Producer(conf)
    producer.produce(topic, payloads[0][1], key=payloads[0][0])
    producer.flush()
    started = time.perf_counter()
    for key, value in payloads:
        while True:
            try:
                producer.produce(topic, value, key=key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush()
    return len(payloads) / (time.perf_counter() - started)


def measure_sink(settings: Settings, prefix: str, count: int, batch_size: int) -> float:
    """Index the candles topic of ``settings`` into fresh indices ``<prefix>-*`` (a new consumer group)."""
    target = load_settings(
        kafka={"topic_prefix": settings.kafka.topic_prefix}, elasticsearch={"index_prefix": prefix}
    )
    options = SinkOptions(
        once=True, kinds=("candles",), group_id=f"{prefix}-group", batch_size=batch_size, log_interval_s=3600
    )
    install_templates(make_client(target.elasticsearch), target.elasticsearch)  # as a running sink would have
    started = time.perf_counter()
    stats = Sink(target, options).run()
    elapsed = time.perf_counter() - started
    if stats.indexed < count:  # the producer's warm-up message comes on top
        raise RuntimeError(f"the sink indexed {stats.indexed} of {count} events")
    return stats.indexed / elapsed


def measure_raw_bulk(
    settings: Settings, prefix: str, docs: list[dict[str, Any]], batch_size: int, threads: int
) -> float:
    target = load_settings(elasticsearch={"index_prefix": prefix})
    client = make_client(target.elasticsearch)
    install_templates(client, target.elasticsearch)
    router = IndexRouter(target)  # the time partitions the sink would write to
    actions = (
        {"_index": router.index("candles", doc["time_ms"]), "_id": doc["event_id"], "_source": doc}
        for doc in docs
    )
    started = time.perf_counter()
    if threads > 1:
        failed = sum(
            1
            for ok, _ in helpers.parallel_bulk(
                client, actions, chunk_size=batch_size, thread_count=threads, max_chunk_bytes=100 << 20
            )
            if not ok
        )
        indexed = len(docs) - failed
    else:
        indexed, errors = helpers.bulk(client, actions, chunk_size=batch_size, max_chunk_bytes=100 << 20)
    elapsed = time.perf_counter() - started
    if indexed != len(docs):
        raise RuntimeError(f"raw bulk indexed {indexed} of {len(docs)} documents")
    return len(docs) / elapsed


def measure_e2e(settings: Settings, events: list[Event], seconds: float, rate: float) -> dict[str, float]:
    """Latency from produce() to searchable at a steady rate, with a ``cryptoflow sink`` process."""
    env = {
        **os.environ,
        "CRYPTOFLOW_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX": settings.elasticsearch.index_prefix,
    }
    client = make_client(settings.elasticsearch)
    alias = install_templates(client, settings.elasticsearch)["candles"]
    ensure_topics(settings.kafka, [topic_name(settings.kafka, k) for k in TOPIC_KINDS])
    logs = tempfile.TemporaryDirectory(prefix="bench-pipeline-")  # the sink's log, removed at the end
    children = Supervisor(Path(logs.name), env=env, cwd=REPO)
    children.start("sink", "sink", "--kind", "candles", "--log-interval", "3600")
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() or len(seen_at) < len(sent_at):
            pending = [eid for eid in list(sent_at) if eid not in seen_at]
            if pending:
                hits = client.search(
                    index=alias,
                    query={"ids": {"values": pending[:2000]}},
                    size=2000,
                    source=False,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )["hits"]["hits"]
                now = time.time()
                for hit in hits:
                    seen_at.setdefault(hit["_id"], now)
            if done.is_set() and time.time() - last_sent[0] > 30:
                return
            time.sleep(0.02)

    last_sent = [time.time()]
    poller = threading.Thread(target=poll, daemon=True)
    try:
        # warm-up: the sink has joined its group and written once before timing starts
        with EventProducer(settings.kafka, linger_ms=5) as producer:
            warm = events[:20]
            for event in warm:
                producer.send(event)
            producer.flush()
            deadline = time.time() + 60
            while time.time() < deadline:
                client.indices.refresh(index=alias, ignore_unavailable=True, allow_no_indices=True)
                if client.count(index=alias, ignore_unavailable=True, allow_no_indices=True)["count"] >= len(
                    warm
                ):
                    break
                time.sleep(0.2)
            poller.start()
            total = int(seconds * rate)
            started = time.perf_counter()
            for k, event in enumerate(events[len(warm) : len(warm) + total]):
                target = started + k / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent_at[event.event_id] = time.time()
                producer.send(event)
                last_sent[0] = time.time()
            producer.flush()
        done.set()
        poller.join(timeout=60)
    finally:
        done.set()
        children.stop(timeout_s=60)
        logs.cleanup()
    latencies = np.array([(seen_at[eid] - sent_at[eid]) * 1000.0 for eid in sent_at if eid in seen_at])
    missing = len(sent_at) - len(latencies)
    if missing:
        raise RuntimeError(f"{missing} of {len(sent_at)} events never became searchable")
    return {
        "e2e_events": len(latencies),
        "e2e_rate_per_s": rate,
        "e2e_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "e2e_p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "e2e_max_ms": round(float(latencies.max()), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="Also write the result JSON to this file.")
    parser.add_argument("--events", type=int, default=200_000, help="Candle events (default 200,000).")
    parser.add_argument("--repeat", type=int, default=2, help="Sink and raw bulk runs each (best kept).")
    parser.add_argument("--batch-size", type=int, default=SinkOptions.model_fields["batch_size"].default)
    parser.add_argument("--e2e-seconds", type=float, default=30.0, help="Length of the latency run.")
    parser.add_argument("--e2e-rate", type=float, default=200.0, help="Events per second in the latency run.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)

    run = f"bench-{uuid.uuid4().hex[:8]}"
    settings = prefixed(run)
    made: list[Settings] = [settings]
    try:
        t0 = time.perf_counter()
        events = candle_events(args.events)
        payloads = [(e.key, encode(e)) for e in events]
        docs = [json.loads(value) for _, value in payloads]
        build_s = time.perf_counter() - t0

        producer_rate = measure_producer(settings, events)
        raw_producer_rate = measure_raw_producer(settings, payloads)
        sink_rates, bulk_rates, parallel_rates = [], [], []
        for n in range(args.repeat):
            for name, rates in (("sink", sink_rates), ("bulk", bulk_rates), ("pbulk", parallel_rates)):
                prefix = f"{run}-{name}{n}"
                made.append(prefixed(prefix))
                if name == "sink":
                    rates.append(measure_sink(settings, prefix, len(events), args.batch_size))
                else:
                    threads = 2 if name == "pbulk" else 1
                    rates.append(measure_raw_bulk(settings, prefix, docs, args.batch_size, threads))
                cleanup(made[-1])  # keep the node's disk and heap as they were for the next run
        e2e_settings = prefixed(f"{run}-e2e")
        made.append(e2e_settings)
        e2e_events = candle_events(int(args.e2e_seconds * args.e2e_rate) + 50)
        e2e = measure_e2e(e2e_settings, e2e_events, args.e2e_seconds, args.e2e_rate)
    finally:
        for item in made:
            try:
                cleanup(item)
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                print(f"cleanup of {item.kafka.topic_prefix}: {exc}", file=sys.stderr)

    sink_rate = max(sink_rates)
    raw_bulk = max(max(bulk_rates), max(parallel_rates))
    result: dict[str, Any] = {
        "events": len(events),
        "batch_size": args.batch_size,
        "producer_msgs_per_s": round(producer_rate),
        "raw_producer_msgs_per_s": round(raw_producer_rate),
        "producer_vs_raw_producer": round(producer_rate / raw_producer_rate, 3),
        "sink_docs_per_s": round(sink_rate),
        "raw_bulk_docs_per_s": round(raw_bulk),
        "raw_bulk_helpers_bulk_docs_per_s": round(max(bulk_rates)),
        "raw_bulk_parallel_bulk_docs_per_s": round(max(parallel_rates)),
        "sink_vs_raw_bulk": round(sink_rate / raw_bulk, 3),
        "sink_runs_docs_per_s": [round(r) for r in sink_rates],
        "raw_bulk_runs_docs_per_s": [round(r) for r in bulk_rates],
        "parallel_bulk_runs_docs_per_s": [round(r) for r in parallel_rates],
        **e2e,
        "refresh_interval": SinkOptions.model_fields["refresh_interval"].default,
        "event_build_s": round(build_s, 1),
        "elasticsearch_heap": settings.stack.elasticsearch_heap,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
