"""The sink under faults, against the real services: kill -9 mid-replay, an Elasticsearch outage, the
flood-stage read-only block, a crash between the dead-letter queue's acknowledgement and the commit.

Each runs the sink as a separate ``cryptoflow sink`` process, as an operator would.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from backtesting import BacktestConfig, BacktestResult, run_backtest
from backtesting_trade import backtest_events, count_events, default_run_id, encoded_events, replay
from cryptoflow.candles import load_candles
from cryptoflow.config import Settings
from cryptoflow.elastic import make_client
from cryptoflow.events import decode
from cryptoflow.kafka import EventProducer, client_config, topic_name
from cryptoflow.sink import DLQ_HEADER_PREFIX, read_dead_letters
from cryptoflow.stack import LocalStack
from cryptoflow.testing.events import candle_events
from cryptoflow.testing.services import (
    REPO,
    es_count,
    es_docs,
    free_port,
    headers_of,
    prefix_env,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration


def _start_sink(settings: Settings, log: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "cryptoflow", "sink", "--log-interval", "2", *args]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=prefix_env(settings.kafka.topic_prefix),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def _indexed(output: str) -> int:
    match = re.search(r"indexed ([\d,]+) document", output)
    assert match, output[-3000:]
    return int(match.group(1).replace(",", ""))


def test_kill_9_mid_replay_then_restart_gives_exact_unique_counts(
    pipeline: Settings, shared_data: Path, tmp_path: Path
) -> None:
    result = run_backtest(
        load_candles(shared_data / "ETHUSDT_5m_2025-04_2025-06.csv"), "custom", BacktestConfig()
    )
    run_id = default_run_id(result, "5m")
    expected = {e.event_id for e in backtest_events(result, run_id=run_id, interval="5m")}
    counts = count_events(result)
    total = sum(counts.values())
    batch = 500
    log = tmp_path / "sink.log"
    in_flight = 2
    sink = _start_sink(
        pipeline, log, "--batch-size", str(batch), "--batch-wait-ms", "100", "--max-in-flight", str(in_flight)
    )
    at_kill = _kill_mid_replay(pipeline, result, sink, rate=8_000.0, candles_first=4_000, wait_s=90)
    assert at_kill < total, "the sink was killed after it had finished: nothing was proven"

    restart = _restart_once(pipeline, timeout_s=180)

    assert es_count(pipeline, "candles") == counts["candle"]
    assert es_count(pipeline, "trades") == counts["trade"]
    found = set(es_docs(pipeline, "candles")) | set(es_docs(pipeline, "trades"))
    assert found == expected  # no gaps, and nothing else
    # it resumed from the committed offsets: only the batches in flight (written, not committed) come again
    assert _indexed(restart) <= total - at_kill + in_flight * batch


def _kill_mid_replay(
    settings: Settings, result: BacktestResult, sink: subprocess.Popen, rate: float | None,
    candles_first: int, wait_s: float,
) -> int:  # fmt: skip
    """Replay ``result`` at ``rate`` events/s, kill -9 the sink once ``candles_first`` candles are
    indexed, let the replay finish; returns the documents indexed at the kill."""
    try:
        with EventProducer(settings.kafka) as producer:
            publisher = threading.Thread(target=replay, args=(result, producer), kwargs={"rate": rate})
            publisher.start()
            wait_until(
                lambda: es_count(settings, "candles") >= candles_first, wait_s,
                f"the sink to index {candles_first} candles",
            )  # fmt: skip
            sink.send_signal(signal.SIGKILL)
            sink.wait(timeout=30)
            at_kill = es_count(settings, "candles") + es_count(settings, "trades")
            publisher.join()
    finally:
        _stop(sink)
    assert sink.returncode == -signal.SIGKILL
    return at_kill


def _restart_once(settings: Settings, timeout_s: float) -> str:
    """``cryptoflow sink --once`` after the kill; its output."""
    restart = subprocess.run(
        [sys.executable, "-m", "cryptoflow", "sink", "--once"],
        cwd=REPO, env=prefix_env(settings.kafka.topic_prefix), capture_output=True, text=True,
        timeout=timeout_s,
    )  # fmt: skip
    assert restart.returncode == 0, restart.stderr[-3000:]
    return restart.stdout


def _generated_candles(count: int) -> pd.DataFrame:
    """``count`` 1m candles of a seeded random walk (a million in a fraction of a second)."""
    rng = np.random.default_rng(17)
    close = np.round(2000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, count))), 2)
    open_ = np.concatenate(([2000.0], close[:-1]))
    wick = np.round(np.abs(rng.normal(0.0, 0.0008, count)) * close, 2)
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick,
            "low": np.minimum(open_, close) - wick,
            "close": close,
            "volume": np.round(rng.uniform(1.0, 100.0, count), 3),
        },
        index=pd.date_range("2021-01-01", periods=count, freq="1min", tz="UTC", name="open_time"),
    )
    frame.attrs.update(symbol="SYNTHUSDT", interval="1m")
    return frame


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_mid_replay_of_a_million_candles_then_restart_gives_exact_unique_counts(
    pipeline: Settings, tmp_path: Path
) -> None:
    result = run_backtest(_generated_candles(1_000_000), "custom", BacktestConfig())
    counts = count_events(result)
    total = sum(counts.values())
    log = tmp_path / "sink.log"
    sink = _start_sink(pipeline, log)  # the default batches: 5000 documents, 2 in flight
    at_kill = _kill_mid_replay(pipeline, result, sink, rate=None, candles_first=50_000, wait_s=300)
    assert at_kill < total, "the sink was killed after it had finished: nothing was proven"

    restart = _restart_once(pipeline, timeout_s=1500)

    assert es_count(pipeline, "candles") == counts["candle"] == 1_000_000  # one document per event id
    run_id = default_run_id(result, "1m")
    batches = encoded_events(result, run_id=run_id, interval="1m")
    trade_ids = {decode(value).event_id for b in batches if b.kind == "trades" for value in b.values}
    assert set(es_docs(pipeline, "trades")) == trade_ids and len(trade_ids) == counts["trade"]
    # it resumed from the committed offsets: only the batches in flight (written, not committed) come again
    assert _indexed(restart) <= total - at_kill + 2 * 5000


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_elasticsearch_down_20_s_mid_stream_the_sink_recovers_by_itself(
    pipeline: Settings, local_stack: LocalStack, tmp_path: Path
) -> None:
    if local_stack.elasticsearch.process() is None:
        pytest.skip("Elasticsearch is not run by the local stack here, so this test cannot stop it")
    first, second = candle_events(4_000, run_id="before"), candle_events(4_000, run_id="during")
    port = free_port()
    log = tmp_path / "sink.log"
    sink = _start_sink(
        pipeline, log, "--batch-size", "1000", "--max-backoff", "4", "--health-port", str(port),
        "--stall-timeout", "4",
    )  # fmt: skip
    try:
        with EventProducer(pipeline.kafka) as producer:
            producer.send_many(first)
        wait_until(lambda: es_count(pipeline, "candles") == len(first), 60, "the first half indexed")
        wait_until(lambda: _health(port)[0] == 200, 20, "a healthy sink")

        down_at = time.monotonic()
        try:
            assert local_stack.down(only=("elasticsearch",)) == ["elasticsearch"]
            with EventProducer(pipeline.kafka) as producer:  # the stream goes on while Elasticsearch is down
                producer.send_many(second)
            # lag and no progress: the health check says so (instead of looking healthy)
            wait_until(lambda: _health(port)[0] == 503, 20, "the health check to report the stall")
            status, report = _health(port)
            assert report["lag"] > 0 and not report["healthy"] and report["paused"]
            time.sleep(max(0.0, 20.0 - (time.monotonic() - down_at)))
            assert sink.poll() is None, "the sink died while Elasticsearch was down"
        finally:
            status = local_stack.up()  # restarts only Elasticsearch
        # `up` returns once the node has recovered its indices, not merely once it answers
        assert status["elasticsearch"]["health"] in ("yellow", "green")

        wait_until(
            lambda: es_count(pipeline, "candles") == len(first) + len(second), 120, "the sink to catch up"
        )
        wait_until(lambda: _health(port)[0] == 200, 30, "the health check to recover")
        assert set(es_docs(pipeline, "candles")) == {e.event_id for e in first + second}
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=60) == 0
    finally:
        _stop(sink)
    output = log.read_text()
    assert "retrying in" in output and "Elasticsearch is back" in output


def _block_writes(settings: Settings, blocked: bool) -> None:
    """What Elasticsearch's flood-stage disk watermark does to an index, on the test's own indices only
    (the shared node's watermark settings are never touched)."""
    make_client(settings.elasticsearch).indices.put_settings(
        index=f"{settings.elasticsearch.index_prefix}-*",
        settings={"index.blocks.read_only_allow_delete": True if blocked else None},
    )


def test_the_flood_stage_read_only_block_pauses_the_sink_with_one_line_until_it_is_lifted(
    pipeline: Settings, tmp_path: Path
) -> None:
    first, second = candle_events(2_000, run_id="before"), candle_events(3_000, run_id="blocked")
    port = free_port()
    log = tmp_path / "sink.log"
    sink = _start_sink(pipeline, log, "--batch-size", "500", "--max-backoff", "1", "--health-port", str(port))
    try:
        with EventProducer(pipeline.kafka) as producer:
            producer.send_many(first)
        wait_until(lambda: es_count(pipeline, "candles") == len(first), 60, "the first events indexed")
        wait_until(lambda: _health(port)[0] == 200, 20, "a healthy sink")

        _block_writes(pipeline, True)
        try:
            with EventProducer(pipeline.kafka) as producer:
                producer.send_many(second)
            # unhealthy at once (not after the stall timeout), and it keeps retrying
            wait_until(lambda: _health(port)[0] == 503, 30, "the health check to report the block")
            retries = _health(port)[1]["retries"]
            wait_until(lambda: _health(port)[1]["retries"] >= retries + 5, 60, "five more retries")
            status, report = _health(port)
            assert status == 503 and "index.blocks.read_only_allow_delete" in report["reason"], report
            assert es_count(pipeline, "candles") == len(first)
            assert sink.poll() is None, "the sink died while the index was blocked"
        finally:
            _block_writes(pipeline, False)

        wait_until(
            lambda: es_count(pipeline, "candles") == len(first) + len(second), 60, "the sink to resume"
        )
        wait_until(lambda: _health(port)[0] == 200, 30, "the health check to recover")
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=60) == 0
    finally:
        _stop(sink)
    assert set(es_docs(pipeline, "candles")) == {e.event_id for e in first + second}
    lines = log.read_text().splitlines()
    told = [line for line in lines if "read_only_allow_delete" in line]
    assert len(told) == 1, told  # one line for the whole pause, however many retries
    index = f"{pipeline.elasticsearch.index_prefix}-candles"
    assert "ERROR" in told[0] and f"Elasticsearch blocks writes to {index}" in told[0]
    assert "flood-stage watermark" in told[0] and "Free disk space" in told[0]
    assert '_settings {"index.blocks.read_only_allow_delete": null}' in told[0]
    assert not [line for line in lines if "batch not written" in line or "Traceback" in line]
    assert any("(the index block is lifted); resumed" in line for line in lines)


