"""Backtest replay: events from a real backtest, then replay -> Kafka -> sink -> Elasticsearch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backtesting import BacktestConfig, BacktestResult, run_backtest
from backtesting_trade import (
    ReplayProgress,
    backtest_events,
    count_events,
    default_run_id,
    encoded_events,
    replay,
)
from cryptoflow.candles import load_candles
from cryptoflow.config import Settings
from cryptoflow.events import encode
from cryptoflow.kafka import EventProducer, topic_name
from cryptoflow.sink import Sink, SinkOptions
from cryptoflow.testing.services import es_count, es_docs

FILE = "ETHUSDT_1h_2021-04_2023-12.csv"


@pytest.fixture(scope="module")
def result(shared_data: Path) -> BacktestResult:
    candles = load_candles(shared_data / FILE)
    return run_backtest(candles, "custom", BacktestConfig(fill="intrabar", close_at_end=False))


def _ms(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1_000_000)


def test_events_cover_every_candle_and_trade_leg_in_time_order(result: BacktestResult) -> None:
    run_id = default_run_id(result, "1h")
    events = list(backtest_events(result, run_id=run_id, interval="1h"))
    counts = count_events(result)
    assert len(result.trades) > 20
    assert (
        [e.schema_name for e in events].count("candle")
        == counts["candle"]
        == len(result.symbols["ETHUSDT"].candles)
    )
    assert [e.schema_name for e in events].count("trade") == counts["trade"]
    assert counts["trade"] == 2 * len(result.trades) + len(result.open_positions)
    assert len({e.event_id for e in events}) == len(events)
    times = [e.time_ms for e in events]
    assert times == sorted(times)
    assert all(e.source == "backtest" and e.run_id == run_id and e.interval == "1h" for e in events)
    first = result.symbols["ETHUSDT"]
    candle = events[0].candle
    assert candle.close == pytest.approx(first.candles["close"].iloc[0])
    assert candle.indicators.rsi is None  # still warming up: null, not NaN
    late = next(e for e in events[200:] if e.schema_name == "candle")
    assert late.candle.indicators.rsi == pytest.approx(
        first.indicators.loc[pd.Timestamp(late.time_ms, unit="ms", tz="UTC"), "rsi"]
    )


def test_the_columnar_replay_sends_the_bytes_of_the_models_in_their_order_per_topic_and_key(
    result: BacktestResult,
) -> None:
    run_id = default_run_id(result, "1h")
    expected: dict[tuple[str, bytes], list[bytes]] = {}
    for event in backtest_events(result, run_id=run_id, interval="1h", source="replay"):
        kind = "candles" if event.schema_name == "candle" else "trades"
        expected.setdefault((kind, event.key), []).append(encode(event))
    batches = list(encoded_events(result, run_id=run_id, interval="1h", source="replay", batch_size=1000))
    assert len(batches) > 3  # the candles come in several batches
    sent: dict[tuple[str, bytes], list[bytes]] = {}
    for batch in batches:
        sent.setdefault((batch.kind, batch.key), []).extend(batch.values)
    assert sent == expected


def test_the_same_backtest_gives_the_same_run_and_event_ids(
    result: BacktestResult, shared_data: Path
) -> None:
    again = run_backtest(load_candles(shared_data / FILE), "custom", BacktestConfig(fill="intrabar"))
    assert default_run_id(again, "1h") == default_run_id(result, "1h")
    ids = [e.event_id for e in backtest_events(result, run_id="r", interval="1h")]
    assert ids == [e.event_id for e in backtest_events(again, run_id="r", interval="1h")]
    other = run_backtest(load_candles(shared_data / FILE), "custom", BacktestConfig(fill="close"))
    assert default_run_id(other, "1h") != default_run_id(result, "1h")


def _trade_rows(docs: dict[str, dict]) -> list[dict]:
    closes = sorted(
        (d["trade"] for d in docs.values() if d["trade"]["leg"] == "close"), key=lambda t: t["entry_time_ms"]
    )
    return [
        {
            "side": t["side"],
            "entry_time": t["entry_time_ms"],
            "entry_price": t["entry_price"],
            "exit_time": t["exit_time_ms"],
            "exit_price": t["exit_price"],
            "exit_reason": t["exit_reason"],
            "quantity": t["quantity"],
            "pnl": t["pnl"],
            "fees": t["fees"],
        }
        for t in closes
    ]


@pytest.mark.integration
def test_replay_through_kafka_into_elasticsearch_matches_the_backtest(
    result: BacktestResult, pipeline: Settings
) -> None:
    states: list[ReplayProgress] = []
    with EventProducer(pipeline.kafka) as producer:
        published = replay(result, producer, progress=states.append)
    counts = count_events(result)
    total = sum(counts.values())
    assert states[-1] == ReplayProgress(total, total, total, total)
    assert all(s.acknowledged <= s.produced <= s.built for s in states)
    assert published.events_per_s > 0
    assert published.topics == {
        topic_name(pipeline.kafka, "candles"): counts["candle"],
        topic_name(pipeline.kafka, "trades"): counts["trade"],
    }

    stats = Sink(pipeline, SinkOptions(once=True)).run()

    assert stats.indexed == published.total and stats.dead_lettered == 0
    assert es_count(pipeline, "candles") == counts["candle"]
    trades = es_docs(pipeline, "trades")
    assert len(trades) == counts["trade"]
    expected = [
        {
            "side": row.side,
            "entry_time": _ms(row.entry_time),
            "entry_price": float(row.entry_price),
            "exit_time": _ms(row.exit_time),
            "exit_price": float(row.exit_price),
            "exit_reason": row.exit_reason,
            "quantity": float(row.quantity),
            "pnl": float(row.pnl),
            "fees": float(row.fees),
        }
        for row in result.trades.itertuples(index=False)
    ]
    assert _trade_rows(trades) == expected  # exactly: JSON round-trips doubles
    assert all(d["run_id"] == published.run_id and d["strategy"] == "custom" for d in trades.values())

    # replaying the same run again leaves the same documents
    before = es_docs(pipeline, "trades")
    with EventProducer(pipeline.kafka) as producer:
        assert replay(result, producer).run_id == published.run_id
    assert Sink(pipeline, SinkOptions(once=True)).run().indexed == published.total
    assert es_count(pipeline, "candles") == counts["candle"]
    assert es_docs(pipeline, "trades") == before


@pytest.mark.integration
def test_replay_command_publishes_what_the_sink_command_indexes(
    pipeline: Settings, shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptoflow.cli import main

    monkeypatch.setenv("CRYPTOFLOW_KAFKA__TOPIC_PREFIX", pipeline.kafka.topic_prefix)
    monkeypatch.setenv("CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX", pipeline.elasticsearch.index_prefix)
    args = ["replay", "--data", str(shared_data / "ETHUSDT_5m_2025-08.csv"), "--strategy", "basic"]
    args += ["--start", "2025-08-20", "--end", "2025-08-25", "--fill", "close", "--run-id", "cli-run"]
    assert main(args) == 0
    assert main(["sink", "--once"]) == 0
    out = capsys.readouterr().out
    assert "cli-run" in out and "published" in out and "indexed" in out
    candles = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")
    period = candles.loc["2025-08-20":"2025-08-25"]
    assert es_count(pipeline, "candles") == len(period)
    docs = es_docs(pipeline, "candles", {"term": {"run_id": "cli-run"}})
    assert len(docs) == len(period)
    assert {d["strategy"] for d in docs.values()} == {"basic"}
    assert json.loads(encode(next(iter(backtest_events(
        run_backtest(period, "basic", BacktestConfig(fill="close")), run_id="cli-run", interval="5m"
    ))))) in docs.values()  # fmt: skip
