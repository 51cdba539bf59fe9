"""The order desk of the fake futures exchange: order and algo-order endpoints, and the matching of
resting orders against the replayed prices (the rules are :class:`OrderDesk`'s)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal

from cryptoflow.testing.fake_binance._account import FuturesAccount, limit_param
from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import KlineState, candle_path
from cryptoflow.testing.fake_binance._orders import (
    ALGO_TYPES,
    OPEN,
    ORDER_TYPES,
    AlgoOrder,
    Order,
    algo_event,
    algo_json,
    decimal_param,
    order_event,
    order_json,
)

__all__ = ["OrderDesk"]

_TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")


def _flag(params: dict[str, str], name: str) -> bool:
    return params.get(name, "false").lower() == "true"


class OrderDesk:
    """Orders of one :class:`FuturesAccount`: REST endpoints, and :meth:`on_kline` to match them.

    How the price meets orders (the rules executors are tested against):

    - Inside a candle the price follows :func:`~cryptoflow.testing.fake_binance.candle_path` (open -> low ->
      high -> close for a rising candle, open -> high -> low -> close for a falling one), in straight lines,
      on the tick grid. Each kline state the clock sends advances the price along that path; every price
      passed between two states counts, so a stop between two snapshots triggers.
    - Between candles the price jumps from the last close to the next open (a gap): nothing trades inside it.
    - Conditional (algo) orders trigger when the path reaches their ``triggerPrice`` (MARK_PRICE and
      CONTRACT_PRICE alike: the fake's mark price is its last price). A triggered ``*_MARKET`` order fills at
      once at the trigger price, or at the open when a gap jumped over it. STOP / TAKE_PROFIT place a LIMIT.
      The order placed carries the algo order's ``clientAlgoId`` as its ``clientOrderId`` and its type as
      ``origType``; the algo order goes NEW -> TRIGGERED -> FINISHED (or EXPIRED when nothing is left to
      close, REJECTED when an opening order cannot be margined).
    - A resting LIMIT order fills at its own price when the path reaches it (a gap over it too), at most
      ``volume_share`` of the volume traded in that stretch of the path (the candle's volume spread evenly
      over its time), rounded down to the step size: larger orders fill partially over several states.
      Within one kline state, conditional orders trigger first (in the order the price meets them), then
      LIMIT orders fill.
    - A LIMIT order that crosses the last price on arrival fills at once, in full, at the last price (taker);
      GTX (post-only) is then rejected (-5022), and IOC / FOK that do not cross expire.
    - A TRAILING_STOP_MARKET order activates when the path reaches ``activatePrice`` (at once without
      one), then follows the best price along the path and triggers ``callbackRate`` % back from it.
    - When a position becomes flat, its open reduce-only orders and close-position algo orders expire.
    - Times (orders' ``time``/``updateTime``, fills' ``time``, algo orders' ``triggerTime``, the user-stream
      events' ``E``/``T``) follow the replay's clock (:attr:`ReplayMarket.now_ms`), not the wall clock: a
      fill's time lies in the candle whose prices made it, as on Binance (the server time that signatures
      are checked against stays the wall clock).
    """

    def __init__(self, account: FuturesAccount, *, volume_share: float = 0.1) -> None:
        self.account = account
        self.market = account.market
        self.volume_share = volume_share
        self._ids = itertools.count(8_389_765_000)
        self._by_client_id: dict[tuple[str, str], Order] = {}
        self._algo_by_client_id: dict[str, AlgoOrder] = {}
        self._seen: dict[str, tuple[int, float, float]] = {}  # symbol -> (open_time, fraction, price)

    # ---- placing -----------------------------------------------------------------------------------

    def _common(self, params: dict[str, str]) -> tuple[str, str]:
        symbol = str(self.account.symbol(params))
        side = params.get("side", "").upper()
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        if params.get("positionSide", "BOTH").upper() != "BOTH":
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        return symbol, side

    def _quantity(self, symbol: str, params: dict[str, str]) -> Decimal:
        quantity = decimal_param("quantity", params.get("quantity"))
        if quantity <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if quantity % Decimal(self.market.rules[symbol].step_size) != 0:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        return quantity

    def _price(self, symbol: str, params: dict[str, str], name: str) -> Decimal:
        price = decimal_param(name, params.get(name))
        if price <= 0 or price % Decimal(self.market.rules[symbol].tick_size) != 0:
            raise BinanceError(-4014, "Price not increased by tick size.")
        return price

    def _min_notional(self, symbol: str, quantity: Decimal, price: float, reduce_only: bool) -> None:
        minimum = self.market.rules[symbol].min_notional
        if not reduce_only and float(quantity) * price < float(minimum):
            raise BinanceError(
                -4164,
                f"Order's notional must be no smaller than {minimum} (unless you choose reduce only).",
            )

    def _injected(self) -> None:
        if self.account.rejections:
            code, msg = self.account.rejections.pop(0)
            raise BinanceError(code, msg)

    def new_order(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /fapi/v1/order``: MARKET and LIMIT (conditional types answer -4120, as on Binance since
        the algo service took them). The answer is the order as accepted (``newOrderRespType=ACK``, the
        default) or after its immediate fills (``RESULT``)."""
        symbol, side = self._common(params)
        kind = params.get("type", "").upper()
        if kind in ALGO_TYPES:
            raise BinanceError(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        if kind not in ORDER_TYPES:
            raise BinanceError(-1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or f"fake{next(self._ids)}"
        if (symbol, client_id) in self._by_client_id:
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        quantity = self._quantity(symbol, params)
        price, tif = Decimal(0), params.get("timeInForce", "GTC").upper()
        if kind == "LIMIT":
            price = self._price(symbol, params, "price")
            if "timeInForce" not in params:
                raise BinanceError(
                    -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
                )
            if tif not in _TIME_IN_FORCE:
                raise BinanceError(-1115, "Invalid timeInForce.")
        reduce_only = _flag(params, "reduceOnly")
        last = self.market.price(symbol, closed_only=kind == "MARKET" and self.account.fill_at == "close")
        self._min_notional(symbol, quantity, float(price) if kind == "LIMIT" else last, reduce_only)
        self._injected()
        crosses = kind == "MARKET" or (float(price) >= last if side == "BUY" else float(price) <= last)
        if kind == "LIMIT" and tif == "GTX" and crosses:
            raise BinanceError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected.",
            )
        if reduce_only:
            self.account.check_reduce_only(symbol, side)
        else:
            self.account.check_margin(symbol, side, quantity, last if crosses else float(price))
        order = Order(next(self._ids), client_id, symbol, side, kind, quantity, price, reduce_only, tif)
        if kind == "MARKET":
            order.time_in_force = "GTC"
        self._register(order)
        self.account.requests.append(dict(params))
        accepted = order_json(self.market, order)
        if crosses:
            self._fill(order, self.account.reducible(order), last, maker=False)
        elif tif in ("IOC", "FOK"):
            self._close(order, "EXPIRED")
        return order_json(self.market, order) if params.get("newOrderRespType") == "RESULT" else accepted

    def _register(self, order: Order) -> None:
        order.created = order.updated = self.market.now_ms
        self.account.orders[order.order_id] = order
        self._by_client_id[(order.symbol, order.client_order_id)] = order
        self.account.emit(order_event(self.market, order, "NEW"))

    def new_algo_order(self, params: dict[str, str]) -> dict[str, object]:
        """``POST /fapi/v1/algoOrder`` (``algoType=CONDITIONAL``): STOP_MARKET, TAKE_PROFIT_MARKET, STOP,
        TAKE_PROFIT with ``triggerPrice``, ``quantity`` or ``closePosition=true``, ``workingType``;
        TRAILING_STOP_MARKET with ``callbackRate`` (0.1 to 10 %) and an optional ``activatePrice``."""
        symbol, side = self._common(params)
        if params.get("algoType", "").upper() != "CONDITIONAL":
            raise BinanceError(
                -1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed."
            )
        kind = params.get("type", "").upper()
        if kind not in ALGO_TYPES:
            raise BinanceError(-1116, "Invalid orderType.")
        client_id = params.get("clientAlgoId") or f"fakealgo{next(self._ids)}"
        known = self._algo_by_client_id.get(client_id)
        if known is not None and known.status == "NEW":
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        close_position = _flag(params, "closePosition")
        reduce_only = _flag(params, "reduceOnly")
        if close_position and kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(-4136, "Target strategy invalid for orderType " + kind + ",closePosition true")
        if close_position and params.get("quantity"):
            raise BinanceError(-1106, "Parameter 'quantity' sent when not required.")
        if close_position and "reduceOnly" in params:
            raise BinanceError(-1106, "Parameter 'reduceOnly' sent when not required.")
        quantity = Decimal(0) if close_position else self._quantity(symbol, params)
        trailing = kind == "TRAILING_STOP_MARKET"
        trigger = Decimal(0) if trailing else self._price(symbol, params, "triggerPrice")
        price = self._price(symbol, params, "price") if kind in ("STOP", "TAKE_PROFIT") else Decimal(0)
        working = params.get("workingType", "CONTRACT_PRICE").upper()
        if working not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise BinanceError(
                -1102, "Mandatory parameter 'workingType' was not sent, was empty/null, or malformed."
            )
        if close_position and any(
            a.symbol == symbol
            and a.side == side
            and a.close_position
            and a.order_type == kind
            and a.status == "NEW"
            for a in self.account.algo_orders.values()
        ):
            raise BinanceError(
                -4130,
                "An open stop or take profit order with GTE and closePosition in the direction is existing.",
            )
        rate, activate = Decimal(0), Decimal(0)
        if trailing:
            rate = decimal_param("callbackRate", params.get("callbackRate"))
            if not Decimal("0.1") <= rate <= 10:
                raise BinanceError(
                    -1130, "Invalid data sent for a parameter: callbackRate must be 0.1 to 10."
                )
            activate = (
                self._price(symbol, params, "activatePrice") if params.get("activatePrice") else activate
            )
        if not (close_position or reduce_only):
            self._min_notional(symbol, quantity, float(trigger) or self.market.price(symbol), False)
        self._injected()
        if reduce_only:
            self.account.check_reduce_only(symbol, side)
        algo = AlgoOrder(
            next(self._ids),
            client_id,
            symbol,
            side,
            kind,
            quantity,
            trigger,
            price,
            working,
            close_position,
            reduce_only,
            _flag(params, "priceProtect"),
            params.get("timeInForce", "GTC").upper(),
            callback_rate=rate,
            activate_price=activate,
        )
        if trailing and not activate:
            algo.extreme = self.market.price(symbol)  # follows the price from now on
        elif not trailing and algo.triggered_by(self.market.price(symbol)):
            raise BinanceError(-2021, "Order would immediately trigger.")
        algo.created = algo.updated = self.market.now_ms
        self.account.algo_orders[algo.algo_id] = algo
        self._algo_by_client_id[client_id] = algo
        self.account.requests.append(dict(params))
        self.account.emit(algo_event(self.market, algo))
        return algo_json(self.market, algo)

    # ---- querying and cancelling -------------------------------------------------------------------

    def find_order(self, params: dict[str, str]) -> Order:
        """The order named by ``orderId`` or ``origClientOrderId`` (else Binance's -2013)."""
        symbol = str(self.account.symbol(params))
        order: Order | None = None
        if params.get("orderId"):
            order = self.account.orders.get(int(params["orderId"]))
        elif params.get("origClientOrderId"):
            order = self._by_client_id.get((symbol, params["origClientOrderId"]))
        else:
            raise BinanceError(-1102, "Either orderId or origClientOrderId must be sent.")
        if order is None or order.symbol != symbol:
            raise BinanceError(-2013, "Order does not exist.")
        return order

    def query_order(self, params: dict[str, str]) -> dict[str, object]:
        """``GET /fapi/v1/order``."""
        return order_json(self.market, self.find_order(params))

    def cancel_order(self, params: dict[str, str]) -> dict[str, object]:
        """``DELETE /fapi/v1/order``."""
        order = self.find_order(params)
        if order.status not in OPEN:
            raise BinanceError(-2011, "Unknown order sent.")
        self._close(order, "CANCELED")
        return order_json(self.market, order)

    def open_orders(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/openOrders``."""
        symbol = self.account.symbol(params, required=False)
        return [
            order_json(self.market, o)
            for o in self.account.orders.values()
            if o.status in OPEN and symbol in (None, o.symbol)
        ]

    def all_orders(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/allOrders``: a symbol's orders, oldest first, from ``orderId``, in
        ``[startTime, endTime]``, at most ``limit`` (default 500, at most 1000)."""
        symbol = self.account.symbol(params)
        rows = [o for o in self.account.orders.values() if o.symbol == symbol]
        if params.get("orderId"):
            rows = [o for o in rows if o.order_id >= int(params["orderId"])]
        if params.get("startTime"):
            rows = [o for o in rows if o.created >= int(params["startTime"])]
        if params.get("endTime"):
            rows = [o for o in rows if o.created <= int(params["endTime"])]
        return [order_json(self.market, o) for o in rows[: limit_param(params, 500, 1000)]]

    def cancel_all(self, params: dict[str, str]) -> dict[str, object]:
        """``DELETE /fapi/v1/allOpenOrders``."""
        symbol = self.account.symbol(params)
        for order in list(self.account.orders.values()):
            if order.symbol == symbol and order.status in OPEN:
                self._close(order, "CANCELED")
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def find_algo(self, params: dict[str, str]) -> AlgoOrder:
        """The algo order named by ``algoId`` or ``clientAlgoId`` (else -2013)."""
        algo: AlgoOrder | None = None
        if params.get("algoId"):
            algo = self.account.algo_orders.get(int(params["algoId"]))
        elif params.get("clientAlgoId"):
            algo = self._algo_by_client_id.get(params["clientAlgoId"])
        else:
            raise BinanceError(-1102, "Either algoId or clientAlgoId must be sent.")
        if algo is None:
            raise BinanceError(-2013, "Order does not exist.")
        return algo

    def query_algo(self, params: dict[str, str]) -> dict[str, object]:
        """``GET /fapi/v1/algoOrder``."""
        return algo_json(self.market, self.find_algo(params))

    def cancel_algo(self, params: dict[str, str]) -> dict[str, object]:
        """``DELETE /fapi/v1/algoOrder``."""
        algo = self.find_algo(params)
        if algo.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        self._end_algo(algo, "CANCELED")
        return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}

    def open_algos(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/openAlgoOrders``."""
        symbol = self.account.symbol(params, required=False)
        return [
            algo_json(self.market, a)
            for a in self.account.algo_orders.values()
            if a.status == "NEW" and symbol in (None, a.symbol)
        ]

    def all_algos(self, params: dict[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/allAlgoOrders``: a symbol's algo orders, oldest first, at most ``limit``."""
        symbol = self.account.symbol(params)
        rows = [a for a in self.account.algo_orders.values() if a.symbol == symbol]
        return [algo_json(self.market, a) for a in rows[: limit_param(params, 500, 1000)]]

    def cancel_all_algos(self, params: dict[str, str]) -> dict[str, object]:
        """``DELETE /fapi/v1/algoOpenOrders``."""
        symbol = self.account.symbol(params)
        for algo in list(self.account.algo_orders.values()):
            if algo.symbol == symbol and algo.status == "NEW":
                self._end_algo(algo, "CANCELED")
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ---- state changes -----------------------------------------------------------------------------

    def _close(self, order: Order, status: str) -> None:
        order.status = status
        order.updated = self.market.now_ms
        self.account.emit(order_event(self.market, order, status))
        self._finish_algo_of(order)

    def _end_algo(self, algo: AlgoOrder, status: str) -> None:
        algo.status = status
        algo.updated = self.market.now_ms
        self.account.emit(algo_event(self.market, algo))

    def _finish_algo_of(self, order: Order) -> None:
        for algo in self.account.algo_orders.values():
            if algo.actual is order and algo.status == "TRIGGERED" and order.status not in OPEN:
                self._end_algo(algo, "FINISHED")

    def _fill(self, order: Order, qty: Decimal, price: float, *, maker: bool) -> None:
        if qty <= 0:
            self._close(order, "EXPIRED")  # a reduce-only order with nothing left to reduce
            return
        was_open = self.account.positions[order.symbol].amount != 0
        self.account.fill(order, qty, price, maker=maker)
        self._finish_algo_of(order)
        if was_open and self.account.positions[order.symbol].amount == 0:
            self._expire_protection(order.symbol)

    def _expire_protection(self, symbol: str) -> None:
        """The position is flat: its reduce-only orders and close-position algo orders expire."""
        for order in list(self.account.orders.values()):
            if order.symbol == symbol and order.status in OPEN and order.reduce_only:
                self._close(order, "EXPIRED")
        for algo in list(self.account.algo_orders.values()):
            if algo.symbol == symbol and algo.status == "NEW" and (algo.close_position or algo.reduce_only):
                self._end_algo(algo, "EXPIRED")

    def _trigger(self, algo: AlgoOrder, fill_price: float) -> None:
        algo.status = "TRIGGERED"
        algo.trigger_time = algo.updated = self.market.now_ms
        limit = algo.order_type in ("STOP", "TAKE_PROFIT")
        order = Order(
            next(self._ids),
            algo.client_algo_id,
            algo.symbol,
            algo.side,
            "LIMIT" if limit else "MARKET",
            algo.quantity,
            algo.price,
            algo.reduce_only,
            algo.time_in_force,
            orig_type=algo.order_type,
            stop_price=algo.trigger_price,
            close_position=algo.close_position,
            working_type=algo.working_type,
        )
        if algo.close_position:
            order.quantity = self.account.reducible(order)
        algo.actual = order
        if order.quantity <= 0:  # nothing left to close
            self._end_algo(algo, "EXPIRED")
            return
        if not (algo.reduce_only or algo.close_position):
            try:
                self.account.check_margin(algo.symbol, algo.side, order.quantity, fill_price)
            except BinanceError:
                algo.actual = None
                self._end_algo(algo, "REJECTED")
                return
        self.account.emit(algo_event(self.market, algo))
        self._register(order)
        if not limit:
            self._fill(order, self.account.reducible(order), fill_price, maker=False)

    # ---- matching ----------------------------------------------------------------------------------

    def on_kline(self, state: KlineState) -> None:
        """Move ``state.symbol``'s price from where the last state left it to ``state`` along the candle
        path, triggering and filling the orders it passes (see the module's rules)."""
        symbol = state.symbol
        final = self.market.forming.get(symbol)
        if final is None or final.open_time != state.open_time:
            return
        fraction = min(1.0, max(0.0, (state.event_time - state.open_time) / self.market.interval_ms))
        if state.is_closed:
            fraction = 1.0
        seen = self._seen.get(symbol) or (0, 1.0, self.market.history_close(symbol))
        legs: list[tuple[float, float, bool]] = []  # (from, to, gap)
        start = 0.0
        if seen[0] != state.open_time:
            if seen[2] != final.open:
                legs.append((seen[2], final.open, True))
            begin = final.open
        else:
            start, begin = seen[1], seen[2]
        points = [begin, *self._vertices(final, start, fraction), state.close]
        legs += [(a, b, False) for a, b in itertools.pairwise(points) if a != b]
        self._seen[symbol] = (state.open_time, fraction, state.close)
        volume = final.volume * (fraction - start)
        for a, b, gap in legs:
            self._cross(symbol, a, b, gap)
        if legs:
            low = min(min(a, b) for a, b, _ in legs)
            high = max(max(a, b) for a, b, _ in legs)
            self._fill_limits(symbol, low, high, volume)

    @staticmethod
    def _vertices(final: KlineState, start: float, end: float) -> list[float]:
        path = candle_path(final)
        return [path[k] for k in (1, 2) if start < k / 3 < end]

    def _cross(self, symbol: str, a: float, b: float, gap: bool) -> None:
        """Trigger the algo orders whose price lies on the move a -> b, in the order the price meets them."""
        hits: list[tuple[float, AlgoOrder]] = []
        for algo in self.account.algo_orders.values():
            if algo.symbol != symbol or algo.status != "NEW":
                continue
            if algo.order_type == "TRAILING_STOP_MARKET":
                hit = algo.trail(a, b)
                if hit is not None:
                    hits.append((hit, algo))
            elif self._on_leg(float(algo.trigger_price), a, b) and algo.triggered_by(b):
                hits.append((float(algo.trigger_price), algo))
        hits.sort(key=lambda hit: hit[0], reverse=b < a)
        for price, algo in hits:
            if algo.status == "NEW":
                self._trigger(algo, b if gap else self.market.rules[symbol].on_tick(price))

    @staticmethod
    def _on_leg(price: float, a: float, b: float) -> bool:
        return a < price <= b if b > a else b <= price < a

    def _fill_limits(self, symbol: str, low: float, high: float, volume: float) -> None:
        """Fill resting LIMIT orders the path reached, each at most ``volume_share`` of ``volume``."""
        step = Decimal(self.market.rules[symbol].step_size)
        cap = (Decimal(repr(float(volume * self.volume_share))) / step).to_integral_value(ROUND_DOWN) * step
        for order in list(self._resting(symbol)):
            price = float(order.price)
            if (order.side == "BUY" and low <= price) or (order.side == "SELL" and high >= price):
                qty = min(self.account.reducible(order), cap)
                if qty > 0 or self.account.reducible(order) <= 0:
                    self._fill(order, qty, price, maker=True)

    def _resting(self, symbol: str) -> Iterator[Order]:
        for order in list(self.account.orders.values()):
            if order.symbol == symbol and order.type == "LIMIT" and order.status in OPEN:
                yield order
