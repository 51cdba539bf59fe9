"""python-binance, unchanged apart from its base URLs, against the fake exchange's REST API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from binance.exceptions import BinanceAPIException

from cryptoflow.binance import BinanceEndpoints, binance_classes
from cryptoflow.candles import load_candles
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange, sign


def run(exchange: FakeExchange, body: Any, *, key: str = API_KEY, secret: str = API_SECRET) -> Any:
    async def main() -> Any:
        client_cls, _ = binance_classes(BinanceEndpoints(exchange.base_url, exchange.stream_url))
        client = await client_cls.create(key, secret)
        try:
            return await body(client)
        finally:
            await client.close_connection()

    return asyncio.run(main())


def rejection(exchange: FakeExchange, body: Any, **kw: str) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as info:
        run(exchange, body, **kw)
    return info.value


def test_public_endpoints_spot_and_futures(exchange: FakeExchange, shared_data) -> None:
    async def body(client):
        return (
            await client.futures_ping(),
            await client.futures_time(),
            await client.futures_exchange_info(),
            await client.get_exchange_info(),
            await client.futures_klines(symbol="ETHUSDT", interval="5m", limit=5),
            await client.get_klines(symbol="BTCUSDT", interval="5m"),
        )

    ping, server_time, finfo, sinfo, fklines, sklines = run(exchange, body)
    assert ping == {}
    assert abs(server_time["serverTime"] - time.time() * 1000) < 60_000
    eth = next(s for s in finfo["symbols"] if s["symbol"] == "ETHUSDT")
    filters = {f["filterType"]: f for f in eth["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"]["notional"] == "20"
    assert eth["contractType"] == "PERPETUAL"
    spot_filters = {f["filterType"] for f in sinfo["symbols"][0]["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"} <= spot_filters
    # before the replay starts, the 60 history candles are the past: all closed, real values
    candles = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")
    assert len(fklines) == 5 and all(len(row) == 12 for row in fklines)
    assert fklines[-1][0] == candles.index[59].value // 1_000_000
    assert float(fklines[-1][4]) == pytest.approx(candles["close"].iloc[59])
    assert fklines[-1][6] == fklines[-1][0] + 300_000 - 1
    assert len(sklines) == 60


def test_klines_window_and_errors(exchange: FakeExchange) -> None:
    async def window(client):
        first = await client.futures_klines(symbol="ETHUSDT", interval="5m", limit=3)
        start = first[0][0]
        return first, await client.futures_klines(
            symbol="ETHUSDT", interval="5m", startTime=start, endTime=start + 300_000
        )

    first, window_rows = run(exchange, window)
    assert [r[0] for r in window_rows] == [r[0] for r in first[:2]]
    error = rejection(exchange, lambda c: c.futures_klines(symbol="NOPEUSDT", interval="5m"))
    assert (error.code, error.message) == (-1121, "Invalid symbol.")
    error = rejection(exchange, lambda c: c.futures_klines(symbol="ETHUSDT", interval="1h"))
    assert error.code == -1120


def test_signature_key_timestamp_and_recv_window(exchange: FakeExchange) -> None:
    error = rejection(exchange, lambda c: c.futures_account(), secret="not-the-secret")
    assert (error.code, error.message) == (-1022, "Signature for this request is not valid.")
    error = rejection(exchange, lambda c: c.futures_account(), key="someone-else")
    assert error.code == -2015 and error.status_code == 401

    async def stale(client):
        client.timestamp_offset = -20_000  # python-binance always sends recvWindow=10000
        return await client.futures_account()

    error = rejection(exchange, stale)
    assert error.code == -1021 and "recvWindow" in error.message

    async def ahead(client):
        client.timestamp_offset = 5_000
        return await client.futures_account()

    assert rejection(exchange, ahead).code == -1021

    async def wide_window(client, window=30_000):
        client.timestamp_offset = -20_000
        client.REQUEST_RECVWINDOW = window
        return await client.futures_account()

    assert run(exchange, wide_window)["canTrade"] is True
    assert rejection(exchange, lambda c: wide_window(c, 70_000)).code == -1131


def test_raw_signed_request_and_missing_key(exchange: FakeExchange) -> None:
    async def main():
        query = f"symbol=ETHUSDT&timestamp={int(time.time() * 1000)}"
        async with aiohttp.ClientSession() as session:
            url = f"{exchange.base_url}/fapi/v3/positionRisk"
            async with session.get(
                f"{url}?{query}&signature={sign(API_SECRET, query)}", headers={"X-MBX-APIKEY": API_KEY}
            ) as ok:
                good = (ok.status, await ok.json())
            async with session.get(f"{url}?{query}&signature={sign(API_SECRET, query)}") as missing:
                bad = (missing.status, await missing.json())
        return good, bad

    (status, body), (bad_status, bad_body) = asyncio.run(main())
    assert status == 200 and body[0]["symbol"] == "ETHUSDT" and body[0]["positionAmt"] == "0.000"
    assert bad_status == 401 and bad_body == {"code": -2014, "msg": "API-key format invalid."}


def test_orders_filters_and_idempotent_client_ids(exchange: FakeExchange) -> None:
    async def body(client):
        out = {}
        out["leverage"] = await client.futures_change_leverage(symbol="ETHUSDT", leverage=3)
        out["margin"] = await client.futures_change_margin_type(symbol="ETHUSDT", marginType="ISOLATED")
        out["buy"] = await client.futures_create_order(
            symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.050", newClientOrderId="cf-1"
        )
        for name, params in {
            "dup": dict(side="BUY", type="MARKET", quantity="0.050", newClientOrderId="cf-1"),
            "step": dict(side="BUY", type="MARKET", quantity="0.0501"),
            "tick": dict(side="BUY", type="LIMIT", quantity="0.050", price="3000.005", timeInForce="GTC"),
            "notional": dict(side="BUY", type="MARKET", quantity="0.001"),
            "margin_again": None,
        }.items():
            try:
                if params is None:
                    await client.futures_change_margin_type(symbol="ETHUSDT", marginType="ISOLATED")
                else:
                    await client.futures_create_order(symbol="ETHUSDT", **params)
            except BinanceAPIException as exc:
                out[name] = exc.code
        out["limit"] = await client.futures_create_order(
            symbol="ETHUSDT",
            side="BUY",
            type="LIMIT",
            quantity="0.050",
            price="1000.00",
            timeInForce="GTC",
            newClientOrderId="cf-limit",
        )
        out["open"] = await client.futures_get_open_orders(symbol="ETHUSDT")
        out["cancel"] = await client.futures_cancel_order(symbol="ETHUSDT", origClientOrderId="cf-limit")
        out["lookup"] = await client.futures_get_order(symbol="ETHUSDT", origClientOrderId="cf-1")
        out["position"] = await client.futures_position_information(symbol="ETHUSDT")
        exchange.account.reject_next_orders(1, -2019, "Margin is insufficient.")
        try:
            await client.futures_create_order(symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.050")
        except BinanceAPIException as exc:
            out["rejected"] = (exc.code, exc.message)
        out["close"] = await client.futures_create_order(
            symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.050", reduceOnly="true"
        )
        out["balance"] = await client.futures_account_balance()
        return out

    out = run(exchange, body)
    assert out["leverage"]["leverage"] == 3 and out["margin"] == {"code": 200, "msg": "success"}
    assert out["buy"]["status"] == "FILLED" and out["buy"]["clientOrderId"] == "cf-1"
    assert out["buy"]["executedQty"] == "0.050"
    assert (out["dup"], out["step"], out["tick"], out["notional"], out["margin_again"]) == (
        -4116,
        -1111,
        -4014,
        -4164,
        -4046,
    )
    assert out["limit"]["status"] == "NEW" and [o["clientOrderId"] for o in out["open"]] == ["cf-limit"]
    assert out["cancel"]["status"] == "CANCELED"
    assert out["lookup"]["orderId"] == out["buy"]["orderId"]
    position = out["position"][0]
    assert position["positionAmt"] == "0.050" and position["marginType"] == "isolated"
    assert float(position["entryPrice"]) == pytest.approx(float(out["buy"]["avgPrice"]))
    assert out["rejected"] == (-2019, "Margin is insufficient.")
    assert out["close"]["status"] == "FILLED"
    assert exchange.account.positions["ETHUSDT"].amount == 0
    fees = 2 * 0.05 * float(out["buy"]["avgPrice"]) * 0.0004
    assert float(out["balance"][0]["balance"]) == pytest.approx(10_000 - fees)
