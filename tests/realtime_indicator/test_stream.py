"""realtime_indicator against the fake exchange: provisional indicators per update, final per close."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from cryptoflow.binance import BinanceEndpoints, SourceOptions
from cryptoflow.candles import load_candles
from cryptoflow.indicators import compute
from cryptoflow.testing.fake_binance import replay_exchange
from realtime_indicator import RealtimeOptions, run_realtime

HISTORY, LIVE = 200, 20


def until_the_end(exchange, run_id: str) -> RealtimeOptions:
    """Stream ETHUSDT and BTCUSDT 5m from ``exchange`` until its last candle closed."""
    return RealtimeOptions(
        symbols=["ETHUSDT", "BTCUSDT"],
        interval="5m",
        run_id=run_id,
        source=SourceOptions(warmup_candles=HISTORY),
        until_open_time=int(exchange.market.grid[-1]),
    )


def run(exchange, options: RealtimeOptions, events: list | None = None, **hooks) -> list:
    events = [] if events is None else events

    async def main() -> None:
        async def start() -> None:
            while not exchange.subscribers:
                await asyncio.sleep(0.01)
            exchange.start_replay()

        starter = asyncio.create_task(start())
        await asyncio.wait_for(
            run_realtime(
                options,
                events.append,
                endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
                **hooks,
            ),
            60,
        )
        starter.cancel()

    asyncio.run(main())
    return events


def test_indicator_events_per_update_and_candle_events_per_close(shared_data: Path) -> None:
    exchange = replay_exchange(shared_data, history=HISTORY, limit=LIVE)
    options = until_the_end(exchange, "rt-test")
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


def test_on_received_sees_each_kline_before_the_events_it_leads_to(shared_data: Path) -> None:
    exchange = replay_exchange(shared_data, history=HISTORY, limit=3)
    options = until_the_end(exchange, "rt-hooks")
    events: list = []
    received: list = []  # (kline event, events emitted before it was seen)
    handled: list[int] = []  # events emitted when on_event saw it
    try:
        run(
            exchange,
            options,
            events,
            on_received=lambda kline: received.append((kline, len(events))),
            on_event=lambda kline: handled.append(len(events)),
        )
    finally:
        exchange.stop_thread()
    assert len(received) == len(handled) and any(k.kind != "warmup" for k, _ in received)
    for (kline, before), after in zip(received, handled, strict=True):
        if kline.kind == "warmup":  # warm-up candles feed the state, emit nothing
            assert after == before
            continue
        assert after == before + 1  # exactly the event this kline led to, emitted between the hooks
        event = events[before]
        kind = "candle" if kline.candle.is_closed else "indicator"
        assert (event.symbol, event.schema_name) == (kline.candle.symbol, kind)
