"""Exchange-side orders on the fake exchange: conditional (algo) orders triggered by the replayed prices,
LIMIT orders resting and filling (partly) as the price crosses them, protection that expires with its
position. Driven through python-binance and plain HTTP."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from itertools import accumulate
from pathlib import Path

import pandas as pd
import pytest
from binance.exceptions import BinanceAPIException

from cryptoflow.candles import load_candles
from cryptoflow.testing.fake_binance import FakeExchange, candle_path

TICK = Decimal("0.01")


@pytest.fixture
def replayed(shared_data: Path) -> pd.DataFrame:
    """The 8 ETHUSDT candles the exchange replays (after its 60 candles of history)."""
    return load_candles(shared_data / "ETHUSDT_5m_2025-08.csv").iloc[60:68]


def _on_tick(value: float) -> Decimal:
    return (Decimal(repr(float(value))) / TICK).to_integral_value(ROUND_FLOOR) * TICK


def _first_fill_at_or_below(start: float, candles: pd.DataFrame, stop: float) -> float:
    """Where a sell stop at ``stop`` fills on the documented path: at the stop when the price moves through
    it inside a candle, at the open when the price gaps below it between two candles."""
    for candle in candles.itertuples():
        if candle.open <= stop < start:
            return candle.open
        if min(candle_path(candle)) <= stop:
            return stop
        start = candle.close
    raise AssertionError("the stop is never reached")


def test_a_stop_closes_the_position_from_the_replay(exchange: FakeExchange, binance, http, replayed) -> None:
    events: list[dict] = []
    exchange.account.listeners.append(events.append)
    start = exchange.market.price("ETHUSDT")
    assert replayed["low"].min() < start  # the data goes below the entry, so the stop must trigger
    stop = _on_tick((start + replayed["low"].min()) / 2)
    target = _on_tick(replayed["high"].max() + 10)  # never reached: expires when the stop closes the long

    async def place(client):
        entry = await client.futures_create_order(
            symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.050", newOrderRespType="RESULT"
        )
        # python-binance sends conditional types to /fapi/v1/algoOrder (stopPrice becomes triggerPrice)
        protective = await client.futures_create_order(
            symbol="ETHUSDT",
            side="SELL",
            type="STOP_MARKET",
            stopPrice=str(stop),
            closePosition="true",
            clientAlgoId="cf-stop",
        )
        errors = {}
        for name, params in {
            "again": dict(type="STOP_MARKET", triggerPrice=str(stop - 1), closePosition="true"),
            "immediate": dict(
                type="STOP_MARKET", triggerPrice=str(_on_tick(start + 5)), quantity="0.050", reduceOnly="true"
            ),
            "both": dict(type="STOP_MARKET", triggerPrice=str(stop), closePosition="true", quantity="0.050"),
        }.items():
            try:
                await client.futures_create_algo_order(symbol="ETHUSDT", side="SELL", **params)
            except BinanceAPIException as exc:
                errors[name] = exc.code
        return entry, protective, errors

    entry, protective, errors = binance(place)
    assert errors == {"again": -4130, "immediate": -2021, "both": -1106}
    assert (protective["algoStatus"], protective["orderType"], protective["triggerPrice"]) == (
        "NEW",
        "STOP_MARKET",
        str(stop),
    )
    assert protective["closePosition"] is True and protective["actualOrderId"] == ""
    status, tp = http(
        "POST",
        "/fapi/v1/algoOrder",
        signed=True,
        algoType="CONDITIONAL",
        symbol="ETHUSDT",
        side="SELL",
        type="TAKE_PROFIT_MARKET",
        triggerPrice=str(target),
        closePosition="true",
        workingType="MARK_PRICE",
        clientAlgoId="cf-target",
    )
    assert status == 200 and tp["workingType"] == "MARK_PRICE"
    assert [o["clientAlgoId"] for o in http("GET", "/fapi/v1/openAlgoOrders", signed=True)[1]] == [
        "cf-stop",
        "cf-target",
    ]

    exchange.start_replay()
    assert exchange.wait_done(30)
    status, algo = http("GET", "/fapi/v1/algoOrder", signed=True, clientAlgoId="cf-stop")
    assert (algo["algoStatus"], algo["triggerTime"] > 0) == ("FINISHED", True)
    status, actual = http(
        "GET", "/fapi/v1/order", signed=True, symbol="ETHUSDT", orderId=algo["actualOrderId"]
    )
    expected = _first_fill_at_or_below(start, replayed, float(stop))
    assert (actual["status"], actual["type"], actual["origType"], actual["clientOrderId"]) == (
        "FILLED",
        "MARKET",
        "STOP_MARKET",
        "cf-stop",
    )
    assert (float(actual["avgPrice"]), actual["executedQty"], actual["closePosition"]) == (
        expected,
        "0.050",
        True,
    )
    assert (
        http("GET", "/fapi/v1/algoOrder", signed=True, clientAlgoId="cf-target")[1]["algoStatus"] == "EXPIRED"
    )
    assert http("GET", "/fapi/v1/openAlgoOrders", signed=True)[1] == []
    [position] = http("GET", "/fapi/v3/positionRisk", signed=True, symbol="ETHUSDT")[1]
    assert position["positionAmt"] == "0.000"
    last = exchange.account.trades[-1]
    assert float(last["realizedPnl"]) == pytest.approx(0.05 * (expected - float(entry["avgPrice"])))
    # the user stream told the same story, in order
    algo_states = [(e["o"]["caid"], e["o"]["X"]) for e in events if e["e"] == "ALGO_UPDATE"]
    assert algo_states == [
        ("cf-stop", "NEW"),
        ("cf-target", "NEW"),
        ("cf-stop", "TRIGGERED"),
        ("cf-stop", "FINISHED"),
        ("cf-target", "EXPIRED"),
    ]


def test_protection_expires_when_the_position_closes(exchange: FakeExchange, http) -> None:
    order = dict(symbol="ETHUSDT", newOrderRespType="RESULT")
    http("POST", "/fapi/v1/order", signed=True, side="BUY", type="MARKET", quantity="0.100", **order)
    price = exchange.market.price("ETHUSDT")
    http(
        "POST",
        "/fapi/v1/algoOrder",
        signed=True,
        algoType="CONDITIONAL",
        symbol="ETHUSDT",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice=str(_on_tick(price * 0.9)),
        quantity="0.100",
        reduceOnly="true",
    )
    status, take = http(
        "POST",
        "/fapi/v1/order",
        signed=True,
        side="SELL",
        type="LIMIT",
        quantity="0.050",
        price=str(_on_tick(price * 1.1)),
        timeInForce="GTC",
        reduceOnly="true",
        **order,
    )
    assert take["status"] == "NEW"
    http("POST", "/fapi/v1/order", signed=True, side="SELL", type="MARKET", quantity="0.100", **order)
    assert (
        http("GET", "/fapi/v1/order", signed=True, symbol="ETHUSDT", orderId=take["orderId"])[1]["status"]
        == "EXPIRED"
    )
    assert [
        a["algoStatus"] for a in http("GET", "/fapi/v1/allAlgoOrders", signed=True, symbol="ETHUSDT")[1]
    ] == ["EXPIRED"]


def test_time_in_force_on_arrival(exchange: FakeExchange, http) -> None:
    price = exchange.market.price("ETHUSDT")
    limit = dict(symbol="ETHUSDT", side="BUY", type="LIMIT", quantity="0.050", newOrderRespType="RESULT")
    status, body = http(
        "POST", "/fapi/v1/order", signed=True, price=str(_on_tick(price + 5)), timeInForce="GTX", **limit
    )
    assert (status, body["code"]) == (400, -5022)
    status, body = http(
        "POST", "/fapi/v1/order", signed=True, price=str(_on_tick(price - 50)), timeInForce="IOC", **limit
    )
    assert (body["status"], body["executedQty"]) == ("EXPIRED", "0.000")
    # a LIMIT that crosses on arrival fills at once at the last price, as a taker
    status, body = http(
        "POST", "/fapi/v1/order", signed=True, price=str(_on_tick(price + 5)), timeInForce="GTC", **limit
    )
    assert (body["status"], float(body["avgPrice"])) == ("FILLED", price)
    trade = exchange.account.trades[-1]
    assert trade["maker"] is False and Decimal(trade["commission"]) == Decimal(trade["quoteQty"]) * Decimal(
        "0.0004"
    )
    status, body = http(
        "POST", "/fapi/v1/order", signed=True, side="SELL", type="LIMIT", quantity="0.050", symbol="ETHUSDT"
    )
    assert (status, body["code"]) == (400, -1102)  # a LIMIT needs price and timeInForce


def test_a_resting_limit_fills_in_parts_as_the_price_crosses_it(
    exchange: FakeExchange, http, replayed
) -> None:
    """At most ``volume_share`` of the volume traded in each stretch of the path fills: a large order fills
    over several kline states, each part at the limit price, as a maker."""
    events: list[dict] = []
    exchange.account.listeners.append(events.append)
    start = exchange.market.price("ETHUSDT")
    level = _on_tick(float(replayed["close"].median()))
    side = "BUY" if level < start else "SELL"
    quantity = Decimal("2.000")
    stretch = replayed["volume"].mean() / 4  # the clock sends four states per candle
    exchange.desk.volume_share = float(quantity) / 6 / stretch
    status, order = http(
        "POST",
        "/fapi/v1/order",
        signed=True,
        symbol="ETHUSDT",
        side=side,
        type="LIMIT",
        quantity=str(quantity),
        price=str(level),
        timeInForce="GTC",
        newClientOrderId="cf-limit",
    )
    assert status == 200 and order["status"] == "NEW"
    exchange.start_replay()
    assert exchange.wait_done(30)
    updates = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["c"] == "cf-limit"]
    fills = [u for u in updates if u["x"] == "TRADE"]
    assert updates[0]["x"] == updates[0]["X"] == "NEW"
    assert len(fills) >= 2 and fills[0]["X"] == "PARTIALLY_FILLED"
    assert all(Decimal(f["L"]) == level and f["m"] is True for f in fills)
    cap = Decimal(repr(float(replayed["volume"].max() / 4 * exchange.desk.volume_share)))
    assert all(Decimal(f["l"]) <= cap for f in fills)
    assert [Decimal(f["z"]) for f in fills] == list(accumulate(Decimal(f["l"]) for f in fills))
    final = http("GET", "/fapi/v1/order", signed=True, symbol="ETHUSDT", origClientOrderId="cf-limit")[1]
    assert Decimal(final["executedQty"]) == Decimal(fills[-1]["z"])
    assert final["status"] == ("FILLED" if Decimal(final["executedQty"]) == quantity else "PARTIALLY_FILLED")
    trades = [t for t in exchange.account.trades if t["orderId"] == order["orderId"]]
    assert all(Decimal(t["commission"]) == Decimal(t["quoteQty"]) * Decimal("0.0002") for t in trades)


def _trailing_sell_fill(start: float, candles: pd.DataFrame, rate: float) -> float:
    """Where a SELL trailing stop active from ``start`` fills on the documented path: the highest price
    since placement, and the first move that comes ``rate`` % back from it (at the open after a gap)."""
    peak, price = start, start
    for candle in candles.itertuples():
        if candle.open <= peak * (1 - rate / 100):
            return candle.open
        peak, price = max(peak, candle.open), candle.open
        for point in candle_path(candle)[1:]:
            stop = peak * (1 - rate / 100)
            if point <= stop:
                return float(_on_tick_half_up(min(price, stop)))
            peak, price = max(peak, point), point
    raise AssertionError("the trail is never hit")


def _on_tick_half_up(value: float) -> Decimal:
    return (Decimal(repr(float(value))) / TICK).quantize(Decimal(1), "ROUND_HALF_UP") * TICK


def test_a_trailing_stop_follows_the_best_price(exchange: FakeExchange, binance, replayed) -> None:
    start = exchange.market.price("ETHUSDT")

    async def place(client):
        await client.futures_create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.050")
        trail = await client.futures_create_order(
            symbol="ETHUSDT",
            side="SELL",
            type="TRAILING_STOP_MARKET",
            callbackRate="0.3",
            quantity="0.050",
            reduceOnly="true",
            clientAlgoId="cf-trail",
        )
        try:
            await client.futures_create_algo_order(
                symbol="ETHUSDT",
                side="SELL",
                type="TRAILING_STOP_MARKET",
                callbackRate="20",
                quantity="0.050",
            )
        except BinanceAPIException as exc:
            return trail, exc.code
        return trail, None

    trail, refused = binance(place)
    assert refused == -1130
    assert (trail["orderType"], trail["callbackRate"], trail["activatePrice"], trail["algoStatus"]) == (
        "TRAILING_STOP_MARKET",
        "0.3",
        "",
        "NEW",
    )
    exchange.start_replay()
    assert exchange.wait_done(30)

    async def check(client):
        algo = await client.futures_get_algo_order(clientAlgoId="cf-trail")
        return algo, await client.futures_get_order(symbol="ETHUSDT", orderId=algo["actualOrderId"])

    algo, actual = binance(check)
    assert algo["algoStatus"] == "FINISHED"
    assert (actual["status"], actual["origType"]) == ("FILLED", "TRAILING_STOP_MARKET")
    assert float(actual["avgPrice"]) == _trailing_sell_fill(start, replayed, 0.3)
