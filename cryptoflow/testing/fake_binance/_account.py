"""A USD-M futures account on the fake exchange: wallet, one-way positions, margin, fills and the account
endpoints (balance, positions, leverage, brackets, commission, position mode)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import ReplayMarket
from cryptoflow.testing.fake_binance._orders import OPEN, AlgoOrder, Order, order_event, symbol_param

__all__ = ["FuturesAccount", "limit_param"]

# One bracket per symbol: Binance's first tier of ETHUSDT / BTCUSDT (125x up to 50,000 USDT notional,
# 0.4 % maintenance); the fake does not check notional caps.
_BRACKET = {
    "bracket": 1,
    "initialLeverage": 125,
    "notionalCap": 50000,
    "notionalFloor": 0,
    "maintMarginRatio": 0.004,
    "cum": 0.0,
}


@dataclass
class _Position:
    amount: float = 0.0  # signed (one-way mode)
    entry_price: float = 0.0
    leverage: int = 20
    margin_type: str = "cross"
    update_time: int = 0


class FuturesAccount:
    """Wallet, positions and orders of the one API key the fake exchange knows.

    Margin as Binance checks it: an order that opens or adds exposure needs its initial margin (notional /
    leverage, plus the taker fee) within ``availableBalance`` (wallet + unrealized PnL - the initial margin
    of positions and of open non-reduce-only LIMIT orders), else -2019. Fees: ``taker_fee_rate`` for
    MARKET orders and LIMIT orders that cross on arrival, ``maker_fee_rate`` for resting LIMIT orders.
    ``fill_at``: MARKET orders fill at the last price sent (``"last"``) or at the close of the last closed
    candle (``"close"``, the backtester's model). Every order change is sent to :attr:`listeners` as a
    Binance user-stream event.
    """

    def __init__(
        self,
        market: ReplayMarket,
        *,
        balance: float = 10_000.0,
        fee_rate: float = 0.0004,
        maker_fee_rate: float = 0.0002,
        fill_at: str = "last",
    ) -> None:
        self.market = market
        self.fill_at = fill_at
        self.fee_rate = fee_rate
        self.maker_fee_rate = maker_fee_rate
        self.wallet = balance
        self.dual_side = False
        self.positions: dict[str, _Position] = {s: _Position() for s in market.symbols}
        self.orders: dict[int, Order] = {}
        self.algo_orders: dict[int, AlgoOrder] = {}
        self.rejections: list[tuple[int, str]] = []
        self.requests: list[dict[str, str]] = []  # every accepted order request, for tests
        self.trades: list[dict[str, object]] = []  # every fill, as GET /fapi/v1/userTrades lists it
        self.listeners: list[Callable[[dict[str, object]], None]] = []
        self.on_fill: Callable[[Order], None] | None = None

    # ---- faults ------------------------------------------------------------------------------------

    def reject_next_orders(
        self, count: int = 1, code: int = -2019, msg: str = "Margin is insufficient."
    ) -> None:
        """Reject the next ``count`` order requests with this Binance error."""
        self.rejections.extend([(code, msg)] * count)

    # ---- state -------------------------------------------------------------------------------------

    def emit(self, event: dict[str, object]) -> None:
        """Send a user-stream event to every listener."""
        for listener in list(self.listeners):
            listener(event)

    def symbol(self, params: dict[str, str], *, required: bool = True) -> str | None:
        """The ``symbol`` parameter, checked (-1102 missing, -1121 unknown)."""
        return symbol_param(params, self.market, required=required)

    def _unrealized(self, symbol: str) -> float:
        pos = self.positions[symbol]
        return pos.amount * (self.market.price(symbol) - pos.entry_price) if pos.amount else 0.0

    def available(self) -> float:
        """``availableBalance``: wallet + unrealized PnL - initial margin of positions and open orders."""
        positions = sum(abs(p.amount) * self.market.price(s) / p.leverage for s, p in self.positions.items())
        orders = sum(
            float(o.remaining * o.price) / self.positions[o.symbol].leverage
            for o in self.orders.values()
            if o.status in OPEN and o.type == "LIMIT" and not o.reduce_only
        )
        return self.wallet + sum(self._unrealized(s) for s in self.positions) - positions - orders

    def check_margin(self, symbol: str, side: str, quantity: Decimal, price: float) -> None:
        """-2019 unless the part of the order that opens or adds exposure fits ``availableBalance``."""
        pos = self.positions[symbol]
        signed = float(quantity) if side == "BUY" else -float(quantity)
        same_way = pos.amount == 0 or (pos.amount > 0) == (signed > 0)
        opening = abs(signed) if same_way else max(0.0, abs(signed) - abs(pos.amount))
        if not opening:
            return
        needed = opening * price / pos.leverage + opening * price * self.fee_rate
        if needed > self.available() + 1e-9:
            raise BinanceError(-2019, "Margin is insufficient.")

    def check_reduce_only(self, symbol: str, side: str) -> None:
        """-2022 for a reduce-only order with no position, or on the side that would increase it."""
        amount = self.positions[symbol].amount
        if amount == 0 or (amount > 0) == (side == "BUY"):
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")

    def reducible(self, order: Order) -> Decimal:
        """How much of ``order`` may fill now: its remaining quantity, for a reduce-only or close-position
        order at most the opposite position (0 when there is none)."""
        if not (order.reduce_only or order.close_position):
            return order.remaining
        amount = self.positions[order.symbol].amount
        if amount == 0 or (amount > 0) == (order.side == "BUY"):
            return Decimal(0)
        held = Decimal(repr(float(abs(amount))))
        return held if order.close_position else min(order.remaining, held)

    # ---- fills -------------------------------------------------------------------------------------

    def fill(self, order: Order, qty: Decimal, price: float, *, maker: bool) -> None:
        """Execute ``qty`` of ``order`` at ``price`` (on the tick grid): position, wallet, fee, trade
        record and the ``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE`` events."""
        symbol = order.symbol
        pos = self.positions[symbol]
        price_text = self.market.fmt_price(symbol, price)
        px = Decimal(price_text)
        quote = px * qty
        fee = quote * Decimal(repr(float(self.maker_fee_rate if maker else self.fee_rate)))
        signed = float(qty) if order.side == "BUY" else -float(qty)
        realized = 0.0
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):  # open or add
            total = abs(pos.amount) + abs(signed)
            pos.entry_price = (abs(pos.amount) * pos.entry_price + abs(signed) * float(px)) / total
        else:  # reduce, close or flip
            closed = min(abs(pos.amount), abs(signed))
            realized = closed * (float(px) - pos.entry_price) * (1 if pos.amount > 0 else -1)
            if abs(signed) > abs(pos.amount):
                pos.entry_price = float(px)
        self.wallet += realized - float(fee)
        pos.amount = round(pos.amount + signed, 12)
        if pos.amount == 0:
            pos.entry_price = 0.0
        pos.update_time = self.market.now_ms
        order.filled += qty
        order.cum_quote += quote
        order.status = "FILLED" if order.remaining <= 0 else "PARTIALLY_FILLED"
        order.updated = pos.update_time
        trade_id = len(self.trades) + 1
        self.trades.append(
            {
                "symbol": symbol,
                "id": trade_id,
                "orderId": order.order_id,
                "side": order.side,
                "price": price_text,
                "qty": f"{qty:.{self.market.rules[symbol].qty_decimals}f}",
                "realizedPnl": f"{realized:.8f}",
                "marginAsset": "USDT",
                "quoteQty": str(quote),
                "commission": f"{fee:.8f}",
                "commissionAsset": "USDT",
                "time": order.updated,
                "positionSide": "BOTH",
                "buyer": order.side == "BUY",
                "maker": maker,
            }
        )
        self.emit(
            order_event(
                self.market,
                order,
                "TRADE",
                last_qty=qty,
                last_price=px,
                fee=fee,
                realized=Decimal(repr(round(float(realized), 8))),
                trade_id=trade_id,
                maker=maker,
            )
        )
        self.emit(self.account_update(symbol))
        if self.on_fill is not None and order.status == "FILLED":
            self.on_fill(order)

    def account_update(self, symbol: str, reason: str = "ORDER") -> dict[str, object]:
        """The ``ACCOUNT_UPDATE`` user-stream event: the USDT balance and ``symbol``'s position."""
        pos = self.positions[symbol]
        now = self.market.now_ms
        return {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": pos.update_time or now,
            "a": {
                "m": reason,
                "B": [{"a": "USDT", "wb": f"{self.wallet:.8f}", "cw": f"{self.wallet:.8f}", "bc": "0"}],
                "P": [
                    {
                        "s": symbol,
                        "pa": f"{pos.amount:.{self.market.rules[symbol].qty_decimals}f}",
                        "ep": f"{pos.entry_price:.8f}",
                        "bep": f"{pos.entry_price:.8f}",
                        "cr": "0",
                        "up": f"{self._unrealized(symbol):.8f}",
                        "mt": "isolated" if pos.margin_type == "isolated" else "cross",
                        "iw": f"{abs(pos.amount) * pos.entry_price / pos.leverage:.8f}"
                        if pos.margin_type == "isolated"
                        else "0",
                        "ps": "BOTH",
                    }
                ],
            },
        }

    # ---- account endpoints -------------------------------------------------------------------------

    def leverage(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /fapi/v1/leverage``."""
        symbol = str(self.symbol(params))
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
        symbol = str(self.symbol(params))
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

    def position_mode(self, params: dict[str, str], *, change: bool) -> dict[str, object]:
        """``GET|POST /fapi/v1/positionSide/dual``. The fake trades in one-way mode only: a switch to hedge
        mode is refused as Binance refuses a switch (-4059 nothing to change, -4067 open orders, -4068 a
        position), else with -1000 naming the limitation."""
        if not change:
            return {"dualSidePosition": self.dual_side}
        wanted = params.get("dualSidePosition", "").lower()
        if wanted not in ("true", "false"):
            raise BinanceError(
                -1102, "Mandatory parameter 'dualSidePosition' was not sent, was empty/null, or malformed."
            )
        if (wanted == "true") == self.dual_side:
            raise BinanceError(-4059, "No need to change position side.")
        if any(o.status in OPEN for o in self.orders.values()):
            raise BinanceError(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.amount for p in self.positions.values()):
            raise BinanceError(-4068, "Position side cannot be changed if there exists position.")
        raise BinanceError(-1000, "The fake exchange trades in one-way mode only (dualSidePosition=false).")

    def leverage_bracket(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/leverageBracket``: one bracket per symbol (see ``_BRACKET``)."""
        symbol = self.symbol(params, required=False)
        symbols = [symbol] if symbol else list(self.positions)
        return [{"symbol": s, "notionalCoef": 1.0, "brackets": [dict(_BRACKET)]} for s in symbols]

    def commission_rate(self, params: dict[str, str]) -> dict[str, object]:
        """``GET /fapi/v1/commissionRate``."""
        return {
            "symbol": self.symbol(params),
            "makerCommissionRate": f"{self.maker_fee_rate:.6f}",
            "takerCommissionRate": f"{self.fee_rate:.6f}",
        }

    def user_trades(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/userTrades``: the fills of a symbol (of one ``orderId`` when given), oldest
        first, from ``fromId``, at most ``limit`` (default 500, at most 1000)."""
        symbol = self.symbol(params)
        rows = [t for t in self.trades if t["symbol"] == symbol]
        if params.get("orderId"):
            rows = [t for t in rows if str(t["orderId"]) == params["orderId"]]
        if params.get("fromId"):
            rows = [t for t in rows if int(str(t["id"])) >= int(params["fromId"])]
        return rows[: limit_param(params, 500, 1000)]

    def position_risk(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v2|v3/positionRisk`` (v2 and v3 fields together)."""
        symbol = self.symbol(params, required=False)
        out = []
        for s in [symbol] if symbol else list(self.positions):
            pos = self.positions[s]
            mark = self.market.price(s)
            notional = pos.amount * mark
            isolated = abs(notional) / pos.leverage if pos.margin_type == "isolated" else 0.0
            out.append(
                {
                    "symbol": s,
                    "positionSide": "BOTH",
                    "positionAmt": f"{pos.amount:.{self.market.rules[s].qty_decimals}f}",
                    "entryPrice": f"{pos.entry_price:.8f}",
                    "breakEvenPrice": f"{pos.entry_price:.8f}",
                    "markPrice": f"{mark:.8f}",
                    "unRealizedProfit": f"{self._unrealized(s):.8f}",
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
        available = self.available()
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
                "updateTime": self.market.now_ms,
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


def limit_param(params: dict[str, str], default: int, top: int) -> int:
    """The ``limit`` parameter, ``default`` when absent, clamped to ``[1, top]``."""
    try:
        limit = int(params.get("limit", str(default)))
    except ValueError:
        raise BinanceError(-1100, "Illegal characters found in parameter 'limit'.") from None
    return max(1, min(limit, top))
