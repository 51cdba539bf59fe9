"""A USD-M futures account on the fake exchange: one-way positions, MARKET/LIMIT orders, Binance errors."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket

__all__ = ["BinanceError", "FuturesAccount"]


class BinanceError(Exception):
    """An error answered in Binance's shape: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        """The JSON body Binance answers."""
        return {"code": self.code, "msg": self.msg}


@dataclass
class _Position:
    amount: float = 0.0  # signed (one-way mode)
    entry_price: float = 0.0
    leverage: int = 20
    margin_type: str = "cross"
    update_time: int = 0


@dataclass
class _Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: float
    price: float
    reduce_only: bool
    time_in_force: str
    status: str = "NEW"
    executed_qty: float = 0.0
    avg_price: float = 0.0
    created: int = field(default_factory=lambda: int(time.time() * 1000))
    updated: int = 0


def _ms() -> int:
    return int(time.time() * 1000)


def _decimal(name: str, value: str | None) -> Decimal:
    if value is None or value == "":
        raise BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        ) from None
    if not number.is_finite():
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.")
    return number


class FuturesAccount:
    """Wallet, positions and orders of the one API key the fake exchange knows.

    Fills: MARKET orders fill at once at the last price sent for the symbol (``fill_at="last"``) or at
    the close of its last closed candle (``fill_at="close"``: the backtester's ``close`` model, for parity
    tests whose replay runs faster than orders travel); LIMIT orders rest and fill at their price when a
    later kline state crosses it. Fees are ``fee_rate`` of the notional.
    """

    def __init__(
        self,
        market: ReplayMarket,
        *,
        balance: float = 10_000.0,
        fee_rate: float = 0.0004,
        fill_at: str = "last",
    ) -> None:
        self.market = market
        self.fill_at = fill_at
        self.fee_rate = fee_rate
        self.wallet = balance
        self.positions: dict[str, _Position] = {s: _Position() for s in market.symbols}
        self.orders: dict[int, _Order] = {}
        self._by_client_id: dict[tuple[str, str], _Order] = {}
        self._ids = itertools.count(8_389_765_000_000_000_000 // 10**9)
        self.rejections: list[tuple[int, str]] = []
        self.requests: list[dict[str, str]] = []  # every accepted order request, for tests
        self.trades: list[dict[str, object]] = []  # every fill, as GET /fapi/v1/userTrades lists it
        self.on_fill: Callable[[_Order], None] | None = None

    # ---- faults ------------------------------------------------------------------------------------

    def reject_next_orders(
        self, count: int = 1, code: int = -2019, msg: str = "Margin is insufficient."
    ) -> None:
        """Reject the next ``count`` order requests with this Binance error."""
        self.rejections.extend([(code, msg)] * count)

    # ---- helpers -----------------------------------------------------------------------------------

    def _symbol(self, params: dict[str, str]) -> str:
        symbol = params.get("symbol", "").upper()
        if not symbol:
            raise BinanceError(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if symbol not in self.positions:
            raise BinanceError(-1121, "Invalid symbol.")
        return symbol

    def _unrealized(self, symbol: str) -> float:
        pos = self.positions[symbol]
        return pos.amount * (self.market.price(symbol) - pos.entry_price) if pos.amount else 0.0

    def _fill(self, order: _Order, price: float) -> None:
        pos = self.positions[order.symbol]
        signed = order.quantity if order.side == "BUY" else -order.quantity
        if order.reduce_only:
            if pos.amount == 0 or (pos.amount > 0) == (signed > 0):
                order.status = "EXPIRED"
                order.updated = _ms()
                return
            signed = max(-abs(pos.amount), min(abs(pos.amount), signed))
        fee = abs(signed) * price * self.fee_rate
        self.wallet -= fee
        realized = 0.0
        new_amount = pos.amount + signed
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):  # open or add
            total = abs(pos.amount) + abs(signed)
            pos.entry_price = (abs(pos.amount) * pos.entry_price + abs(signed) * price) / total
        else:  # reduce, close or flip
            closed = min(abs(pos.amount), abs(signed))
            realized = closed * (price - pos.entry_price) * (1 if pos.amount > 0 else -1)
            self.wallet += realized
            if abs(signed) > abs(pos.amount):
                pos.entry_price = price
        pos.amount = round(new_amount, 12)
        if pos.amount == 0:
            pos.entry_price = 0.0
        pos.update_time = _ms()
        order.status = "FILLED"
        order.executed_qty = abs(signed)
        order.avg_price = price
        order.updated = pos.update_time
        self._record_trade(order, abs(signed), price, fee, realized)
        if self.on_fill is not None:
            self.on_fill(order)

    def _record_trade(self, order: _Order, qty: float, price: float, fee: float, realized: float) -> None:
        q = self.market.rules[order.symbol].qty_decimals
        self.trades.append(
            {
                "symbol": order.symbol,
                "id": len(self.trades) + 1,
                "orderId": order.order_id,
                "side": order.side,
                "price": self.market.fmt_price(order.symbol, price),
                "qty": f"{qty:.{q}f}",
                "realizedPnl": f"{realized:.8f}",
                "marginAsset": "USDT",
                "quoteQty": f"{qty * price:.8f}",
                "commission": f"{fee:.8f}",
                "commissionAsset": "USDT",
                "time": order.updated,
                "positionSide": "BOTH",
                "buyer": order.side == "BUY",
                "maker": order.type == "LIMIT",
            }
        )

    def on_kline(self, state: KlineState) -> None:
        """Fill resting LIMIT orders the new kline state crosses."""
        for order in list(self.orders.values()):
            if order.status != "NEW" or order.symbol != state.symbol:
                continue
            if (order.side == "BUY" and state.low <= order.price) or (
                order.side == "SELL" and state.high >= order.price
            ):
                self._fill(order, order.price)

    # ---- endpoints ---------------------------------------------------------------------------------

    def new_order(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /fapi/v1/order``."""
        symbol = self._symbol(params)
        rules = self.market.rules[symbol]
        side = params.get("side", "").upper()
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        kind = params.get("type", "").upper()
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or f"fake{next(self._ids)}"
        if (symbol, client_id) in self._by_client_id:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        quantity = _decimal("quantity", params.get("quantity"))
        if quantity <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if quantity % Decimal(rules.step_size) != 0:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        price = Decimal(0)
        tif = params.get("timeInForce", "GTC")
        if kind == "LIMIT":
            price = _decimal("price", params.get("price"))
            if "timeInForce" not in params:
                raise BinanceError(
                    -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
                )
            if price <= 0 or price % Decimal(rules.tick_size) != 0:
                raise BinanceError(-4014, "Price not increased by tick size.")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        reference = float(price) if kind == "LIMIT" else self.market.price(symbol)
        notional = float(quantity) * reference
        if not reduce_only and notional < float(rules.min_notional):
            raise BinanceError(
                -4164,
                f"Order's notional must be no smaller than {rules.min_notional} "
                "(unless you choose reduce only).",
            )
        if self.rejections:
            code, msg = self.rejections.pop(0)
            raise BinanceError(code, msg)
        order = _Order(
            next(self._ids), client_id, symbol, side, kind, float(quantity), float(price), reduce_only, tif
        )
        order.updated = order.created
        self.orders[order.order_id] = order
        self._by_client_id[(symbol, client_id)] = order
        self.requests.append(dict(params))
        if kind == "MARKET":
            self._fill(order, self.market.price(symbol, closed_only=self.fill_at == "close"))
        else:
            last = self.market.price(symbol)
            if (side == "BUY" and last <= float(price)) or (side == "SELL" and last >= float(price)):
                self._fill(order, float(price))
        return self.order_json(order)

    def find_order(self, params: dict[str, str]) -> _Order:
        """The order named by ``orderId`` or ``origClientOrderId`` (else Binance's -2013)."""
        symbol = self._symbol(params)
        order: _Order | None = None
        if params.get("orderId"):
            order = self.orders.get(int(params["orderId"]))
        elif params.get("origClientOrderId"):
            order = self._by_client_id.get((symbol, params["origClientOrderId"]))
        else:
            raise BinanceError(-1102, "Either orderId or origClientOrderId must be sent.")
        if order is None or order.symbol != symbol:
            raise BinanceError(-2013, "Order does not exist.")
        return order

    def cancel_order(self, params: dict[str, str]) -> dict[str, object]:
        """``DELETE /fapi/v1/order``."""
        order = self.find_order(params)
        if order.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.updated = _ms()
        return self.order_json(order)

    def open_orders(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/openOrders``."""
        symbol = self._symbol(params) if params.get("symbol") else None
        return [
            self.order_json(o)
            for o in self.orders.values()
            if o.status == "NEW" and (symbol is None or o.symbol == symbol)
        ]

    def user_trades(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/userTrades``: the fills of a symbol (of one ``orderId`` when given), oldest
        first, from ``fromId``, at most ``limit`` (default 500, at most 1000)."""
        symbol = self._symbol(params)
        rows = [t for t in self.trades if t["symbol"] == symbol]
        if params.get("orderId"):
            rows = [t for t in rows if str(t["orderId"]) == params["orderId"]]
        if params.get("fromId"):
            rows = [t for t in rows if int(str(t["id"])) >= int(params["fromId"])]
        try:
            limit = int(params.get("limit", "500"))
        except ValueError:
            raise BinanceError(-1100, "Illegal characters found in parameter 'limit'.") from None
        return rows[: max(1, min(limit, 1000))]

    def leverage(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /fapi/v1/leverage``."""
        symbol = self._symbol(params)
        try:
            value = int(params.get("leverage", ""))
        except ValueError:
            raise BinanceError(
                -1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed."
            ) from None
        if not 1 <= value <= 125:
            raise BinanceError(-4028, f"Leverage {value} is not valid")
        self.positions[symbol].leverage = value
        return {"leverage": value, "maxNotionalValue": "1000000", "symbol": symbol}

    def margin_type(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /fapi/v1/marginType``."""
        symbol = self._symbol(params)
        wanted = params.get("marginType", "").upper()
        if wanted not in ("ISOLATED", "CROSSED"):
            raise BinanceError(
                -1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed."
            )
        value = "isolated" if wanted == "ISOLATED" else "cross"
        pos = self.positions[symbol]
        if pos.margin_type == value:
            raise BinanceError(-4046, "No need to change margin type.")
        if pos.amount != 0:
            raise BinanceError(-4048, "Margin type cannot be changed if there exists position.")
        pos.margin_type = value
        return {"code": 200, "msg": "success"}

    def position_risk(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v2|v3/positionRisk`` (v2 and v3 fields together)."""
        symbols = [self._symbol(params)] if params.get("symbol") else list(self.positions)
        out = []
        for symbol in symbols:
            pos = self.positions[symbol]
            mark = self.market.price(symbol)
            notional = pos.amount * mark
            isolated = abs(notional) / pos.leverage if pos.margin_type == "isolated" else 0.0
            out.append(
                {
                    "symbol": symbol,
                    "positionSide": "BOTH",
                    "positionAmt": f"{pos.amount:.{self.market.rules[symbol].qty_decimals}f}",
                    "entryPrice": f"{pos.entry_price:.8f}",
                    "breakEvenPrice": f"{pos.entry_price:.8f}",
                    "markPrice": f"{mark:.8f}",
                    "unRealizedProfit": f"{self._unrealized(symbol):.8f}",
                    "liquidationPrice": "0",
                    "leverage": str(pos.leverage),
                    "maxNotionalValue": "1000000",
                    "marginType": pos.margin_type,
                    "isolatedMargin": f"{isolated:.8f}",
                    "isolatedWallet": "0",
                    "isAutoAddMargin": "false",
                    "notional": f"{notional:.8f}",
                    "marginAsset": "USDT",
                    "initialMargin": f"{abs(notional) / pos.leverage:.8f}",
                    "maintMargin": f"{abs(notional) * 0.004:.8f}",
                    "adlQuantile": 0,
                    "updateTime": pos.update_time,
                }
            )
        return out

    def balance(self) -> list[dict[str, object]]:
        """``GET /fapi/v2|v3/balance``."""
        unrealized = sum(self._unrealized(s) for s in self.positions)
        available = (
            self.wallet
            + unrealized
            - sum(abs(p.amount) * self.market.price(s) / p.leverage for s, p in self.positions.items())
        )
        return [
            {
                "accountAlias": "fakeexchange",
                "asset": "USDT",
                "balance": f"{self.wallet:.8f}",
                "crossWalletBalance": f"{self.wallet:.8f}",
                "crossUnPnl": f"{unrealized:.8f}",
                "availableBalance": f"{available:.8f}",
                "maxWithdrawAmount": f"{max(available, 0):.8f}",
                "marginAvailable": True,
                "updateTime": _ms(),
            }
        ]

    def account(self) -> dict[str, object]:
        """``GET /fapi/v2|v3/account``."""
        row = self.balance()[0]
        unrealized = float(str(row["crossUnPnl"]))
        return {
            "totalWalletBalance": row["balance"],
            "totalUnrealizedProfit": row["crossUnPnl"],
            "totalMarginBalance": f"{self.wallet + unrealized:.8f}",
            "availableBalance": row["availableBalance"],
            "maxWithdrawAmount": row["maxWithdrawAmount"],
            "canTrade": True,
            "assets": [
                {
                    "asset": "USDT",
                    "walletBalance": row["balance"],
                    "unrealizedProfit": row["crossUnPnl"],
                    "availableBalance": row["availableBalance"],
                    "marginBalance": f"{self.wallet + unrealized:.8f}",
                }
            ],
            "positions": self.position_risk({}),
        }

    def order_json(self, order: _Order) -> dict[str, object]:
        """An order as ``/fapi/v1/order`` answers it."""
        q = self.market.rules[order.symbol].qty_decimals
        fp = self.market.fmt_price
        return {
            "orderId": order.order_id,
            "symbol": order.symbol,
            "status": order.status,
            "clientOrderId": order.client_order_id,
            "price": fp(order.symbol, order.price) if order.price else "0",
            "avgPrice": f"{order.avg_price:.8f}",
            "origQty": f"{order.quantity:.{q}f}",
            "executedQty": f"{order.executed_qty:.{q}f}",
            "cumQty": f"{order.executed_qty:.{q}f}",
            "cumQuote": f"{order.executed_qty * order.avg_price:.8f}",
            "timeInForce": order.time_in_force,
            "type": order.type,
            "origType": order.type,
            "reduceOnly": order.reduce_only,
            "closePosition": False,
            "side": order.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": order.created,
            "updateTime": order.updated,
        }
