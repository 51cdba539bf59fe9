"""The spot side of the fake exchange (/api/v3): account, orders, open orders, trades, tickers, and the
empty /sapi margin pair lists, driven through python-binance and plain HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.exceptions import BinanceAPIException

from cryptoflow.testing.fake_binance import FakeExchange

ORDER_ANSWER = {
    "symbol",
    "orderId",
    "orderListId",
    "clientOrderId",
    "transactTime",
    "price",
    "origQty",
    "executedQty",
    "origQuoteOrderQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "workingTime",
    "selfTradePreventionMode",
    "fills",
}
TRADE = {
    "symbol",
    "id",
    "orderId",
    "orderListId",
    "price",
    "qty",
    "quoteQty",
    "commission",
    "commissionAsset",
    "time",
    "isBuyer",
    "isMaker",
    "isBestMatch",
}


def test_spot_account_orders_and_trades(exchange: FakeExchange, binance, http) -> None:
    price = Decimal(exchange.market.fmt_price("ETHUSDT", exchange.market.price("ETHUSDT")))

    async def body(client):
        out = {"account": await client.get_account()}
        out["buy"] = await client.create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.050")
        out["rest"] = await client.create_order(
            symbol="ETHUSDT",
            side="SELL",
            type="LIMIT",
            quantity="0.040",
            price=str(price + 100),
            timeInForce="GTC",
            newClientOrderId="cf-sell",
        )
        out["locked"] = await client.get_account()
        out["open"] = await client.get_open_orders(symbol="ETHUSDT")
        out["cancel"] = await client.cancel_order(symbol="ETHUSDT", origClientOrderId="cf-sell")
        out["trades"] = await client.get_my_trades(symbol="ETHUSDT")
        out["after"] = await client.get_account()
        for name, params in {
            "poor": dict(side="BUY", type="MARKET", quantity="100"),
            "step": dict(side="BUY", type="MARKET", quantity="0.0501"),
            "small": dict(side="BUY", type="MARKET", quantity="0.001"),
        }.items():
            try:
                await client.create_order(symbol="ETHUSDT", **params)
            except BinanceAPIException as exc:
                out[name] = (exc.code, exc.message)
        return out

    out = binance(body)
    assert out["account"]["accountType"] == "SPOT" and out["account"]["permissions"] == ["SPOT"]
    balances = {b["asset"]: b for b in out["account"]["balances"]}
    assert balances["USDT"] == {"asset": "USDT", "free": "10000.00000000", "locked": "0.00000000"}
    assert balances["ETH"]["free"] == "0.00000000"
    buy = out["buy"]
    assert set(buy) == ORDER_ANSWER and buy["status"] == "FILLED" and buy["executedQty"] == "0.05000000"
    [fill] = buy["fills"]
    assert (Decimal(fill["price"]), fill["qty"], fill["commissionAsset"]) == (price, "0.05000000", "ETH")
    assert Decimal(buy["cummulativeQuoteQty"]) == price * Decimal("0.05")
    assert out["rest"]["status"] == "NEW" and out["rest"]["fills"] == []
    locked = {b["asset"]: b for b in out["locked"]["balances"]}
    bought = Decimal("0.05") - Decimal(
        fill["commission"]
    )  # the commission of a buy is taken in the base asset
    assert Decimal(locked["ETH"]["locked"]) == Decimal("0.04")
    assert Decimal(locked["ETH"]["free"]) == bought - Decimal("0.04")
    assert Decimal(locked["USDT"]["free"]) == 10_000 - price * Decimal("0.05")
    assert [o["clientOrderId"] for o in out["open"]] == ["cf-sell"]
    assert out["cancel"]["status"] == "CANCELED" and out["cancel"]["origClientOrderId"] == "cf-sell"
    [trade] = out["trades"]
    assert set(trade) == TRADE and Decimal(trade["price"]) * Decimal(trade["qty"]) == Decimal(
        trade["quoteQty"]
    )
    assert {b["asset"]: b for b in out["after"]["balances"]}["ETH"] == {
        "asset": "ETH",
        "free": f"{bought:.8f}",
        "locked": "0.00000000",
    }
    assert out["poor"] == (-2010, "Account has insufficient balance for requested action.")
    assert out["step"] == (-1013, "Filter failure: LOT_SIZE")
    assert out["small"] == (-1013, "Filter failure: NOTIONAL")
    status, ack = http(
        "POST",
        "/api/v3/order",
        signed=True,
        symbol="ETHUSDT",
        side="SELL",
        type="MARKET",
        quantity="0.020",
        newOrderRespType="ACK",
    )
    assert status == 200 and set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    status, looked_up = http("GET", "/api/v3/order", signed=True, symbol="ETHUSDT", orderId=ack["orderId"])
    assert looked_up["status"] == "FILLED" and looked_up["isWorking"] is True


def test_spot_tickers_and_no_margin(exchange: FakeExchange, binance, http) -> None:
    async def body(client):
        return await client.get_ticker(symbol="ETHUSDT"), await client.get_symbol_ticker(symbol="ETHUSDT")

    day, price = binance(body)
    assert list(day) == [
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "prevClosePrice",
        "lastPrice",
        "lastQty",
        "bidPrice",
        "bidQty",
        "askPrice",
        "askQty",
        "openPrice",
        "highPrice",
        "lowPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    ]
    assert day["lastPrice"] == day["bidPrice"] == day["askPrice"] == price["price"]
    assert set(price) == {"symbol", "price"}
    assert http("GET", "/sapi/v1/margin/allPairs", key="fake-api-key") == (200, [])
    assert http("GET", "/sapi/v1/margin/isolated/allPairs", signed=True) == (200, [])


@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_a_resting_spot_limit_fills_from_the_replay(exchange: FakeExchange, http, side: str) -> None:
    replayed = exchange.market
    start = replayed.price("ETHUSDT")
    if side == "SELL":
        http(
            "POST",
            "/api/v3/order",
            signed=True,
            symbol="ETHUSDT",
            side="BUY",
            type="MARKET",
            quantity="0.100",
        )
    level = f"{start - 0.5:.2f}" if side == "BUY" else f"{start + 0.5:.2f}"
    status, order = http(
        "POST",
        "/api/v3/order",
        signed=True,
        symbol="ETHUSDT",
        side=side,
        type="LIMIT",
        quantity="0.050",
        price=level,
        timeInForce="GTC",
    )
    assert order["status"] == "NEW"
    exchange.start_replay()
    assert exchange.wait_done(30)
    filled = http("GET", "/api/v3/order", signed=True, symbol="ETHUSDT", orderId=order["orderId"])[1]
    assert (filled["status"], filled["executedQty"], filled["price"]) == ("FILLED", "0.05000000", level)
    trade = http("GET", "/api/v3/myTrades", signed=True, symbol="ETHUSDT", orderId=order["orderId"])[1][0]
    assert (trade["price"], trade["isMaker"]) == (level, True)
