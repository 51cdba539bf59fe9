"""Orders of the fake futures account and their wire formats: the REST answers of ``/fapi/v1/order`` and
``/fapi/v1/algoOrder``, and the ``ORDER_TRADE_UPDATE`` / ``ALGO_UPDATE`` user-stream events."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import ReplayMarket

__all__ = [
    "ALGO_TYPES",
    "OPEN",
    "ORDER_TYPES",
    "AlgoOrder",
    "Order",
    "algo_event",
    "algo_json",
    "decimal_param",
    "now_ms",
    "order_event",
    "order_json",
    "symbol_param",
]

ORDER_TYPES = ("LIMIT", "MARKET")
"""What ``/fapi/v1/order`` takes; Binance moved the conditional types to the algo service (-4120)."""
ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET")
"""What ``/fapi/v1/algoOrder`` takes (``algoType=CONDITIONAL``)."""
OPEN = ("NEW", "PARTIALLY_FILLED")


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the spot account's order times; futures orders, fills and user-stream
    events carry the replay's clock, :attr:`ReplayMarket.now_ms`)."""
    return int(time.time() * 1000)


def decimal_param(name: str, value: str | None) -> Decimal:
    """A decimal request parameter, with Binance's errors for a missing or malformed one."""
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


def symbol_param(
    params: Mapping[str, str], market: ReplayMarket, *, name: str = "symbol", required: bool = True
) -> str | None:
    """The symbol parameter ``name``, upper-cased and checked (-1102 missing, -1121 not replayed);
    ``None`` when absent and not ``required``."""
    symbol = (params.get(name) or "").upper()
    if not symbol:
        if not required:
            return None
        raise BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    if symbol not in market.rules:
        raise BinanceError(-1121, "Invalid symbol.")
    return symbol


@dataclass
class Order:
    """An order in the matching engine (placed by ``/fapi/v1/order`` or by a triggered algo order)."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    reduce_only: bool
    time_in_force: str
    orig_type: str = ""
    stop_price: Decimal = Decimal(0)
    close_position: bool = False
    working_type: str = "CONTRACT_PRICE"
    status: str = "NEW"
    filled: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    created: int = field(default_factory=now_ms)
    updated: int = 0

    @property
    def executed_qty(self) -> float:
        """Quantity filled so far (``filled`` as a float)."""
        return float(self.filled)

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.quantity - self.filled

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 before the first fill)."""
        return self.cum_quote / self.filled if self.filled else Decimal(0)


