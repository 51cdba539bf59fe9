"""realtime_indicator against the fake exchange: provisional indicators per update, final per close."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from cryptoflow.binance import BinanceEndpoints, SourceOptions
from cryptoflow.candles import load_candles
from cryptoflow.indicators import compute
from realtime_indicator import RealtimeOptions, run_realtime
from tests.testing.fake_binance.conftest import make_exchange

HISTORY, LIVE = 200, 20


def run(exchange, options: RealtimeOptions) -> list:
    events: list = []

    async def main() -> None:
        async def start() -> None:
            while not exchange.subscribers:
                await asyncio.sleep(0.01)
            exchange.start_replay()

        starter = asyncio.create_task(start())
        await asyncio.wait_for(
            run_realtime(
                options, events.append, endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url)
            ),
            60,
        )
        starter.cancel()

    asyncio.run(main())
    return events


def test_indicator_events_per_update_and_candle_events_per_close(shared_data: Path) -> None:
    exchange = make_exchange(shared_data, history=HISTORY, limit=LIVE)
    options = RealtimeOptions(
        symbols=["ETHUSDT", "BTCUSDT"],
        interval="5m",
        run_id="rt-test",
        source=SourceOptions(warmup_candles=HISTORY),
        until_open_time=int(exchange.market.grid[-1]),
    )
    try:
        events = run(exchange, options)
    finally:
        exchange.stop_thread()
    assert len({e.event_id for e in events}) == len(events)
    for symbol in options.symbols:
        mine = [e for e in events if e.symbol == symbol]
        candles = [e for e in mine if e.schema_name == "candle"]
        updates = [e for e in mine if e.schema_name == "indicator"]
        assert len(candles) == LIVE and len(updates) == 3 * LIVE
        assert all(u.indicator.provisional for u in updates)
        frame = load_candles(shared_data / f"{symbol}_5m_2025-08.csv").iloc[: HISTORY + LIVE]
        batch = compute(frame, preset="ta")
        got = pd.DataFrame([e.candle.indicators.model_dump() for e in candles])
        for column in ("rsi", "macd", "macd_signal", "cci"):
            assert got[column].to_numpy() == pytest.approx(batch[column].iloc[HISTORY:].to_numpy(), rel=1e-9)
        # a provisional update equals the batch engine on history + the partial candle (close-based ones)
        first = updates[0]
        partial = frame.iloc[[HISTORY]].copy()
        partial["close"] = first.indicator.close
        provisional = compute(pd.concat([frame.iloc[:HISTORY], partial]), preset="ta").iloc[-1]
        assert first.indicator.values.rsi == pytest.approx(provisional["rsi"], rel=1e-9)
        assert first.indicator.values.macd == pytest.approx(provisional["macd"], rel=1e-9)
        assert first.time_ms > first.indicator.open_time_ms
