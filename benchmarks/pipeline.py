"""The event pipeline's speed on the real local Kafka and Elasticsearch (``cryptoflow stack up``).

    python -m benchmarks.pipeline --json OUT [--events 200000] [--replay-candles 1000000] [--e2e-seconds 30]

Measures, in one run on this machine, with 200,000 candle events (4 generated symbols x 50,000 1m
candles with their indicators, the events a backtest replay publishes):

- ``event_encode_us``: building and encoding one candle event with its indicators on the history path
  (:func:`backtesting_trade.encoded_events`, column-wise), per event; ``event_encode_model_us``: the
  live path for the same candles (:meth:`CandleEvent.of_candle` + :func:`encode`, one model each);
  ``event_build_s``: the backtest plus the history path for all the events;
- ``replay_1m_candles_s``: a backtest of ``--replay-candles`` generated 1m candles and its replay
  (:func:`backtesting_trade.replay`) until Kafka acknowledged every candle and trade event;
- ``producer_msgs_per_s``: :class:`~cryptoflow.kafka.EventProducer` publishing the encoded events
  (``send_encoded``, idempotent ``acks=all``, zstd) until Kafka acknowledged the last one; peer
  ``raw_producer_msgs_per_s``: a bare confluent-kafka producer sending the same bytes with the same
  settings; ``producer_send_events_msgs_per_s``: ``send(event)`` of the models (encoding included);
- ``sink_docs_per_s``: ``cryptoflow sink --once`` (in process) from group join until every event is
  indexed and its offset committed (consume, validate, bulk write, commit);
- ``raw_bulk_docs_per_s``: the same documents indexed straight into the same Elasticsearch with the
  client's helpers (the best of ``helpers.bulk`` and ``helpers.parallel_bulk`` with 2 threads, chunks
  of the sink's batch size), into indices made from the same templates; ``sink_vs_raw_bulk`` is the ratio;
- ``quixstreams_sink_docs_per_s``: quixstreams' ``ElasticsearchSink`` (its own virtual environment,
  ``~/.cache/cryptoflow/bench-venv-quixstreams``) reading the same topic into the same Elasticsearch
  with the same batch size (``--skip-quixstreams`` leaves it out);
- ``e2e_p50_ms`` / ``e2e_p99_ms``: from ``produce()`` to the document being returned by a search, at a
  steady 200 events/s for ``--e2e-seconds`` with a ``cryptoflow sink`` process running (1 s refresh
  interval, the template default; searches every 20 ms add up to 20 ms).

The machine is shared: producer and raw producer runs alternate (``--repeat`` times each) and their
medians are kept; sink, raw bulk and quixstreams runs alternate too (fresh indices every time) and the
best of each is kept, so a background merge does not favour either. The JSON names the machine, its load
average and the versions of every library and service measured. Everything created (topics, indices,
templates, consumer groups' offsets) carries a ``bench-`` prefix and is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
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
from cryptoflow.elastic import IndexRouter, index_alias, install_templates, make_client, server_version
from cryptoflow.events import Event, decode, encode
from cryptoflow.kafka import TOPIC_KINDS, EventProducer, client_config, ensure_topics, topic_name
from cryptoflow.sink import Sink, SinkOptions
from cryptoflow.stack import Supervisor
from cryptoflow.testing.services import REPO, cleanup

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
Payload = tuple[bytes, bytes]  # (key, value)


def backtest(count: int) -> Any:
    """A backtest of ``count`` generated 1m candles over :data:`SYMBOLS` (the ``custom`` strategy)."""
    from backtesting import BacktestConfig, run_backtest
    from benchmarks._generate import generate_candles

    per_symbol = -(-count // len(SYMBOLS))
    frames = {}
    for k, symbol in enumerate(SYMBOLS):
        frame = generate_candles(per_symbol, seed=100 + k, symbol=symbol, interval="1m")
        frame.attrs.update(symbol=symbol, interval="1m")
        frames[symbol] = frame
    return run_backtest(frames, "custom", BacktestConfig())


def candle_payloads(result: Any, count: int) -> list[Payload]:
    """The first ``count`` encoded candle events of a run, on the history path."""
    from backtesting_trade import encoded_events

    payloads: list[Payload] = []
    for batch in encoded_events(result, run_id="bench", interval="1m"):
        if batch.kind == "candles":
            payloads.extend((batch.key, value) for value in batch.values)
    return payloads[:count]


def candle_events(count: int) -> list[Event]:
    """``count`` candle events with indicators, as models (what a live process sends one by one)."""
    from backtesting_trade import backtest_events

    result = backtest(count)
    events = [e for e in backtest_events(result, run_id="bench", interval="1m") if e.schema_name == "candle"]
    return events[:count]


def measure_encode(result: Any, repeat: int) -> dict[str, float]:
    """µs per event: the history path (columns) and the live path (a model per candle) on the same run."""
    from backtesting_trade import backtest_events, count_events, encoded_events

    total = sum(count_events(result).values())
    columnar = []
    for _ in range(repeat):
        started = time.perf_counter()
        built = sum(len(batch.values) for batch in encoded_events(result, run_id="bench", interval="1m"))
        columnar.append((time.perf_counter() - started) / built * 1e6)
    assert built == total
    sample = 20_000
    started = time.perf_counter()
    for k, event in enumerate(backtest_events(result, run_id="bench", interval="1m")):
        encode(event)
        if k + 1 == sample:
            break
    model_us = (time.perf_counter() - started) / sample * 1e6
    return {
        "event_encode_us": round(statistics.median(columnar), 2),
        "event_encode_model_us": round(model_us, 1),
    }


def prefixed(prefix: str) -> Settings:
    return load_settings(kafka={"topic_prefix": prefix}, elasticsearch={"index_prefix": prefix})


def runs_of_keys(payloads: list[Payload]) -> list[tuple[bytes, list[bytes]]]:
    """Consecutive payloads of one key together: the shape a replay hands to ``send_encoded``."""
    runs: list[tuple[bytes, list[bytes]]] = []
    for key, value in payloads:
        if not runs or runs[-1][0] != key:
            runs.append((key, []))
        runs[-1][1].append(value)
    return runs


def measure_producer(settings: Settings, payloads: list[Payload]) -> float:
    """:meth:`EventProducer.send_encoded` of the payloads into ``<prefix>.candles``, msgs/s until acked."""
    runs = runs_of_keys(payloads)
    with EventProducer(settings.kafka) as producer:
        producer.send_encoded("candles", [payloads[0][1]], key=payloads[0][0])
        producer.flush()  # connections and topic metadata ready before timing
        started = time.perf_counter()
        for key, values in runs:
            producer.send_encoded("candles", values, key=key)
        producer.flush()
        elapsed = time.perf_counter() - started
    return len(payloads) / elapsed


def measure_producer_events(settings: Settings, events: list[Event]) -> float:
    """:meth:`EventProducer.send` of models (encoding included), msgs/s until acked."""
    with EventProducer(settings.kafka) as producer:
        producer.send(events[0])
        producer.flush()
        started = time.perf_counter()
        for event in events:
            producer.send(event)
        producer.flush()
        elapsed = time.perf_counter() - started
    return len(events) / elapsed


def measure_raw_producer(settings: Settings, payloads: list[Payload]) -> float:
    """A bare confluent-kafka producer with the same settings, msgs/s until acked."""
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


def measure_replay(settings: Settings, candles: int) -> dict[str, Any]:
    """A backtest of ``candles`` generated 1m candles, replayed until Kafka acknowledged every event."""
    from backtesting import BacktestConfig, run_backtest
    from backtesting_trade import replay
    from benchmarks._generate import generate_candles

    frame = generate_candles(candles, seed=7, symbol="SYNTHUSDT", interval="1m")
    frame.attrs.update(symbol="SYNTHUSDT", interval="1m")
    started = time.perf_counter()
    result = run_backtest(frame, "custom", BacktestConfig())
    backtest_s = time.perf_counter() - started
    with EventProducer(settings.kafka) as producer:
        published = replay(result, producer, run_id="bench-replay")
    elapsed = time.perf_counter() - started
    return {
        "replay_candles": candles,
        "replay_1m_candles_s": round(elapsed, 2),
        "replay_backtest_s": round(backtest_s, 2),
        "replay_events": published.total,
        "replay_events_per_s": round(published.events_per_s),
    }


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


QUIX_VENV = Path(
    os.environ.get("CRYPTOFLOW_QUIX_VENV", Path.home() / ".cache" / "cryptoflow" / "bench-venv-quixstreams")
)

_QUIX_SCRIPT = """
import json, sys, time
import quixstreams
from quixstreams import Application
from quixstreams.sinks.community.elasticsearch import ElasticsearchSink

