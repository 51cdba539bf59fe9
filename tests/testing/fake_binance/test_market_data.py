"""Market-data and account endpoints common clients call, in Binance's shapes: klines of every interval,
24-hour and price tickers, mark price and funding, brackets, commission, position mode, all orders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from binance.exceptions import BinanceAPIException

from cryptoflow.candles import load_candles
from cryptoflow.testing.fake_binance import FakeExchange

HOUR = 3_600_000


@pytest.fixture
def history(shared_data: Path) -> pd.DataFrame:
    """The 60 ETHUSDT candles the exchange serves as the past before its replay starts."""
    return load_candles(shared_data / "ETHUSDT_5m_2025-08.csv").iloc[:60]


def _ms(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1_000_000)


def test_every_interval_is_merged_from_the_replayed_candles(binance, http, history: pd.DataFrame) -> None:
    async def body(client):
        return (
            await client.futures_klines(symbol="ETHUSDT", interval="1h"),
            await client.futures_klines(symbol="ETHUSDT", interval="1d"),
            await client.futures_klines(symbol="ETHUSDT", interval="1w"),
            await client.futures_klines(symbol="ETHUSDT", interval="1M"),
        )

    hours, days, weeks, months = binance(body)
    grouped = history.groupby(history.index.floor("1h"))
    expected = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    assert [row[0] for row in hours] == [_ms(t) for t in expected.index]
    assert [row[6] - row[0] for row in hours] == [HOUR - 1] * len(expected)
    for row, (_, want) in zip(hours, expected.iterrows(), strict=True):
        assert [float(x) for x in row[1:5]] == pytest.approx(want[["open", "high", "low", "close"]].tolist())
        assert float(row[5]) == pytest.approx(want["volume"])
    first, last = history.iloc[0], history.iloc[-1]
    for rows, open_time, close_time in (
        (days, "2025-08-19", "2025-08-20"),
        (weeks, "2025-08-18", "2025-08-25"),  # weeks open on Monday
        (months, "2025-08-01", "2025-09-01"),
    ):
        assert len(rows) == 1
        row = rows[0]
        assert (row[0], row[6]) == (
            _ms(pd.Timestamp(open_time, tz="UTC")),
            _ms(pd.Timestamp(close_time, tz="UTC")) - 1,
        )
        assert (float(row[1]), float(row[4])) == (first["open"], last["close"])
        assert float(row[2]) == history["high"].max() and float(row[3]) == history["low"].min()
    # a window: startTime/endTime select by open time, as for the replayed interval
    start = _ms(expected.index[1])
    status, window = http(
        "GET", "/fapi/v1/klines", symbol="ETHUSDT", interval="1h", startTime=start, endTime=start + HOUR
    )
    assert status == 200 and [r[0] for r in window] == [start, start + HOUR]
    status, error = http("GET", "/fapi/v1/klines", symbol="ETHUSDT", interval="1m")
    assert status == 400 and error["code"] == -1120 and "5m" in error["msg"]


def test_tickers_mark_price_and_funding(binance, http, history: pd.DataFrame) -> None:
    async def body(client):
        return (
            await client.futures_ticker(symbol="ETHUSDT"),
            await client.futures_symbol_ticker(symbol="ETHUSDT"),
            await client.futures_mark_price(symbol="ETHUSDT"),
            await client.futures_mark_price(),
            await client.futures_funding_rate(symbol="ETHUSDT"),
        )

    day, price, mark, marks, funding = binance(body)
    assert set(day) == {
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "lastPrice",
        "lastQty",
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
    }
    last, first = history.iloc[-1], history.iloc[0]
    assert (day["symbol"], float(day["lastPrice"]), float(day["openPrice"])) == (
        "ETHUSDT",
        last["close"],
        first["open"],
    )
    assert float(day["highPrice"]) == history["high"].max() and float(day["lowPrice"]) == history["low"].min()
    assert float(day["priceChange"]) == pytest.approx(last["close"] - first["open"])
    assert float(day["volume"]) == pytest.approx(history["volume"].sum())
    assert day["openTime"] == _ms(history.index[0])
    assert set(price) == {"symbol", "price", "time"} and float(price["price"]) == last["close"]
    status, spot_price = http("GET", "/api/v3/ticker/price", symbol="ETHUSDT")
    assert spot_price == {"symbol": "ETHUSDT", "price": price["price"]}
    status, all_prices = http("GET", "/fapi/v1/ticker/price")
    assert [p["symbol"] for p in all_prices] == ["ETHUSDT", "BTCUSDT"]
    assert set(mark) == {
        "symbol",
        "markPrice",
        "indexPrice",
        "estimatedSettlePrice",
        "lastFundingRate",
        "interestRate",
        "nextFundingTime",
        "time",
    }
    assert (
        mark["markPrice"] == mark["indexPrice"] == price["price"] and mark["lastFundingRate"] == "0.00010000"
    )
    # the replay's clock is at 2025-08-19 20:10; funding settles every 8 hours (00:00, 08:00, 16:00 UTC)
    assert mark["nextFundingTime"] == _ms(pd.Timestamp("2025-08-20", tz="UTC"))
    assert [m["symbol"] for m in marks] == ["ETHUSDT", "BTCUSDT"]
    settled = pd.Timestamp("2025-08-19 16:00", tz="UTC")
    assert funding == [
        {
            "symbol": "ETHUSDT",
            "fundingRate": "0.00010000",
            "fundingTime": _ms(settled),
            "markPrice": f"{history.loc[settled, 'open']:.8f}",
        }
    ]


def test_brackets_commission_and_position_mode(exchange: FakeExchange, binance, http) -> None:
    async def body(client):
        out = {
            "brackets": await client.futures_leverage_bracket(symbol="ETHUSDT"),
            "commission": await client.futures_commission_rate(symbol="ETHUSDT"),
            "mode": await client.futures_get_position_mode(),
        }
        for name, value in (("same", "false"), ("hedge", "true")):
            try:
                await client.futures_change_position_mode(dualSidePosition=value)
            except BinanceAPIException as exc:
                out[name] = (exc.code, exc.message)
        return out

    out = binance(body)
    [bracket] = out["brackets"]
    assert bracket["symbol"] == "ETHUSDT" and set(bracket) == {"symbol", "notionalCoef", "brackets"}
    assert set(bracket["brackets"][0]) == {
        "bracket",
        "initialLeverage",
        "notionalCap",
        "notionalFloor",
        "maintMarginRatio",
        "cum",
    }
    assert out["commission"] == {
        "symbol": "ETHUSDT",
        "makerCommissionRate": "0.000200",
        "takerCommissionRate": "0.000400",
    }
    assert out["mode"] == {"dualSidePosition": False}
    assert out["same"] == (-4059, "No need to change position side.")
    assert out["hedge"][0] == -1000 and "one-way" in out["hedge"][1]
    assert http("GET", "/fapi/v1/leverageBracket", signed=True)[1][1]["symbol"] == "BTCUSDT"


def test_all_orders_and_cancel_all(exchange: FakeExchange, binance) -> None:
    limit = dict(symbol="ETHUSDT", side="BUY", type="LIMIT", quantity="0.050", timeInForce="GTC")

    async def body(client):
        await client.futures_create_order(price="1000.00", newClientOrderId="low-1", **limit)
        await client.futures_create_order(price="1001.00", newClientOrderId="low-2", **limit)
        await client.futures_create_order(
            symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.050", newClientOrderId="now"
        )
        before = await client.futures_get_all_orders(symbol="ETHUSDT")
        cancelled = await client.futures_cancel_all_open_orders(symbol="ETHUSDT")
        return (
            before,
            cancelled,
            await client.futures_get_all_orders(symbol="ETHUSDT"),
            await client.futures_get_open_orders(),
        )

    before, cancelled, after, still_open = binance(body)
    assert [(o["clientOrderId"], o["status"]) for o in before] == [
        ("low-1", "NEW"),
        ("low-2", "NEW"),
        ("now", "FILLED"),
    ]
    assert cancelled == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert [o["status"] for o in after] == ["CANCELED", "CANCELED", "FILLED"] and still_open == []
    assert set(after[0]) >= {
        "orderId",
        "symbol",
        "status",
        "clientOrderId",
        "price",
        "avgPrice",
        "origQty",
        "executedQty",
        "cumQuote",
        "timeInForce",
        "type",
        "reduceOnly",
        "closePosition",
        "side",
        "positionSide",
        "stopPrice",
        "workingType",
        "priceProtect",
        "origType",
        "priceMatch",
        "selfTradePreventionMode",
        "goodTillDate",
        "time",
        "updateTime",
    }
