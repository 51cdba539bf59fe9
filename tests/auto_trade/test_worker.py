"""The consumer-group worker's per-candle rules, without Kafka: activation (position back, REST warm-up),
decisions once per candle, candles a previous owner decided, stale candles, giving symbols up."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path

import pytest

from cryptoflow.brokers import Position
from cryptoflow.events import CandleEvent, TradeEvent
from cryptoflow.indicators import compute
from cryptoflow.strategies import load_strategy
from tests._trading import HISTORY, eth_candles, live_candles, make_worker


def _decided(events: list) -> list[int]:
    return [e.time_ms for e in events if isinstance(e, CandleEvent)]


def test_each_candle_is_decided_once_after_a_rest_warm_up(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    events: list = []
    worker = make_worker(exchange, tmp_path, events)
    candles = live_candles(shared_data, 4)

    async def main() -> None:
        for candle in [candles[0], candles[1], candles[1], candles[0], candles[2]]:  # re-deliveries
            await worker.handle(candle, partition=0)
        await worker.stop()

    asyncio.run(main())
    assert _decided(events) == [c.open_time for c in candles[:3]]
    # the REST warm-up fed every candle before the first one: the values are the batch engine's over
    # the whole file (EMAs and Wilder's RSI depend on the whole history)
    strategy = load_strategy("basic")
    batch = compute(
        eth_candles(shared_data).iloc[: HISTORY + 3],
        preset=strategy.indicator_preset,
        **strategy.indicator_params(),
    )
    got = [e.candle.indicators for e in events if isinstance(e, CandleEvent)]
    assert [v.rsi for v in got] == pytest.approx(batch.rsi.iloc[HISTORY:].tolist(), rel=1e-9)
    assert [v.macd for v in got] == pytest.approx(batch.macd.iloc[HISTORY:].tolist(), rel=1e-9)
    # the decision is recorded in the broker's state document (one file, one atomic write)
    state = json.loads((tmp_path / "w.ETHUSDT.paper.json").read_text())
    assert state["engine"] == {"last_decided": candles[2].open_time}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.ETHUSDT.paper.json"]


def test_candles_a_previous_owner_decided_only_feed_the_indicators(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    candles = live_candles(shared_data, 3)
    (tmp_path / "w.ETHUSDT.engine.json").write_text(f'{{"last_decided": {candles[1].open_time}}}')
    events: list = []
    worker = make_worker(exchange, tmp_path, events)

    async def main() -> None:
        for candle in candles:
            await worker.handle(candle, partition=0)
        await worker.stop()

    asyncio.run(main())
    assert _decided(events) == [candles[2].open_time]


def test_a_crash_between_fill_and_state_save_does_not_decide_the_entry_candle_twice(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    candles = live_candles(shared_data, 2)
    entered = Position("ETHUSDT", 1, 0.25, candles[1].close, candles[1].open_time, 0.1, candles[1].close)
    state = {"broker": "paper", "cash": {"ETHUSDT": 999.9}, "positions": {"ETHUSDT": asdict(entered)}}
    (tmp_path / "w.ETHUSDT.paper.json").write_text(json.dumps(state))  # the fill was saved ...
    (tmp_path / "w.ETHUSDT.engine.json").write_text(
        f'{{"last_decided": {candles[0].open_time}}}'
    )  # ... not this
    events: list = []
    worker = make_worker(exchange, tmp_path, events)

    async def main() -> None:
        await worker.handle(candles[1], partition=0)
        position = worker.symbols["ETHUSDT"].broker.position("ETHUSDT")
        assert position == entered  # not closed, not re-entered, no candle counted as held
        await worker.stop()

    asyncio.run(main())
    # what was done is published again (the same event ids as the first time), nothing is done twice
    assert [e.schema_name for e in events] == ["candle", "signal", "trade"]
    assert events[2].trade.leg == "open" and events[2].trade.entry_time_ms == candles[1].open_time
    assert (
        events[2].event_id
        == TradeEvent.create(
            source="paper",
            run_id="w",
            strategy="basic",
            symbol="ETHUSDT",
            interval="5m",
            trade=events[2].trade,
        ).event_id
    )


def test_a_crash_between_exit_fill_and_state_save_publishes_the_exit_again_without_reentering(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    candles = live_candles(shared_data, 2)
    entry, exit_ = candles[0], candles[1]
    closed = Position("ETHUSDT", -1, 0.25, entry.close, entry.open_time - 300_000, 0.1, entry.close).close(
        exit_.open_time, exit_.close, "take_profit", 0.1, "cf-exit"
    )
    state = {
        "broker": "paper",
        "cash": {"ETHUSDT": 1010.0},
        "positions": {},
        "last_closed": {"ETHUSDT": asdict(closed)},
    }
    (tmp_path / "w.ETHUSDT.paper.json").write_text(json.dumps(state))
    (tmp_path / "w.ETHUSDT.engine.json").write_text(f'{{"last_decided": {entry.open_time}}}')
    events: list = []
    worker = make_worker(
        exchange, tmp_path, events, strategy_params={"rsi_oversold": 99, "rsi_overbought": 1}
    )

    async def main() -> None:
        await worker.handle(exit_, partition=0)
        assert worker.symbols["ETHUSDT"].broker.position("ETHUSDT") is None  # no re-entry
        await worker.stop()

    asyncio.run(main())
    assert [e.schema_name for e in events] == ["candle", "signal", "trade"]
    assert events[1].signal.action == "exit_short" and events[1].signal.reason == "take_profit"
    assert events[2].trade.leg == "close" and events[2].trade.pnl == pytest.approx(closed.pnl)


def test_stale_candles_are_not_traded_and_the_log_says_why(
    exchange, shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events: list = []
    worker = make_worker(exchange, tmp_path, events, max_candle_age_s=600)  # the 2025 candles are older
    candle = live_candles(shared_data, 1)[0]

    async def main() -> None:
        with caplog.at_level(logging.WARNING):
            await worker.handle(candle, partition=0)
        assert worker.symbols["ETHUSDT"].trader.last_decided == candle.open_time  # passed, for good
        await worker.stop()

    asyncio.run(main())
    assert events == []
    assert f"ETHUSDT: the candle opened at {candle.open_time} closed" in caplog.text
    assert "(more than 600 s): not traded" in caplog.text


def test_revoked_partitions_take_their_symbols_away(exchange, shared_data: Path, tmp_path: Path) -> None:
    events: list = []
    worker = make_worker(exchange, tmp_path, events)
    candle = live_candles(shared_data, 1)[0]

    class _NoOffsets:
        def commit(self, asynchronous: bool) -> None:
            return None

    async def main() -> None:
        await worker.handle(candle, partition=2)
        assert set(worker.symbols) == {"ETHUSDT"}
        worker.on_revoke(_NoOffsets(), [_Partition(1)])
        assert set(worker.symbols) == {"ETHUSDT"}  # another partition: kept
        worker.on_revoke(_NoOffsets(), [_Partition(2)])
        assert worker.symbols == {}
        await worker.stop()

    asyncio.run(main())


class _Partition:
    def __init__(self, partition: int) -> None:
        self.partition = partition
