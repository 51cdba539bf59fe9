"""A spot account on the fake exchange (``/api/v3``): balances, MARKET and LIMIT orders, trades.

Balances start at ``balance`` USDT (every other asset 0). A BUY needs its quote amount free, a SELL its base
quantity (-2010); a resting LIMIT locks it. Commission is ``fee_rate`` of what is received (the base asset
on a buy, the quote asset on a sell). MARKET orders fill at once at the last price; LIMIT orders that cross
on arrival fill at the last price, others rest and fill in full at their price when a kline state's range
reaches it. No margin trading: the ``/sapi`` margin pair lists are empty.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket
from cryptoflow.testing.fake_binance._orders import decimal_param, now_ms, symbol_param

__all__ = ["SpotAccount"]

_D8 = Decimal("0.00000001")
# fields of an order (GET /api/v3/order) that the answers of POST and DELETE do not carry
_NOT_IN_ANSWERS = ("stopPrice", "icebergQty", "time", "updateTime", "isWorking")


@dataclass
class _SpotOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    time_in_force: str
    status: str = "NEW"
    filled: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    created: int = field(default_factory=now_ms)
    updated: int = 0


class SpotAccount:
    """Balances, orders and trades of the one API key, on the spot side."""

    def __init__(self, market: ReplayMarket, *, balance: float = 10_000.0, fee_rate: float = 0.001) -> None:
        self.market = market
        self.fee_rate = Decimal(repr(float(fee_rate)))
        assets = {"USDT"} | {market.rules[s].base_asset() for s in market.symbols}
        assets |= {market.rules[s].quote_asset() for s in market.symbols}
        self.free: dict[str, Decimal] = {a: Decimal(0) for a in sorted(assets)}
        self.locked: dict[str, Decimal] = {a: Decimal(0) for a in sorted(assets)}
        self.free["USDT"] = Decimal(repr(float(balance)))
        self.orders: dict[int, _SpotOrder] = {}
        self.trades: list[dict[str, object]] = []
        self._ids = itertools.count(28_457_000)
        self._by_client_id: dict[tuple[str, str], _SpotOrder] = {}

    def _symbol(self, params: dict[str, str], *, required: bool = True) -> str | None:
        return symbol_param(params, self.market, required=required)

    def _cost(self, order: _SpotOrder, qty: Decimal, price: Decimal) -> tuple[str, Decimal]:
        rules = self.market.rules[order.symbol]
        if order.side == "BUY":
            return rules.quote_asset(), (qty * price).quantize(_D8)
        return rules.base_asset(), qty

    # ---- endpoints ---------------------------------------------------------------------------------

    def new_order(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /api/v3/order`` (MARKET with ``quantity``, LIMIT with ``price`` and ``timeInForce``)."""
        symbol = str(self._symbol(params))
        rules = self.market.rules[symbol]
        side, kind = params.get("side", "").upper(), params.get("type", "").upper()
        if side not in ("BUY", "SELL"):
            raise BinanceError(
                -1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'."
            )
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or f"fakespot{next(self._ids)}"
        if (symbol, client_id) in self._by_client_id:
            raise BinanceError(-2010, "Duplicate order sent.")
        quantity = decimal_param("quantity", params.get("quantity"))
        if quantity <= 0 or quantity % Decimal(rules.step_size):
            raise BinanceError(-1013, "Filter failure: LOT_SIZE")
        price, tif = Decimal(0), params.get("timeInForce", "")
        last = Decimal(self.market.fmt_price(symbol, self.market.price(symbol)))
        if kind == "LIMIT":
            price = decimal_param("price", params.get("price"))
            if not tif:
                raise BinanceError(
                    -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
                )
            if price <= 0 or price % Decimal(rules.tick_size):
                raise BinanceError(-1013, "Filter failure: PRICE_FILTER")
        if quantity * (price or last) < Decimal(rules.min_notional):
            raise BinanceError(-1013, "Filter failure: NOTIONAL")
        order = _SpotOrder(next(self._ids), client_id, symbol, side, kind, quantity, price, tif or "GTC")
        asset, amount = self._cost(order, quantity, price or last)
        if self.free[asset] < amount:
            raise BinanceError(-2010, "Account has insufficient balance for requested action.")
        order.updated = order.created
        self.orders[order.order_id] = order
        self._by_client_id[(symbol, client_id)] = order
        crosses = kind == "MARKET" or (price >= last if side == "BUY" else price <= last)
        fills = []
        if crosses:
            fills.append(self._fill(order, last, maker=False))
        else:
            self.free[asset] -= amount
            self.locked[asset] += amount
        kind_of_answer = params.get("newOrderRespType", "FULL").upper()
        if kind_of_answer == "ACK":
            return {
                "symbol": symbol,
                "orderId": order.order_id,
                "orderListId": -1,
                "clientOrderId": client_id,
                "transactTime": order.created,
            }
        answer = {k: v for k, v in self._json(order).items() if k not in _NOT_IN_ANSWERS}
        answer["transactTime"] = order.created
        if kind_of_answer == "FULL":
            answer["fills"] = fills
        return answer

    def _fill(
        self, order: _SpotOrder, price: Decimal, *, maker: bool, locked: bool = False
    ) -> dict[str, object]:
        rules = self.market.rules[order.symbol]
        base, quote = rules.base_asset(), rules.quote_asset()
        qty = order.quantity - order.filled
        value = (qty * price).quantize(_D8)
        pay, receive, paid, got = (
            (quote, base, value, qty) if order.side == "BUY" else (base, quote, qty, value)
        )
        fee = (got * self.fee_rate).quantize(_D8)
        if locked:
            self.locked[pay] -= self._cost(order, qty, order.price)[1]
            self.free[pay] += self._cost(order, qty, order.price)[1] - paid
        else:
            self.free[pay] -= paid
        self.free[receive] += got - fee
        order.filled += qty
        order.quote += value
        order.status = "FILLED"
        order.updated = now_ms()
        trade_id = len(self.trades) + 1
        self.trades.append(
            {
                "symbol": order.symbol,
                "id": trade_id,
                "orderId": order.order_id,
                "orderListId": -1,
                "price": self.market.fmt_price(order.symbol, float(price)),
                "qty": f"{qty:.8f}",
                "quoteQty": f"{value:.8f}",
                "commission": f"{fee:.8f}",
                "commissionAsset": receive,
                "time": order.updated,
                "isBuyer": order.side == "BUY",
                "isMaker": maker,
                "isBestMatch": True,
            }
        )
        return {
            "price": self.market.fmt_price(order.symbol, float(price)),
            "qty": f"{qty:.8f}",
            "commission": f"{fee:.8f}",
            "commissionAsset": receive,
            "tradeId": trade_id,
        }

    def on_kline(self, state: KlineState) -> None:
        """Fill the resting LIMIT orders of ``state.symbol`` whose price the state's range reaches."""
        for order in list(self.orders.values()):
            if order.symbol != state.symbol or order.status != "NEW" or order.type != "LIMIT":
                continue
            price = float(order.price)
            if (order.side == "BUY" and state.low <= price) or (order.side == "SELL" and state.high >= price):
                self._fill(order, order.price, maker=True, locked=True)

    def _find(self, params: dict[str, str]) -> _SpotOrder:
        symbol = str(self._symbol(params))
        order: _SpotOrder | None = None
        if params.get("orderId"):
            order = self.orders.get(int(params["orderId"]))
        elif params.get("origClientOrderId"):
            order = self._by_client_id.get((symbol, params["origClientOrderId"]))
        else:
            raise BinanceError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        if order is None or order.symbol != symbol:
            raise BinanceError(-2013, "Order does not exist.")
        return order

    def query_order(self, params: dict[str, str]) -> dict[str, object]:
        """``GET /api/v3/order``."""
        return self._json(self._find(params))

    def cancel_order(self, params: dict[str, str]) -> dict[str, object]:
        """``DELETE /api/v3/order``: a resting order's locked balance is freed."""
        order = self._find(params)
        if order.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        asset, amount = self._cost(order, order.quantity - order.filled, order.price)
        self.locked[asset] -= amount
        self.free[asset] += amount
        order.status, order.updated = "CANCELED", now_ms()
        answer = {k: v for k, v in self._json(order).items() if k not in _NOT_IN_ANSWERS}
        del answer["workingTime"]
        return {"origClientOrderId": order.client_order_id, **answer, "transactTime": order.updated}

    def open_orders(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /api/v3/openOrders``."""
        symbol = self._symbol(params, required=False)
        return [
            self._json(o) for o in self.orders.values() if o.status == "NEW" and symbol in (None, o.symbol)
        ]

    def my_trades(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /api/v3/myTrades``: a symbol's fills, oldest first, at most ``limit`` (500, at most 1000)."""
        symbol = self._symbol(params)
        rows = [t for t in self.trades if t["symbol"] == symbol]
        if params.get("orderId"):
            rows = [t for t in rows if str(t["orderId"]) == params["orderId"]]
        return rows[: max(1, min(int(params.get("limit", "500")), 1000))]

    def account(self) -> dict[str, object]:
        """``GET /api/v3/account``."""
        bps = int(self.fee_rate * 10_000)
        rate = f"{self.fee_rate:.8f}"
        return {
            "makerCommission": bps,
            "takerCommission": bps,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": rate, "taker": rate, "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": [
                {"asset": a, "free": f"{self.free[a]:.8f}", "locked": f"{self.locked[a]:.8f}"}
                for a in self.free
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _json(self, order: _SpotOrder) -> dict[str, object]:
        fp = self.market.fmt_price
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": fp(order.symbol, float(order.price)) if order.price else "0.00000000",
            "origQty": f"{order.quantity:.8f}",
            "executedQty": f"{order.filled:.8f}",
            "cummulativeQuoteQty": f"{order.quote:.8f}",
            "status": order.status,
            "timeInForce": order.time_in_force,
            "type": order.type,
            "side": order.side,
            "stopPrice": "0.00000000",
            "icebergQty": "0.00000000",
            "time": order.created,
            "updateTime": order.updated,
            "isWorking": True,
            "workingTime": order.created,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