def test_a_second_sink_joining_mid_stream_takes_over_cleanly(pipeline: Settings, tmp_path: Path) -> None:
    symbols = tuple(f"S{k}USDT" for k in range(12))  # enough keys to reach every partition
    events = candle_events(24_000, symbols=symbols)
    logs = [tmp_path / "sink-a.log", tmp_path / "sink-b.log"]
    options = ("--kind", "candles", "--batch-size", "1000", "--batch-wait-ms", "100")
    sinks = [_start_sink(pipeline, logs[0], *options)]

    def publish() -> None:  # a steady stream, so the second sink joins while the first is busy
        with EventProducer(pipeline.kafka) as producer:
            for k, event in enumerate(events):
                producer.send(event)
                if k % 100 == 99:
                    time.sleep(0.04)

    publisher = threading.Thread(target=publish)
    try:
        publisher.start()
        wait_until(lambda: es_count(pipeline, "candles") >= 3_000, 60, "the first sink to index")
        sinks.append(_start_sink(pipeline, logs[1], *options))
        wait_until(lambda: "assigned" in logs[1].read_text(), 60, "the second sink to get partitions")
        publisher.join()
        wait_until(
            lambda: es_count(pipeline, "candles") == len(events), 120, "both sinks to index everything"
        )
        for sink in sinks:
            sink.send_signal(signal.SIGTERM)
        assert [sink.wait(timeout=60) for sink in sinks] == [0, 0]
    finally:
        for sink in sinks:
            _stop(sink)
    outputs = [log.read_text() for log in logs]
    assert "revoked" in outputs[0]  # the first sink gave partitions up ...
    assert set(es_docs(pipeline, "candles")) == {e.event_id for e in events}
    indexed = [_indexed(output) for output in outputs]
    assert min(indexed) > 0  # both took part
    # ... after writing and committing what it had read: nothing was indexed twice
    assert sum(indexed) == len(events)