broker, topic, group, url, index, count, batch_size, wait_s = sys.argv[1:9]
count, batch_size, wait_s = int(count), int(batch_size), float(wait_s)
state = {"written": 0, "done": None}


class TimedSink(ElasticsearchSink):
    def setup(self):  # as its own, less the info() call: the local stack's node has no GET /
        from elasticsearch import Elasticsearch

        self._client = Elasticsearch(**self._client_kwargs)
        self._create_index()

    def write(self, batch):
        super().write(batch)
        state["written"] += batch.size
        if state["written"] >= count and state["done"] is None:
            state["done"] = time.perf_counter()


# a checkpoint (bulk writes, then the commit) every batch_size messages or wait_s, as our sink's batches
app = Application(broker_address=broker, consumer_group=group, auto_offset_reset="earliest",
                  commit_every=batch_size, commit_interval=wait_s, loglevel="WARNING")
# mapping {"settings": {}}: the index takes our template's settings and strict mapping, as ours does
sink = TimedSink(url=url, index=index, mapping={"settings": {}}, batch_size=batch_size,
                 document_id_setter=lambda item: item.value["event_id"])
app.dataframe(app.topic(topic, value_deserializer="json")).sink(sink)
started = time.perf_counter()
app.run(timeout=5.0)
if state["done"] is None:
    raise SystemExit(f"quixstreams wrote {state['written']} of {count} documents")
