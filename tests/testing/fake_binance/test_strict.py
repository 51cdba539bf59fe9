"""The fake exchange refuses what Binance refuses: margin (-2019), reduce-only (-2022), conditional types on
the order endpoint (-4120); prices on the tick grid and trades whose price × qty is their quoteQty."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from binance.exceptions import BinanceAPIException

from cryptoflow.candles import load_candles
from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket, replay_exchange

MARGIN = {"code": -2019, "msg": "Margin is insufficient."}
REDUCE_ONLY = {"code": -2022, "msg": "ReduceOnly Order is rejected."}


def _error(binance, body) -> tuple[int, str]:
    with pytest.raises(BinanceAPIException) as info:
        binance(body)
    return info.value.code, info.value.message


def test_an_order_the_account_cannot_margin_is_rejected(exchange: FakeExchange, binance, http) -> None:
    code, msg = _error(
        binance,
        lambda c: c.futures_create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="1000"),
    )
    assert (code, msg) == (MARGIN["code"], MARGIN["msg"])
    assert http(
        "POST", "/fapi/v1/order", signed=True, symbol="ETHUSDT", side="BUY", type="MARKET", quantity="1000"
    ) == (
        400,
        MARGIN,
    )
    assert http("GET", "/fapi/v3/balance", signed=True)[1][0]["availableBalance"] == "10000.00000000"
    assert exchange.account.positions["ETHUSDT"].amount == 0 and exchange.account.trades == []
    # at 20x the initial margin is notional / 20 (+ the taker fee): just above the balance fails, below fills
    price = Decimal(str(exchange.market.price("ETHUSDT")))
    http("POST", "/fapi/v1/leverage", signed=True, symbol="ETHUSDT", leverage=20)
    most = Decimal(10_000) / (price * (Decimal("0.05") + Decimal("0.0004")))
    step = Decimal("0.001")
    too_much = (most * Decimal("1.002") / step).to_integral_value(ROUND_CEILING) * step
    enough = (most * Decimal("0.998") / step).to_integral_value(ROUND_FLOOR) * step
    order = dict(symbol="ETHUSDT", side="BUY", type="MARKET", newOrderRespType="RESULT")
    assert http("POST", "/fapi/v1/order", signed=True, quantity=str(too_much), **order) == (400, MARGIN)
    status, filled = http("POST", "/fapi/v1/order", signed=True, quantity=str(enough), **order)
    assert status == 200 and filled["status"] == "FILLED" and filled["executedQty"] == str(enough)
    available = float(http("GET", "/fapi/v3/balance", signed=True)[1][0]["availableBalance"])
    assert 0 <= available < 10_000 * 0.01
    # reducing needs no margin, even with nothing available
    status, closed = http(
        "POST",
        "/fapi/v1/order",
        signed=True,
        quantity=str(enough),
        reduceOnly="true",
        **{**order, "side": "SELL"},
    )
    assert status == 200 and closed["status"] == "FILLED"


def test_reduce_only_needs_a_position_to_reduce(exchange: FakeExchange, binance, http) -> None:
    order = dict(symbol="ETHUSDT", type="MARKET", reduceOnly="true", newOrderRespType="RESULT")
    code, msg = _error(binance, lambda c: c.futures_create_order(side="SELL", quantity="0.050", **order))
    assert (code, msg) == (REDUCE_ONLY["code"], REDUCE_ONLY["msg"])
    assert http("POST", "/fapi/v1/order", signed=True, side="SELL", quantity="0.050", **order) == (
        400,
        REDUCE_ONLY,
    )
    opened = http(
        "POST",
        "/fapi/v1/order",
        signed=True,
        **{**order, "reduceOnly": "false"},
        side="BUY",
        quantity="0.050",
    )
    assert opened[1]["status"] == "FILLED"
    # the side that would increase the long is refused; a reduce-only sell larger than it closes only the
    # long, and the rest of the order expires
    assert http("POST", "/fapi/v1/order", signed=True, side="BUY", quantity="0.010", **order) == (
        400,
        REDUCE_ONLY,
    )
    status, closed = http("POST", "/fapi/v1/order", signed=True, side="SELL", quantity="0.080", **order)
    assert status == 200 and (closed["status"], closed["origQty"], closed["executedQty"]) == (
        "EXPIRED",
        "0.080",
        "0.050",
    )
    assert exchange.account.positions["ETHUSDT"].amount == 0


def test_conditional_types_go_through_the_algo_endpoint(exchange: FakeExchange, http) -> None:
    """Binance lists seven order types but takes the conditional ones only on /fapi/v1/algoOrder."""
    status, info = http("GET", "/fapi/v1/exchangeInfo")
    eth = next(s for s in info["symbols"] if s["symbol"] == "ETHUSDT")
    assert eth["orderTypes"] == [
        "LIMIT",
        "MARKET",
        "STOP_MARKET",
        "TAKE_PROFIT_MARKET",
        "STOP",
        "TAKE_PROFIT",
        "TRAILING_STOP_MARKET",
    ]
    spot = next(s for s in http("GET", "/api/v3/exchangeInfo")[1]["symbols"] if s["symbol"] == "ETHUSDT")
    assert set(spot["orderTypes"]) == {
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    }
    status, body = http(
        "POST",
        "/fapi/v1/order",
        signed=True,
        symbol="ETHUSDT",
        side="SELL",
        type="STOP_MARKET",
        stopPrice="1000.00",
        closePosition="true",
    )
    assert (status, body["code"]) == (400, -4120)
    assert "Algo Order API" in body["msg"]


def test_every_price_sent_is_on_the_tick_grid(shared_data: Path) -> None:
    market = ReplayMarket.from_files(
        [shared_data / f"{s}_5m_2025-08.csv" for s in ("ETHUSDT", "BTCUSDT")], history=10, limit=40
    )
    closes = set()
    interpolated = 0
    while not market.finished:
        for batch in market.step():
            for state in batch:
                tick = Decimal(market.rules[state.symbol].tick_size)
                for price in (state.open, state.high, state.low, state.close):
                    assert Decimal(repr(price)) % tick == 0, (state, price)
                if not state.is_closed:
                    closes.add(state.close)
    frame = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")
    real = set(frame[["open", "high", "low", "close"]].to_numpy().ravel())
    interpolated = len(closes - real)
    assert interpolated > 10  # the snapshots between the path's corners, rounded to the tick


def test_fills_on_the_grid_and_trades_add_up(shared_data: Path, http_for) -> None:
    """MARKET orders sent while the replay runs fill at intrabar prices: each on the tick grid, each trade's
    price × qty equal to its quoteQty, and each order's cumQuote the sum of its trades."""
    exchange = replay_exchange(shared_data, symbols=("ETHUSDT",), limit=12, speed=8)
    http = http_for(exchange)
    order = dict(symbol="ETHUSDT", type="MARKET", quantity="0.010", newOrderRespType="RESULT")
    try:
        exchange.start_replay()
        responses = []
        side = "BUY"
        while not exchange.market.finished and len(responses) < 200:
            status, body = http("POST", "/fapi/v1/order", signed=True, side=side, **order)
            assert status == 200, body
            responses.append(body)
            side = "SELL" if side == "BUY" else "BUY"
    finally:
        exchange.stop_thread()
    trades = exchange.account.trades
    assert len(trades) == len(responses) >= 20
    for trade in trades:
        price, qty, quote = (Decimal(str(trade[k])) for k in ("price", "qty", "quoteQty"))
        assert price % Decimal("0.01") == 0 and price * qty == quote
    for body in responses:
        assert Decimal(body["avgPrice"]) % Decimal("0.01") == 0
        mine = [t for t in trades if t["orderId"] == body["orderId"]]
        assert Decimal(body["cumQuote"]) == sum(Decimal(str(t["quoteQty"])) for t in mine)
    real = set(load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")["close"])
    assert any(float(t["price"]) not in real for t in trades)  # some filled between two closes