# the real sink, killed (SIGKILL) right after the dead-letter queue acknowledged a batch's dead letters,
# before the batch's offsets are committed
_DIE_AFTER_DEAD_LETTERS = """
import os, runpy, signal, sys
from cryptoflow.sink._dlq import DeadLetterPublisher

publish = DeadLetterPublisher.publish

def publish_then_die(self, dead):
    publish(self, dead)
    if dead:
        os.kill(os.getpid(), signal.SIGKILL)

DeadLetterPublisher.publish = publish_then_die
sys.argv = ["cryptoflow", "sink", "--once"]
runpy.run_module("cryptoflow", run_name="__main__")
"""


def test_a_dead_letter_written_again_after_a_crash_before_the_commit_is_read_once(
    pipeline: Settings,
) -> None:
    topic = topic_name(pipeline.kafka, "candles")
    good = candle_events(300)
    poison = [b"not json", b"not json", b'{"schema_name": "candle"}']  # twice the same bytes: two letters
    with EventProducer(pipeline.kafka, config={"partitioner": "murmur2_random"}) as producer:
        producer.send_many(good[:150])
        for value in poison:
            producer.send_raw(topic, value, key=b"ETHUSDT|1m", headers=[("origin", b"test")])
        producer.send_many(good[150:])
    env = prefix_env(pipeline.kafka.topic_prefix)

    crashed = subprocess.run(
        [sys.executable, "-c", _DIE_AFTER_DEAD_LETTERS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout[-3000:] + crashed.stderr[-3000:]
    assert len(read_topic(pipeline, "dlq", expected=len(poison))) == len(poison)  # acknowledged ...
    restart = subprocess.run(
        [sys.executable, "-m", "cryptoflow", "sink", "--once"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert restart.returncode == 0, restart.stdout[-3000:] + restart.stderr[-3000:]

    # ... and not committed: the restarted sink read the batch again and dead-lettered it again
    copies = read_topic(pipeline, "dlq", expected=2 * len(poison))
    assert len(copies) == 2 * len(poison)
    by_key: dict[bytes, list] = {}
    for message in copies:
        by_key.setdefault(message.key(), []).append(message)
    assert len(by_key) == len(poison)
    for first, second in by_key.values():  # a re-delivery is byte for byte the same record
        assert first.key() == second.key() and first.value() == second.value()
        assert first.headers() == second.headers()

    # two letters as earlier versions wrote them: keyed by the refused message's own key
    with EventProducer(pipeline.kafka) as producer:
        for offset in (1000, 1001):
            where = [("topic", topic), ("partition", "0"), ("offset", str(offset)), ("category", "old")]
            producer.send_raw(
                topic_name(pipeline.kafka, "dlq"), b"old", key=b"ETHUSDT|1m",
                headers=[(DLQ_HEADER_PREFIX + name, value.encode()) for name, value in where],
            )  # fmt: skip
    letters = read_dead_letters(pipeline.kafka)  # what a reader of the DLQ sees: each dead letter once
    old = [letter for letter in letters if letter.category == "old"]
    assert sorted(letter.id for letter in old) == [f"{topic}/0/1000", f"{topic}/0/1001"]
    assert [letter.key for letter in old] == [b"ETHUSDT|1m"] * 2
    letters = [letter for letter in letters if letter.category != "old"]
    assert sorted(letter.value for letter in letters) == sorted(poison)
    assert len({(letter.topic, letter.partition, letter.offset) for letter in letters}) == len(poison)
    for letter in letters:
        assert letter.id == f"{letter.topic}/{letter.partition}/{letter.offset}" and letter.topic == topic
        assert letter.key == b"ETHUSDT|1m" and letter.headers == {"origin": b"test"}
        assert letter.reason
    assert sorted(letter.category for letter in letters) == ["invalid_event", "invalid_json", "invalid_json"]
    assert headers_of(copies[0])[DLQ_HEADER_PREFIX + "group"] == f"{pipeline.kafka.topic_prefix}-sink"
    assert es_count(pipeline, "candles") == len(good)
    assert set(es_docs(pipeline, "candles")) == {e.event_id for e in good}
    # and Kafka's compaction drops the second copy of a letter in time
    dlq = ConfigResource(ResourceType.TOPIC, topic_name(pipeline.kafka, "dlq"))
    admin = AdminClient(client_config(pipeline.kafka))
    config = admin.describe_configs([dlq])[dlq].result(timeout=30)
    assert config["cleanup.policy"].value == "compact,delete"