@dataclass
class AlgoOrder:
    """A conditional order in Binance's algo service: it waits for its trigger price, then places an
    :class:`Order` (MARKET for the ``*_MARKET`` types, LIMIT at ``price`` for STOP / TAKE_PROFIT)."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal  # 0 with close_position
    trigger_price: Decimal
    price: Decimal
    working_type: str
    close_position: bool
    reduce_only: bool
    price_protect: bool
    time_in_force: str
    status: str = "NEW"  # NEW, TRIGGERED, FINISHED, CANCELED, EXPIRED, REJECTED
    created: int = field(default_factory=now_ms)
    updated: int = 0
    trigger_time: int = 0
    actual: Order | None = None
    callback_rate: Decimal = Decimal(0)  # TRAILING_STOP_MARKET: percent
    activate_price: Decimal = Decimal(0)  # TRAILING_STOP_MARKET: 0 = active from the start
    extreme: float | None = None  # TRAILING_STOP_MARKET: the best price since activation

    def trail(self, a: float, b: float) -> float | None:
        """A TRAILING_STOP_MARKET order on the price's straight move ``a -> b``: activate when the move
        reaches ``activate_price``, follow the best price since (the highest for a SELL, the lowest for a
        BUY), and answer the price at which the move comes back ``callback_rate`` % from it (None if not)."""
        selling = self.side == "SELL"
        if self.extreme is None:
            act = float(self.activate_price)
            if not ((selling and b >= act) or (not selling and b <= act)):
                return None
            self.extreme = act
        rate = float(self.callback_rate) / 100
        if selling:
            self.extreme = max(self.extreme, a, b) if b > a else max(self.extreme, a)
            stop = self.extreme * (1 - rate)
            return min(a, stop) if b <= stop else None
        self.extreme = min(self.extreme, a, b) if b < a else min(self.extreme, a)
        stop = self.extreme * (1 + rate)
        return max(a, stop) if b >= stop else None

    def triggered_by(self, price: float) -> bool:
        """Whether the price ``price`` meets the trigger: a stop buys at or above its price and sells at
        or below it; a take-profit the other way round."""
        stop = float(self.trigger_price)
        rising = (self.side == "BUY") == self.order_type.startswith("STOP")
        return price >= stop if rising else price <= stop


def _qty(market: ReplayMarket, symbol: str, value: Decimal) -> str:
    return f"{value:.{market.rules[symbol].qty_decimals}f}"


def _price(market: ReplayMarket, symbol: str, value: Decimal | float) -> str:
    return market.fmt_price(symbol, float(value)) if value else "0"


def order_json(market: ReplayMarket, order: Order) -> dict[str, object]:
    """An order as ``/fapi/v1/order`` (and ``openOrders``, ``allOrders``) answers it."""
    s = order.symbol
    return {
        "orderId": order.order_id,
        "symbol": s,
        "status": order.status,
        "clientOrderId": order.client_order_id,
        "price": _price(market, s, order.price),
        "avgPrice": f"{order.avg_price:.8f}" if order.filled else "0.00000",
        "origQty": _qty(market, s, order.quantity),
        "executedQty": _qty(market, s, order.filled),
        "cumQty": _qty(market, s, order.filled),
        "cumQuote": f"{order.cum_quote:.8f}",
        "timeInForce": order.time_in_force,
        "type": order.type,
        "origType": order.orig_type or order.type,
        "reduceOnly": order.reduce_only,
        "closePosition": order.close_position,
        "side": order.side,
        "positionSide": "BOTH",
        "stopPrice": _price(market, s, order.stop_price),
        "workingType": order.working_type,
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": order.created,
        "updateTime": order.updated,
    }


def order_event(
    market: ReplayMarket,
    order: Order,
    execution: str,
    *,
    last_qty: Decimal = Decimal(0),
    last_price: Decimal = Decimal(0),
    fee: Decimal = Decimal(0),
    realized: Decimal = Decimal(0),
    trade_id: int = 0,
    maker: bool = False,
) -> dict[str, object]:
    """The ``ORDER_TRADE_UPDATE`` user-stream event of one change of ``order`` (``execution``: NEW,
    CANCELED, EXPIRED, TRADE, with the fill's quantity, price, commission and realized profit)."""
    s, now = order.symbol, market.now_ms
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": order.updated or now,
        "o": {
            "s": s,
            "c": order.client_order_id,
            "S": order.side,
            "o": order.type,
            "f": order.time_in_force,
            "q": _qty(market, s, order.quantity),
            "p": _price(market, s, order.price),
            "ap": f"{order.avg_price:.8f}" if order.filled else "0",
            "sp": _price(market, s, order.stop_price),
            "x": execution,
            "X": order.status,
            "i": order.order_id,
            "l": _qty(market, s, last_qty),
            "z": _qty(market, s, order.filled),
            "L": _price(market, s, last_price),
            "N": "USDT",
            "n": f"{fee:.8f}",
            "T": order.updated or now,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": maker,
            "R": order.reduce_only,
            "wt": order.working_type,
            "ot": order.orig_type or order.type,
            "ps": "BOTH",
            "cp": order.close_position,
            "rp": f"{realized:.8f}",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def algo_json(market: ReplayMarket, algo: AlgoOrder) -> dict[str, object]:
    """An algo order as ``/fapi/v1/algoOrder`` (and ``openAlgoOrders``, ``allAlgoOrders``) answers it."""
    s, actual = algo.symbol, algo.actual
    return {
        "algoId": algo.algo_id,
        "clientAlgoId": algo.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": algo.order_type,
        "symbol": s,
        "side": algo.side,
        "positionSide": "BOTH",
        "timeInForce": algo.time_in_force,
        "quantity": _qty(market, s, algo.quantity),
        "algoStatus": algo.status,
        "actualOrderId": str(actual.order_id) if actual else "",
        "actualPrice": f"{actual.avg_price:.8f}" if actual and actual.filled else "0",
        "triggerPrice": _price(market, s, algo.trigger_price),
        "price": _price(market, s, algo.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": algo.working_type,
        "priceMatch": "NONE",
        "closePosition": algo.close_position,
        "priceProtect": algo.price_protect,
        "reduceOnly": algo.reduce_only,
        "activatePrice": _price(market, s, algo.activate_price) if algo.activate_price else "",
        "callbackRate": f"{algo.callback_rate}" if algo.callback_rate else "",
        "createTime": algo.created,
        "updateTime": algo.updated,
        "triggerTime": algo.trigger_time,
        "goodTillDate": 0,
    }


def algo_event(market: ReplayMarket, algo: AlgoOrder) -> dict[str, object]:
    """The ``ALGO_UPDATE`` user-stream event of ``algo``'s current status."""
    s, actual, now = algo.symbol, algo.actual, market.now_ms
    return {
        "e": "ALGO_UPDATE",
        "T": algo.updated or now,
        "E": now,
        "o": {
            "caid": algo.client_algo_id,
            "aid": algo.algo_id,
            "at": "CONDITIONAL",
            "o": algo.order_type,
            "s": s,
            "S": algo.side,
            "ps": "BOTH",
            "f": algo.time_in_force,
            "q": _qty(market, s, algo.quantity),
            "X": algo.status,
            "ai": str(actual.order_id) if actual else "",
            "ap": f"{actual.avg_price:.8f}" if actual and actual.filled else "0.00000",
            "aq": _qty(market, s, actual.filled) if actual else "0",
            "act": actual.type if actual else "0",
            "tp": _price(market, s, algo.trigger_price),
            "p": _price(market, s, algo.price),
            "V": "EXPIRE_MAKER",
            "wt": algo.working_type,
            "pm": "NONE",
            "cp": algo.close_position,
            "pP": algo.price_protect,
            "R": algo.reduce_only,
            "tt": algo.trigger_time,
            "gtd": 0,
            "rm": "",
        },
    }
