"""The futures user data stream: listenKey endpoints and the websocket that carries ORDER_TRADE_UPDATE,
ALGO_UPDATE and ACCOUNT_UPDATE in Binance's shapes, read through python-binance and plain websockets."""

from __future__ import annotations

import asyncio
import json

import requests
import websockets

from cryptoflow.binance import BinanceEndpoints, binance_classes
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET, FakeExchange

ORDER_FIELDS = {
    "s",
    "c",
    "S",
    "o",
    "f",
    "q",
    "p",
    "ap",
    "sp",
    "x",
    "X",
    "i",
    "l",
    "z",
    "L",
    "N",
    "n",
    "T",
    "t",
    "b",
    "a",
    "m",
    "R",
    "wt",
    "ot",
    "ps",
    "cp",
    "rp",
    "pP",
    "si",
    "ss",
    "V",
    "pm",
    "gtd",
}
ALGO_FIELDS = {
    "caid",
    "aid",
    "at",
    "o",
    "s",
    "S",
    "ps",
    "f",
    "q",
    "X",
    "ai",
    "ap",
    "aq",
    "act",
    "tp",
    "p",
    "V",
    "wt",
    "pm",
    "cp",
    "pP",
    "R",
    "tt",
    "gtd",
    "rm",
}
POSITION_FIELDS = {"s", "pa", "ep", "bep", "cr", "up", "mt", "iw", "ps"}


def test_python_binance_user_socket_sees_the_fill(exchange: FakeExchange) -> None:
    async def main() -> tuple[dict, list[dict]]:
        client_cls, sockets_cls = binance_classes(BinanceEndpoints(exchange.base_url, exchange.stream_url))
        client = await client_cls.create(API_KEY, API_SECRET)
        messages: list[dict] = []
        try:
            async with sockets_cls(client).futures_user_socket() as stream:
                while not exchange.user_streams.queues:
                    await asyncio.sleep(0.01)
                order = await client.futures_create_order(
                    symbol="ETHUSDT",
                    side="BUY",
                    type="MARKET",
                    quantity="0.050",
                    newClientOrderId="cf-entry",
                    newOrderRespType="RESULT",
                )
                while len(messages) < 3:
                    messages.append(await asyncio.wait_for(stream.recv(), 10))
        finally:
            await client.close_connection()
        return order, messages

    order, messages = asyncio.run(asyncio.wait_for(main(), 60))
    new, trade, account = messages
    assert [m["e"] for m in messages] == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    assert set(new) == {"e", "E", "T", "o"} and set(new["o"]) == ORDER_FIELDS
    assert (new["o"]["x"], new["o"]["X"], new["o"]["c"], new["o"]["i"]) == (
        "NEW",
        "NEW",
        "cf-entry",
        order["orderId"],
    )
    fill = trade["o"]
    assert (fill["x"], fill["X"], fill["o"], fill["S"], fill["q"], fill["l"], fill["z"]) == (
        "TRADE",
        "FILLED",
        "MARKET",
        "BUY",
        "0.050",
        "0.050",
        "0.050",
    )
    assert float(fill["L"]) == float(fill["ap"]) == float(order["avgPrice"])
    trade_row = exchange.account.trades[-1]
    assert (fill["t"], fill["n"], fill["N"], fill["m"]) == (
        trade_row["id"],
        trade_row["commission"],
        "USDT",
        False,
    )
    assert set(account["a"]) == {"m", "B", "P"} and account["a"]["m"] == "ORDER"
    [balance] = account["a"]["B"]
    assert set(balance) == {"a", "wb", "cw", "bc"} and float(balance["wb"]) == exchange.account.wallet
    [position] = account["a"]["P"]
    assert set(position) == POSITION_FIELDS
    assert (position["s"], position["pa"], float(position["ep"])) == (
        "ETHUSDT",
        "0.050",
        float(order["avgPrice"]),
    )


def test_plain_websocket_sees_every_status_change(exchange: FakeExchange, http) -> None:
    key_url = f"{exchange.base_url}/fapi/v1/listenKey"
    assert requests.post(key_url, timeout=5).json() == {"code": -2014, "msg": "API-key format invalid."}
    listen_key = requests.post(key_url, headers={"X-MBX-APIKEY": API_KEY}, timeout=5).json()["listenKey"]
    again = requests.post(key_url, headers={"X-MBX-APIKEY": API_KEY}, timeout=5).json()["listenKey"]
    assert again == listen_key  # one active key per account, as on Binance
    price = exchange.market.price("ETHUSDT")

    async def main() -> list[dict]:
        url = f"{exchange.stream_url}ws/{listen_key}"
        async with websockets.connect(url) as ws:
            while not exchange.user_streams.queues:
                await asyncio.sleep(0.01)

            def act() -> None:
                limit = dict(symbol="ETHUSDT", side="BUY", type="LIMIT", quantity="0.050", timeInForce="GTC")
                http(
                    "POST",
                    "/fapi/v1/order",
                    signed=True,
                    price=f"{price - 100:.2f}",
                    newClientOrderId="rest",
                    **limit,
                )
                http("DELETE", "/fapi/v1/order", signed=True, symbol="ETHUSDT", origClientOrderId="rest")
                http(
                    "POST",
                    "/fapi/v1/algoOrder",
                    signed=True,
                    algoType="CONDITIONAL",
                    symbol="ETHUSDT",
                    side="BUY",
                    type="STOP_MARKET",
                    triggerPrice=f"{price + 100:.2f}",
                    quantity="0.050",
                    clientAlgoId="breakout",
                )
                http("DELETE", "/fapi/v1/algoOrder", signed=True, symbol="ETHUSDT", clientAlgoId="breakout")
                assert requests.put(key_url, headers={"X-MBX-APIKEY": API_KEY}, timeout=5).json() == {}
                assert requests.delete(key_url, headers={"X-MBX-APIKEY": API_KEY}, timeout=5).json() == {}

            await asyncio.to_thread(act)
            return [json.loads(text) async for text in ws]  # ends when the deleted key closes the stream

    events = asyncio.run(asyncio.wait_for(main(), 30))
    assert [(e["e"], e["o"]["X"]) for e in events] == [
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "CANCELED"),
        ("ALGO_UPDATE", "NEW"),
        ("ALGO_UPDATE", "CANCELED"),
    ]
    assert events[1]["o"]["x"] == "CANCELED" and events[1]["o"]["c"] == "rest"
    assert set(events[2]) == {"e", "E", "T", "o"} and set(events[2]["o"]) == ALGO_FIELDS
    assert (events[2]["o"]["caid"], events[2]["o"]["o"], events[2]["o"]["at"]) == (
        "breakout",
        "STOP_MARKET",
        "CONDITIONAL",
    )
    # the key is gone: keeping it alive fails as on Binance
    gone = requests.put(key_url, headers={"X-MBX-APIKEY": API_KEY}, timeout=5)
    assert (gone.status_code, gone.json()) == (400, {"code": -1125, "msg": "This listenKey does not exist."})
