"""The strategy worker's decisions, without Kafka: on the real 2025-08 candles each strategy's signals are
its own single-strategy ``close``-model backtest's entries and exits, action by action; the candles'
indicators are used exactly when the strategy's indicator settings are those they were produced with;
a re-delivered candle publishes nothing new, and a worker taking a symbol over continues its virtual
positions from the shared state, publishing each signal with the id it had."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auto_trade import SignalOptions, SignalWorker, StrategyRun, indicator_settings
from cryptoflow.binance import BinanceEndpoints
from cryptoflow.config import load_settings
from cryptoflow.events import CandleEvent, SignalEvent
from cryptoflow.indicators import PRESETS, compute, resolve_params
from cryptoflow.strategies import load_strategy
from tests._trading import HISTORY, STRATEGIES, EmaBands
from tests.auto_trade._signals import (
    SYMBOLS,
    candle_events,
    candle_frame,
    expected_signals,
    three_runs,
)


def published(events: list, symbol: str, run_id: str) -> list[tuple]:
    return [
        (e.signal.candle_open_time_ms, e.signal.action, e.signal.reason, e.signal.price)
        for e in events
        if e.symbol == symbol and e.run_id == run_id
    ]


def make_worker(
    tmp_path: Path, runs: list[StrategyRun], events: list, exchange=None, **options
) -> SignalWorker:
    endpoints = None if exchange is None else BinanceEndpoints(exchange.base_url, exchange.stream_url)
    return SignalWorker(
        SignalOptions(list(SYMBOLS), "5m", tmp_path, warmup_candles=HISTORY, **options),
        load_settings().kafka,
        runs,
        events.append,
        endpoints=endpoints,
    )


def feed(worker: SignalWorker, events: list[CandleEvent]) -> None:
    async def main() -> None:
        for event in events:
            await worker.handle_event(event, partition=0)
        await worker.stop()

    asyncio.run(main())


def test_each_strategys_signals_are_its_close_model_backtests_entries_and_exits(
    shared_data: Path, tmp_path: Path
) -> None:
    runs = three_runs()
    out: list = []
    worker = make_worker(tmp_path, runs, out)
    assert all(worker.uses_carried_indicators(run) for run in runs)
    feed(worker, [e for symbol in SYMBOLS for e in candle_events(shared_data, symbol)])

    assert all(isinstance(e, SignalEvent) for e in out)  # signals only, never a copy of the candle
    for symbol in SYMBOLS:
        for run in runs:
            want = expected_signals(shared_data, symbol, run)
            got = published(out, symbol, run.run_id)
            assert len(want) >= 6, (symbol, run.run_id)
            assert [g[:3] for g in got] == [w[:3] for w in want], (symbol, run.run_id)
            assert [g[3] for g in got] == pytest.approx([w[3] for w in want], rel=1e-12)
    # the envelope: source of the candles, decided at the candle's close, keyed by symbol, strategy's
    # parameters and the indicator values that decided it (those the candle carried)
    by_time = {(e.symbol, e.time_ms): e for e in candle_events(shared_data, "ETHUSDT")}
    first = next(e for e in out if e.symbol == "ETHUSDT" and e.run_id == "sig-custom")
    candle = next(c for c in by_time.values() if c.time_ms == first.signal.candle_open_time_ms)
    assert first.source == "live" and first.strategy == "custom" and first.interval == "5m"
    assert first.time_ms == candle.candle.close_time_ms and first.key == b"ETHUSDT|5m"
    assert first.signal.params == runs[2].strategy.params()
    assert first.signal.indicators == candle.candle.indicators
    assert len({e.event_id for e in out}) == len(out)


def test_a_strategy_with_other_indicator_settings_computes_its_own_after_a_rest_warm_up(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    own = StrategyRun("sig-rsi10", load_strategy("basic", rsi_period=10, **STRATEGIES["stops"]))
    carried = three_runs()[0]
    out: list = []
    worker = make_worker(tmp_path, [carried, own], out, exchange)
    assert not worker.uses_carried_indicators(own)
    feed(worker, candle_events(shared_data, "ETHUSDT"))

    for run in (carried, own):
        want = expected_signals(shared_data, "ETHUSDT", run)
        got = published(out, "ETHUSDT", run.run_id)
        assert len(want) >= 6 and [g[:3] for g in got] == [w[:3] for w in want], run.run_id
    # its published indicators are its own (RSI over 10 candles), not the candles' (14)
    frame = candle_frame(shared_data, "ETHUSDT")
    rsi10 = compute(frame, rsi_period=10).rsi
    mine = [e for e in out if e.run_id == "sig-rsi10"]
    at = [frame.index.get_loc(pd.Timestamp(e.signal.candle_open_time_ms, unit="ms", tz="UTC")) for e in mine]
    assert [e.signal.indicators.rsi for e in mine] == pytest.approx(rsi10.iloc[at].tolist(), rel=1e-9)
    assert not np.allclose([e.signal.indicators.rsi for e in mine], compute(frame).rsi.iloc[at])


def test_a_strategy_declaring_indicators_streams_them_after_a_rest_warm_up(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    run = StrategyRun("sig-bands", EmaBands())
    out: list = []
    worker = make_worker(tmp_path, [run], out, exchange)
    assert not worker.uses_carried_indicators(run)  # its EMAs and bands are computed here
    feed(worker, candle_events(shared_data, "ETHUSDT"))
    want = expected_signals(shared_data, "ETHUSDT", run)
    got = published(out, "ETHUSDT", run.run_id)
    assert len(want) >= 6 and [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == pytest.approx([w[3] for w in want], rel=1e-12)


def test_the_candles_indicators_are_used_only_when_the_settings_match() -> None:
    def uses(strategy, candles=PRESETS["ta"]) -> bool:
        options = SignalOptions(["ETHUSDT"], "5m", Path("state"), candles_indicators=candles)
        worker = SignalWorker(options, load_settings().kafka, [StrategyRun("r", strategy)], print)
        return worker.uses_carried_indicators(worker.runs[0])

    assert indicator_settings(load_strategy("basic")) == resolve_params("ta")
    assert uses(load_strategy("basic")) and uses(load_strategy("custom", rsi_oversold=20))
    assert not uses(load_strategy("basic", rsi_period=10))
    assert not uses(load_strategy("basic", macd_slow=30))
    assert not uses(load_strategy("basic", indicator_preset="seed"))
    assert uses(load_strategy("basic", indicator_preset="seed"), PRESETS["seed"])
    assert not uses(load_strategy("basic"), PRESETS["seed"])
    assert not uses(load_strategy("basic"), None)  # unknown settings: compute


def test_a_redelivered_candle_publishes_nothing_new(shared_data: Path, tmp_path: Path) -> None:
    events = candle_events(shared_data, "ETHUSDT", live=120)
    first: list = []
    feed(make_worker(tmp_path / "a", three_runs(), first), events)
    again: list = []
    worker = make_worker(tmp_path / "b", three_runs(), again)
    feed(worker, [e for event in events for e in (event, event)])  # every candle delivered twice
    assert [e.event_id for e in again] == [e.event_id for e in first] and first
    assert again == first


class _Killed(Exception):
    """The process dies here."""


@pytest.mark.parametrize("nth", [0, 3, 6])
def test_a_worker_killed_between_publishing_and_saving_is_continued_by_the_next_owner(
    shared_data: Path, tmp_path: Path, nth: int
) -> None:
    """A worker dies after the signals of a candle (the ``nth`` with signals) reached Kafka, before it saved
    the state; another worker takes the symbol over from the offsets committed a few candles earlier:
    together they publish every signal of one uninterrupted run, with the same id and content, the
    dying candle's twice (the same event), none that the run did not publish."""
    events = candle_events(shared_data, "ETHUSDT", live=120)
    whole: list = []
    feed(make_worker(tmp_path / "whole", three_runs(), whole), events)
    decided = {e.signal.candle_open_time_ms for e in whole}
    dies_at = [i for i, e in enumerate(events) if e.time_ms in decided and i >= 5][nth]

    state = tmp_path / "shared"
    before: list = []
    first = make_worker(state, three_runs(), before)
    flushed = 0

    def flush() -> None:
        nonlocal flushed
        flushed += 1
        if flushed == dies_at + 1:
            raise _Killed

    first.flush = flush
    with pytest.raises(_Killed):
        feed(first, events)
    saved = json.loads((state / "sig-stops.ETHUSDT.signals.json").read_text())
    assert saved["last_decided"] == events[dies_at - 1].time_ms  # the dying candle's state is lost
    after: list = []
    feed(make_worker(state, three_runs(), after), events[dies_at - 5 :])

    whole_by_id = {e.event_id: e for e in whole}
    assert {e.event_id for e in before} | {e.event_id for e in after} == set(whole_by_id)
    assert all(whole_by_id[e.event_id] == e for e in before + after)
    again = {e.event_id for e in before} & {e.event_id for e in after}
    assert again == {e.event_id for e in whole if e.signal.candle_open_time_ms == events[dies_at].time_ms}
    assert again


def test_a_gap_in_the_candles_is_logged(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = candle_events(shared_data, "ETHUSDT", live=10)
    with caplog.at_level(logging.WARNING, logger="auto_trade"):
        feed(make_worker(tmp_path, three_runs()[:1], []), events[:3] + events[6:])
    assert [r.getMessage() for r in caplog.records if r.name.startswith("auto_trade")] == [
        f"ETHUSDT sig-stops: 3 candle(s) missing between the one opened at {events[2].time_ms} and the one "
        f"opened at {events[6].time_ms}"
    ]
