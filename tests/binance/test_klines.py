"""KlineSource against the fake exchange: warm-up, exactly-once closed candles, reconnect and backfill."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from cryptoflow.binance import BinanceEndpoints, KlineEvent, KlineSource, SourceOptions
from cryptoflow.candles import load_candles
from cryptoflow.errors import ConfigurationError
from cryptoflow.testing.fake_binance import FakeExchange, replay_exchange

SYMBOLS = ("ETHUSDT", "BTCUSDT")


def collect(
    exchange: FakeExchange, options: SourceOptions, *, fault=None, market="futures"
) -> tuple[list[KlineEvent], KlineSource]:
    """Run a source until every symbol's last candle of the replay arrived closed; ``fault(events)`` is
    called after each event and may break the connection."""
    last_open = int(exchange.market.grid[-1])
    source = KlineSource(
        list(exchange.market.symbols),
        exchange.market.interval,
        market=market,
        endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
        options=options,
    )
    events: list[KlineEvent] = []

    async def start_when_subscribed() -> None:
        while not exchange.subscribers:
            await asyncio.sleep(0.01)
        exchange.start_replay()

    async def main() -> None:
        done: set[str] = set()
        stream = source.events()
        starter = asyncio.create_task(start_when_subscribed())
        try:
            async for event in stream:
                events.append(event)
                if event.candle.is_closed and event.candle.open_time == last_open:
                    done.add(event.candle.symbol)
                    if done == set(exchange.market.symbols):
                        return
                if fault is not None:
                    fault(events)
        finally:
            starter.cancel()
            await stream.aclose()

    asyncio.run(asyncio.wait_for(main(), 60))
    return events, source


def closed_times(events: list[KlineEvent], symbol: str, kinds=("live", "backfill")) -> list[int]:
    return [
        e.candle.open_time
        for e in events
        if e.candle.symbol == symbol and e.candle.is_closed and e.kind in kinds
    ]


def expected_times(shared_data: Path, symbol: str, exchange: FakeExchange) -> list[int]:
    candles = load_candles(shared_data / f"{symbol}_5m_2025-08.csv")
    times = [t.value // 1_000_000 for t in candles.index]
    return [
        t for t in times if exchange.market.grid[exchange.market.history] <= t <= exchange.market.grid[-1]
    ]


def assert_exactly_once(events, shared_data, exchange) -> None:
    for symbol in exchange.market.symbols:
        got = closed_times(events, symbol)
        assert got == expected_times(shared_data, symbol, exchange), symbol
        assert not [t for t, n in Counter(got).items() if n > 1]


def test_warmup_then_every_candle_once_with_intrabar_updates(shared_data: Path) -> None:
    exchange = replay_exchange(shared_data, history=80, limit=30)
    try:
        events, source = collect(exchange, SourceOptions(warmup_candles=50, silence_timeout_s=5))
    finally:
        exchange.stop_thread()
    assert source.reconnects == 0
    for symbol in SYMBOLS:
        warm = closed_times(events, symbol, kinds=("warmup",))
        assert len(warm) == 50 and warm[-1] == int(exchange.market.grid[79])
        live = [e for e in events if e.kind == "live" and e.candle.symbol == symbol]
        assert sum(not e.candle.is_closed for e in live) == 3 * 30
    assert_exactly_once(events, shared_data, exchange)
    # warm-up comes before any live update of the same symbol
    first_live = next(i for i, e in enumerate(events) if e.kind == "live")
    assert all(e.kind == "warmup" for e in events[:first_live])
    final = next(e.candle for e in events if e.kind == "live" and e.candle.is_closed)
    candles = load_candles(shared_data / f"{final.symbol}_5m_2025-08.csv")
    row = candles.loc[candles.index.asi8 // 1_000_000 == final.open_time].iloc[0]
    assert (final.open, final.high, final.low, final.close) == pytest.approx(
        (row.open, row.high, row.low, row.close)
    )


def test_dropped_connection_is_backfilled_without_gaps_or_duplicates(shared_data: Path) -> None:
    exchange = replay_exchange(shared_data, history=40, limit=300, speed=300)
    dropped = []

    def fault(events):
        closed = sum(1 for e in events if e.kind == "live" and e.candle.is_closed)
        if closed >= 20 * (len(dropped) + 1) and len(dropped) < 2:
            dropped.append(closed)
            exchange.drop_connections()

    try:
        events, source = collect(
            exchange, SourceOptions(warmup_candles=30, backoff_initial_s=0.15), fault=fault
        )
    finally:
        exchange.stop_thread()
    assert len(dropped) == 2 and source.reconnects >= 2
    assert any(e.kind == "backfill" for e in events)
    assert_exactly_once(events, shared_data, exchange)


def test_silent_stream_is_detected_and_backfilled(shared_data: Path) -> None:
    exchange = replay_exchange(shared_data, history=40, limit=300, speed=300)
    silenced = []

    def fault(events):
        if not silenced and sum(1 for e in events if e.kind == "live" and e.candle.is_closed) >= 10:
            silenced.append(True)
            exchange.silence(0.4)  # the connection stays open, nothing arrives

    try:
        events, source = collect(
            exchange,
            SourceOptions(warmup_candles=10, silence_timeout_s=0.2, backoff_initial_s=0.05),
            fault=fault,
        )
    finally:
        exchange.stop_thread()
    assert source.reconnects >= 1
    assert any(e.kind == "backfill" for e in events)
    assert_exactly_once(events, shared_data, exchange)


def test_continuous_contract_and_spot_streams(shared_data: Path) -> None:
    for market, continuous in (("futures", True), ("spot", False)):
        exchange = replay_exchange(shared_data, history=30, limit=10)
        try:
            events, _ = collect(
                exchange, SourceOptions(warmup_candles=20, continuous=continuous), market=market
            )
        finally:
            exchange.stop_thread()
        assert_exactly_once(events, shared_data, exchange)


@pytest.mark.slow  # floods the queue in real time
def test_slow_consumer_overflowing_python_binance_queue_recovers(shared_data: Path) -> None:
    exchange = replay_exchange(shared_data, history=30, limit=400, speed=100)

    def slow(events):
        import time

        if 50 <= len(events) < 150:
            time.sleep(0.01)  # blocks the loop: python-binance's queue (min 100 here) overflows

    try:
        events, source = collect(
            exchange, SourceOptions(warmup_candles=10, queue_per_stream=1, backoff_initial_s=0.05), fault=slow
        )
    finally:
        exchange.stop_thread()
    assert source.reconnects >= 1  # the overflow ended python-binance's stream; we reconnected
    assert_exactly_once(events, shared_data, exchange)


def test_more_symbols_than_one_connection_takes_are_spread_over_several(
    shared_data: Path,
) -> None:
    symbols = ("BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
    exchange = replay_exchange(shared_data, symbols=symbols, history=40, limit=60, speed=100)
    dropped = []

    def fault(events):
        if not dropped and sum(1 for e in events if e.kind == "live" and e.candle.is_closed) >= 50:
            dropped.append(True)
            exchange.drop_connections()  # every connection at once

    try:
        # two symbols a connection (Binance's limit is 200 streams): five symbols take three
        options = SourceOptions(warmup_candles=20, backoff_initial_s=0.05, streams_per_connection=2)
        events, source = collect(exchange, options, fault=fault)
        connections = exchange.connections_total
    finally:
        exchange.stop_thread()
    assert connections >= 2 * 3  # three connections (2 + 2 + 1 symbols), each connected twice
    assert source.reconnects >= 3
    assert_exactly_once(events, shared_data, exchange)
    for symbol in symbols:
        assert len(closed_times(events, symbol, kinds=("warmup",))) == 20


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="continuous"):
        KlineSource(["ETHUSDT"], "5m", market="spot", options=SourceOptions(continuous=True))
    with pytest.raises(ConfigurationError, match="at least one symbol"):
        KlineSource([], "5m")


@pytest.mark.parametrize("streams", [0, 201])
def test_streams_per_connection_beyond_binance_limits_is_refused(streams: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"streams_per_connection must be 1 to 200 .*got {streams}"):
        KlineSource(["ETHUSDT"], "1m", options=SourceOptions(streams_per_connection=streams))
