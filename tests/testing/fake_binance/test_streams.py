"""Kline websockets of the fake exchange, read through python-binance's own socket manager."""

from __future__ import annotations

import asyncio

import pytest
from binance.ws.reconnecting_websocket import ReconnectingWebsocket

from cryptoflow.binance import BinanceEndpoints, binance_classes
from cryptoflow.candles import load_candles
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange


class _OneAttempt(ReconnectingWebsocket):
    """python-binance's socket with no reconnect of its own: a dropped connection reaches the test, and a
    close takes effect within 0.5 s (python-binance waits up to 10 s)."""

    MAX_RECONNECTS = 0
    TIMEOUT = 0.5


async def _collect(exchange: FakeExchange, open_socket, count: int) -> list[dict]:
    client_cls, sockets_cls = binance_classes(BinanceEndpoints(exchange.base_url, exchange.stream_url))
    client = await client_cls.create(API_KEY, API_SECRET)
    manager = sockets_cls(client, max_queue_size=10_000)
    messages = []
    socket = open_socket(manager)
    socket.__class__ = _OneAttempt
    try:
        async with socket as stream:
            while len(exchange.subscribers) < 1:
                await asyncio.sleep(0.01)
            exchange.start_replay()
            while len(messages) < count:
                messages.append(await asyncio.wait_for(stream.recv(), 10))
    finally:
        await client.close_connection()
    return messages


def test_futures_combined_kline_and_continuous_streams(exchange: FakeExchange, shared_data) -> None:
    streams = ["ethusdt@kline_5m", "ethusdt_perpetual@continuousKline_5m", "btcusdt@kline_5m"]
    per_candle = 3 * (exchange.market.updates_per_candle + 1)
    messages = asyncio.run(_collect(exchange, lambda m: m.futures_multiplex_socket(streams), 8 * per_candle))
    assert {m["stream"] for m in messages} == set(streams)
    eth = [m["data"] for m in messages if m["stream"] == "ethusdt@kline_5m"]
    cont = [m["data"] for m in messages if m["stream"].endswith("continuousKline_5m")]
    assert eth[0]["e"] == "kline" and eth[0]["s"] == "ETHUSDT"
    assert cont[0]["e"] == "continuous_kline" and cont[0]["ps"] == "ETHUSDT" and cont[0]["ct"] == "PERPETUAL"
    assert [c["k"]["c"] for c in cont] == [e["k"]["c"] for e in eth]
    # three x=false snapshots, then the x=true one, per candle; the final one is the real candle
    assert [e["k"]["x"] for e in eth[:4]] == [False, False, False, True]
    candles = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv").iloc[60:68]
    finals = [e["k"] for e in eth if e["k"]["x"]]
    assert [k["t"] for k in finals] == [t.value // 1_000_000 for t in candles.index]
    assert [float(k["c"]) for k in finals] == pytest.approx(candles["close"].tolist())
    assert [float(k["h"]) for k in finals] == pytest.approx(candles["high"].tolist())
    for event in eth:
        k = event["k"]
        o, h, low, c = (float(k[x]) for x in "ohlc")
        assert low <= min(o, c) <= max(o, c) <= h
        assert k["t"] <= event["E"] <= k["T"] + 1


def test_spot_raw_kline_socket(exchange: FakeExchange) -> None:
    messages = asyncio.run(_collect(exchange, lambda m: m.kline_socket("BTCUSDT", "5m"), 8))
    assert all(m["e"] == "kline" and m["s"] == "BTCUSDT" for m in messages)
    assert sum(m["k"]["x"] for m in messages) == 2


def test_drop_closes_every_connection(exchange: FakeExchange) -> None:
    """python-binance reports the broken connection as an ``{"e": "error"}`` message. Its own reconnect
    loop is switched off (as KlineSource does): closing a socket during that loop hangs in python-binance."""

    async def main():
        client_cls, sockets_cls = binance_classes(BinanceEndpoints(exchange.base_url, exchange.stream_url))
        client = await client_cls.create(API_KEY, API_SECRET)
        manager = sockets_cls(client)
        socket = manager.futures_multiplex_socket(["ethusdt@kline_5m"])
        socket.__class__ = _OneAttempt
        try:
            async with socket as stream:
                while not exchange.subscribers:
                    await asyncio.sleep(0.01)
                exchange.drop_connections()
                message = await asyncio.wait_for(stream.recv(), 10)
        finally:
            await client.close_connection()
        return message

    message = asyncio.run(asyncio.wait_for(main(), 30))
    assert message["e"] == "error"
    assert exchange.subscribers == []