print(json.dumps({"docs": state["written"], "seconds": state["done"] - started,
                  "version": quixstreams.__version__}))
"""


def _ensure_quix_venv() -> Path:
    python = QUIX_VENV / "bin" / "python"
    if not python.exists():
        print(
            f"creating {QUIX_VENV} and installing quixstreams[elasticsearch] from PyPI ...", file=sys.stderr
        )
        subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
        subprocess.run(
            # the client major must match the server's (8): a 9 client is refused by an 8 node
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "quixstreams[elasticsearch]",
                "elasticsearch>=8.19,<9",
            ],
            check=True,
        )
    return python


def measure_quixstreams(settings: Settings, prefix: str, count: int, batch_size: int) -> dict[str, Any]:
    """quixstreams' ``ElasticsearchSink`` (own venv) reading the candles topic of ``settings`` into
    ``<prefix>-candles-quix`` (made from our template), with a new consumer group; docs/s and version."""
    target = load_settings(elasticsearch={"index_prefix": prefix})
    install_templates(make_client(target.elasticsearch), target.elasticsearch)
    with tempfile.TemporaryDirectory(prefix="bench-quix-") as tmp:
        script = Path(tmp) / "peer.py"
        script.write_text(_QUIX_SCRIPT)
        proc = subprocess.run(
            [
                str(_ensure_quix_venv()), str(script), settings.kafka.bootstrap_servers,
                topic_name(settings.kafka, "candles"), f"{prefix}-group", settings.elasticsearch.hosts,
                f"{index_alias(target.elasticsearch, 'candles')}-quix", str(count), str(batch_size),
                str(SinkOptions.model_fields["batch_wait_ms"].default / 1000),
            ],
            capture_output=True, text=True, cwd=tmp, check=False, timeout=1800,
        )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"quixstreams run failed: {proc.stderr[-2000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"docs_per_s": found["docs"] / found["seconds"], "version": found["version"]}


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


def versions(settings: Settings) -> dict[str, str]:
    """The versions of what is measured: libraries, librdkafka, Kafka and Elasticsearch."""
    from importlib.metadata import version

    import confluent_kafka

    libraries = ("pydantic", "orjson", "numpy", "numba", "elasticsearch", "confluent-kafka")
    found = {name: version(name) for name in libraries}
    found["librdkafka"] = confluent_kafka.libversion()[0]
    found["elasticsearch_server"] = server_version(make_client(settings.elasticsearch))
    found["kafka_server"] = settings.stack.kafka_version  # the stack's pinned release
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="Also write the result JSON to this file.")
    parser.add_argument("--events", type=int, default=200_000, help="Candle events (default 200,000).")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each interleaved measurement.")
    parser.add_argument("--batch-size", type=int, default=SinkOptions.model_fields["batch_size"].default)
    parser.add_argument(
        "--replay-candles", type=int, default=1_000_000, help="Candles of the replay run (0: skip it)."
    )
    parser.add_argument("--skip-quixstreams", action="store_true", help="Do not run quixstreams' sink.")
    parser.add_argument("--e2e-seconds", type=float, default=30.0, help="Length of the latency run.")
    parser.add_argument("--e2e-rate", type=float, default=200.0, help="Events per second in the latency run.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)

    run = f"bench-{uuid.uuid4().hex[:8]}"
    settings = prefixed(run)
    made: list[Settings] = [settings]
    load_before = os.getloadavg()
    try:
        t0 = time.perf_counter()
        result_run = backtest(args.events)
        payloads = candle_payloads(result_run, args.events)
        build_s = time.perf_counter() - t0
        encoding = measure_encode(result_run, args.repeat)
        docs = [json.loads(value) for _, value in payloads]
        models = [decode(value) for _, value in payloads]

        ours, raw, ours_events = [], [], []
        for n in range(args.repeat):  # interleaved: a load change hits both alike
            target = settings if n == 0 else prefixed(f"{run}-p{n}")  # the first run feeds the sink
            if n:
                made.append(target)
            ours.append(measure_producer(target, payloads))
            raw.append(measure_raw_producer(target, payloads))
        scratch = prefixed(f"{run}-events")
        made.append(scratch)
        ours_events.append(measure_producer_events(scratch, models))
        cleanup(scratch)

        sink_rates, bulk_rates, parallel_rates, quix_rates = [], [], [], []
        quix_version = "?"
        peers = ["sink", "bulk", "pbulk"] + ([] if args.skip_quixstreams else ["quix"])
        for n in range(args.repeat):
            for name in peers:
                prefix = f"{run}-{name}{n}"
                made.append(prefixed(prefix))
                if name == "sink":
                    sink_rates.append(measure_sink(settings, prefix, len(payloads), args.batch_size))
                elif name == "quix":
                    quix = measure_quixstreams(settings, prefix, len(payloads), args.batch_size)
                    quix_rates.append(quix["docs_per_s"])
                    quix_version = quix["version"]
                else:
                    threads = 2 if name == "pbulk" else 1
                    rates = parallel_rates if name == "pbulk" else bulk_rates
                    rates.append(measure_raw_bulk(settings, prefix, docs, args.batch_size, threads))
                cleanup(made[-1])  # keep the node's disk and heap as they were for the next run
        replayed: dict[str, Any] = {}
        if args.replay_candles:
            replay_settings = prefixed(f"{run}-replay")
            made.append(replay_settings)
            replayed = measure_replay(replay_settings, args.replay_candles)
            cleanup(replay_settings)
        e2e_settings = prefixed(f"{run}-e2e")
        made.append(e2e_settings)
        e2e_events = candle_events(int(args.e2e_seconds * args.e2e_rate) + 50)
        e2e = measure_e2e(e2e_settings, e2e_events, args.e2e_seconds, args.e2e_rate)
        found = versions(settings)
        if quix_rates:
            found["quixstreams"] = quix_version
    finally:
        for item in made:
            try:
                cleanup(item)
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                print(f"cleanup of {item.kafka.topic_prefix}: {exc}", file=sys.stderr)

    producer_rate, raw_producer_rate = statistics.median(ours), statistics.median(raw)
    sink_rate = max(sink_rates)
    raw_bulk = max(max(bulk_rates), max(parallel_rates))
    result: dict[str, Any] = {
        "events": len(payloads),
        "batch_size": args.batch_size,
        **encoding,
        "event_build_s": round(build_s, 1),
        **replayed,
        "producer_msgs_per_s": round(producer_rate),
        "raw_producer_msgs_per_s": round(raw_producer_rate),
        "producer_vs_raw_producer": round(producer_rate / raw_producer_rate, 3),
        "producer_runs_msgs_per_s": [round(r) for r in ours],
        "raw_producer_runs_msgs_per_s": [round(r) for r in raw],
        "producer_send_events_msgs_per_s": round(statistics.median(ours_events)),
        "sink_docs_per_s": round(sink_rate),
        "raw_bulk_docs_per_s": round(raw_bulk),
        "raw_bulk_helpers_bulk_docs_per_s": round(max(bulk_rates)),
        "raw_bulk_parallel_bulk_docs_per_s": round(max(parallel_rates)),
        "sink_vs_raw_bulk": round(sink_rate / raw_bulk, 3),
        "sink_runs_docs_per_s": [round(r) for r in sink_rates],
        "raw_bulk_runs_docs_per_s": [round(r) for r in bulk_rates],
        "parallel_bulk_runs_docs_per_s": [round(r) for r in parallel_rates],
        **(
            {
                "quixstreams_sink_docs_per_s": round(max(quix_rates)),
                "quixstreams_runs_docs_per_s": [round(r) for r in quix_rates],
                "sink_vs_quixstreams": round(sink_rate / max(quix_rates), 2),
            }
            if quix_rates
            else {}
        ),
        **e2e,
        "refresh_interval": SinkOptions.model_fields["refresh_interval"].default,
        "elasticsearch_heap": settings.stack.elasticsearch_heap,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "versions": found,
    }
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
