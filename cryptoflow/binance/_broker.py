"""The testnet and live brokers: Binance USD-M futures through python-binance: MARKET or LIMIT entries,
exchange-side protective orders, the user data stream."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from binance.exceptions import BinanceAPIException, BinanceRequestException

from cryptoflow.binance._filters import SymbolFilters
from cryptoflow.binance._http import BinanceEndpoints, binance_classes, is_restricted_location, open_client
from cryptoflow.binance._limit import limit_entry
from cryptoflow.binance._protection import (
    DUPLICATE_ID,
    Protection,
    ProtectiveOrders,
    derived_id,
    order_fills,
)
from cryptoflow.binance._reconcile import cancel_resting_entries, cancel_stale_protection
from cryptoflow.binance._user_stream import UserStream
from cryptoflow.brokers import BrokerBook, ClosedTrade, Position, TradingConfig
from cryptoflow.candles import Candle
from cryptoflow.errors import ConfigurationError, ExchangeRejection, RestrictedLocation, TemporaryError
from cryptoflow.events import Source
from cryptoflow.retry import Backoff, retry_async

if TYPE_CHECKING:  # cryptoflow.portfolio imports this package: no import at run time
    from cryptoflow.portfolio import EntrySettings

__all__ = ["BinanceFuturesBroker"]

log = logging.getLogger(__name__)

_NETWORK = (aiohttp.ClientError, asyncio.TimeoutError, BinanceRequestException, OSError)
_NO_CHANGE_MARGIN = -4046
_TIMESTAMP = -1021
_REDUCE_ONLY_REJECTED = -2022
_WOULD_TRIGGER = -2021


class _ClockSkew(Exception):
    """Binance's -1021: our clock drifted from the exchange's; resynchronised, then retried at once."""

    def __init__(self, rejection: BinanceAPIException) -> None:
        super().__init__(rejection.message)
        self.code, self.message = rejection.code, rejection.message


class BinanceFuturesBroker(BrokerBook):
    """Orders on Binance USD-M futures (``testnet`` or ``live``), one-way mode.

    Before trading it sets each symbol's leverage and margin type and reads back positions and open
    orders; positions found on the exchange win over the local state file (which only keeps the
    engine's bookkeeping: entry time, best close, candles held, and the position's protective orders).

    Sizing: each symbol has a budget of ``cash / symbols``; a position's notional is budget x fraction
    x leverage, its quantity rounded down to ``stepSize`` and checked against ``minQty`` and the
    minimum notional before sending (a too-small order is skipped with a clear message). A caller that
    sizes positions itself (the executor) passes ``quantity``. Fees are the commissions the exchange
    reports for each order's fills (``userTrades``).

    Entries are MARKET orders, or LIMIT orders with ``entry`` (:class:`cryptoflow.portfolio.EntrySettings`
    with ``type="limit"``; see :func:`open_position`).

    **Exchange-side protection** (``protection`` on :meth:`open_position`): once an entry fills, a
    ``STOP_MARKET`` and a ``TAKE_PROFIT_MARKET`` algo order with ``closePosition=true`` are placed at the
    levels from the fill price (tick-rounded), client algo ids ``<entry client order id>-sl`` / ``-tp``.
    They are cancelled when the broker closes the position. :meth:`start` reconciles them: a position
    without its orders gets them again, our protective orders without a position are cancelled, and a
    position one of them closed while no process ran is recorded as closed (reason ``stop_loss`` or
    ``take_profit``, price, time and fee from the exchange's fill) without sending anything. Entry LIMIT
    orders of ours still resting from an earlier process are cancelled before the position is read.

    **Closes made by the exchange** while the broker runs come from the user data stream (listenKey, kept
    alive, reconnected) when ``on_exchange_close`` is given: the broker records the round trip (its
    :meth:`last_closed`, the state file) and calls ``on_exchange_close(trade)`` once per close, also for
    those :meth:`start` found. ``trade.exit_order_id`` is the protective order's client algo id,
    ``trade.exit_time`` the exchange's fill time (epoch ms), ``trade.exit_reason`` ``stop_loss`` or
    ``take_profit``. The hook runs in the broker's event loop and must not block. Without the hook no
    stream is followed: an exchange close is then found by the next :meth:`start`, or by
    :meth:`close_position` (whose reduce-only order the exchange refuses, -2022).

    Retry rule: a network error or a timestamp error (-1021) is retried, up to ``retries`` tries in all,
    with the same client order id (network errors after 0.4 s doubling to 5 s, a timestamp error at
    once after resynchronising the clock), so a request that did reach the exchange is never doubled
    (Binance answers -4116, and the existing order is fetched instead). Any other rejection raises
    :class:`~cryptoflow.errors.ExchangeRejection` with Binance's code and message; the caller skips
    that decision. HTTP 451 (Binance refuses this server's region) raises
    :class:`~cryptoflow.errors.RestrictedLocation`, which no caller skips: trading stops.
    """

    user_stream_keepalive_s = 1800.0
    """How often the user data stream's listenKey is kept alive (Binance drops it after 60 minutes)."""

    def __init__(
        self,
        config: TradingConfig,
        state_path: Path,
        *,
        mode: str,
        endpoints: BinanceEndpoints,
        api_key: str | None,
        api_secret: str | None,
        retries: int = 4,
        on_exchange_close: Callable[[ClosedTrade], None] | None = None,
    ) -> None:
        if mode != "testnet" and mode != "live":
            raise ConfigurationError(f"broker mode must be testnet or live, got {mode!r}")
        if not api_key or not api_secret:
            raise ConfigurationError(
                f"the {mode} broker needs CRYPTOFLOW_BINANCE__API_KEY and CRYPTOFLOW_BINANCE__API_SECRET"
            )
        super().__init__(state_path)
        self.name: Source = "testnet" if mode == "testnet" else "live"
        self.config = config
        self._client_cls, self._sockets_cls = binance_classes(endpoints)
        self._key, self._secret = api_key, api_secret
        self.retries = retries
        self.on_exchange_close = on_exchange_close
        self.client: Any = None
        self.filters: dict[str, SymbolFilters] = {}
        self.budget = 0.0
        self.open_orders: dict[str, list[dict[str, Any]]] = {}
        self.protective: dict[str, ProtectiveOrders] = {}
        self.user_stream: UserStream | None = None
        self._stream_task: asyncio.Task[None] | None = None
        # one change of a symbol's position at a time (our orders, the stream's closes); symbols in parallel
        self._locks: dict[str, asyncio.Lock] = {}

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def _call(self, name: str, **params: Any) -> Any:
        """One REST call with the retry rule for network and timestamp errors."""
        skewed = False

        async def attempt() -> Any:
            nonlocal skewed
            if skewed:  # the last try met -1021: take the exchange's time before this one
                answer = await self.client.futures_time()
                self.client.timestamp_offset = int(answer["serverTime"]) - int(time.time() * 1000)
                skewed = False
            try:
                return await getattr(self.client, name)(**params)
            except BinanceAPIException as exc:
                if is_restricted_location(exc):
                    raise RestrictedLocation("REST API") from None
                if exc.code == _TIMESTAMP:
                    skewed = True
                    raise _ClockSkew(exc) from None
                raise ExchangeRejection(exc.code, exc.message) from None

        try:
            return await retry_async(
                attempt,
                backoff=Backoff(0.4, 5.0, jitter=False),
                retry_on=(*_NETWORK, _ClockSkew),
                attempts=self.retries,
                pause=lambda exc, delay: 0.0 if isinstance(exc, _ClockSkew) else delay,
            )
        except _ClockSkew as exc:
            raise ExchangeRejection(exc.code, exc.message) from None
        except _NETWORK as exc:
            raise TemporaryError(f"{name}: exchange unreachable after {self.retries} tries: {exc}") from None

    async def start(self, symbols: list[str]) -> dict[str, Position | None]:
        """Connect, load filters, set leverage and margin type, read back positions and open orders,
        reconcile the protective orders, and follow the user data stream (with ``on_exchange_close``)."""
        try:
            self.client = await open_client(self._client_cls, "futures", self._key, self._secret)
        except BinanceAPIException as exc:
            if is_restricted_location(exc):
                raise RestrictedLocation("REST API") from None
            raise ExchangeRejection(exc.code, exc.message) from None
        except _NETWORK as exc:
            raise TemporaryError(f"exchange unreachable: {exc}") from None
        info = await self._call("futures_exchange_info")
        known = {s["symbol"]: s for s in info["symbols"]}
        for symbol in symbols:
            if symbol not in known:
                raise ConfigurationError(f"symbol {symbol} is not traded on this exchange")
            self.filters[symbol] = SymbolFilters.from_exchange_info(known[symbol])
        self.budget = self.config.cash / max(1, len(symbols))
        document = self.load()
        plans = {s: ProtectiveOrders.of_document(d) for s, d in document.get("protective", {}).items()}
        saved, self.positions, self.protective = self.positions, {}, {}  # adopted below from the exchange
        found: list[ClosedTrade] = []
        for symbol in symbols:
            await self._call("futures_change_leverage", symbol=symbol, leverage=int(self.config.leverage))
            try:
                await self._call(
                    "futures_change_margin_type", symbol=symbol, marginType=self.config.margin_type
                )
            except ExchangeRejection as exc:
                if exc.code != _NO_CHANGE_MARGIN:
                    log.warning("%s: margin type not changed: %s", symbol, exc)
            await cancel_resting_entries(self._call, symbol)  # first: no fill may follow the read below
            risk = await self._call("futures_position_information", symbol=symbol)
            amount = sum(float(r["positionAmt"]) for r in risk)
            entry = next((float(r["entryPrice"]) for r in risk if float(r["positionAmt"]) != 0), 0.0)
            local, plan = saved.get(symbol), plans.get(symbol)
            if amount == 0:
                trade = await self._closed_by_exchange(local, plan) if local and plan else None
                if trade is not None:
                    found.append(trade)
                elif local is not None:
                    log.warning(
                        "%s: the state file had a position the exchange no longer has; dropped", symbol
                    )
                await cancel_stale_protection(self._call, symbol, None)
                continue
            side = 1 if amount > 0 else -1
            if local is not None and local.side == side:
                local.quantity, local.entry_price = abs(amount), entry
                self.positions[symbol] = local
                if plan is not None and plan.entry_order_id == local.entry_order_id:
                    self.protective[symbol] = plan
            else:
                log.warning(
                    "%s: adopting a %s position of %g found on the exchange",
                    symbol,
                    "long" if side > 0 else "short",
                    abs(amount),
                )
                self.positions[symbol] = Position(symbol, side, abs(amount), entry, 0, 0.0, entry, 0, "")
            await cancel_stale_protection(self._call, symbol, self.protective.get(symbol))
            if symbol in self.protective:
                await self._protect(symbol)
            self.open_orders[symbol] = await self._call("futures_get_open_orders", symbol=symbol)
            if self.open_orders[symbol]:
                log.warning(
                    "%s: %d open order(s) on the exchange left as they are",
                    symbol,
                    len(self.open_orders[symbol]),
                )
        self.save()
        for trade in found:
            self._report(trade)
        if self.on_exchange_close is not None:
            self._follow_user_stream()
        return {s: self.positions.get(s) for s in symbols}

    def state(self) -> dict[str, Any]:
        """The protective orders of the open positions (``protective``: symbol -> their ids and levels)."""
        return {"protective": {s: p.document() for s, p in self.protective.items()}}

    async def stop(self) -> None:
        """Stop following the user data stream and close the REST session (fills and decisions were
        written when they happened; the protective orders stay on the exchange)."""
        await self.release()

    async def release(self) -> None:
        """Like :meth:`stop`, without writing the state (saved after every change anyway)."""
        if self._stream_task is not None:
            self._stream_task.cancel()
            await asyncio.gather(self._stream_task, return_exceptions=True)
            self._stream_task = None
        if self.client is not None:
            await self.client.close_connection()
            self.client = None

    def _lock(self, symbol: str) -> asyncio.Lock:
        return self._locks.setdefault(symbol, asyncio.Lock())

    # ---- trading -----------------------------------------------------------------------------------

    def can_trade(self, symbol: str) -> bool:
        """Always true; the exchange refuses what the account cannot afford."""
        return True

    async def _market(
        self, symbol: str, side: str, quantity: Decimal, order_id: str, reduce_only: bool
    ) -> dict:
        params: dict[str, Any] = dict(
            symbol=symbol,
            side=side,
            type="MARKET",
            quantity=str(quantity),
            newClientOrderId=order_id,
            newOrderRespType="RESULT",
        )
        if reduce_only:
            params["reduceOnly"] = "true"
        try:
            order = await self._call("futures_create_order", **params)
        except ExchangeRejection as exc:
            if exc.code != DUPLICATE_ID:
                raise
            log.info("%s: order %s was already placed; using it", symbol, order_id)
            order = await self._call("futures_get_order", symbol=symbol, origClientOrderId=order_id)
        except TemporaryError:
            # the request may have reached the exchange: look before giving up
            try:
                order = await self._call("futures_get_order", symbol=symbol, origClientOrderId=order_id)
            except ExchangeRejection:
                raise TemporaryError(
                    f"{symbol}: order {order_id} not placed (exchange unreachable)"
                ) from None
        for _ in range(20):
            if order.get("status") == "FILLED":
                return order
            if order.get("status") in ("CANCELED", "EXPIRED", "REJECTED"):
                raise ExchangeRejection(0, f"{symbol}: order {order_id} ended {order['status']}")
            await asyncio.sleep(0.1)
            order = await self._call("futures_get_order", symbol=symbol, origClientOrderId=order_id)
        raise TemporaryError(f"{symbol}: order {order_id} not filled yet (status {order.get('status')})")

    async def _commission(self, symbol: str, order: dict) -> float:
        """What the exchange charged for a filled order, in the margin asset (from its fills).

        A fill whose commission was paid in another asset (BNB with the fee discount), or fills that
        cannot be read (the exchange is unreachable right after the fill), count at ``fee_rate``.
        """
        estimate = float(order["executedQty"]) * float(order["avgPrice"]) * self.config.fee_rate
        try:
            fills = await self._call("futures_account_trades", symbol=symbol, orderId=order["orderId"])
        except (ExchangeRejection, TemporaryError) as exc:
            log.warning("%s: fills of order %s unreadable (%s); fee counted at the configured rate",
                        symbol, order["orderId"], exc)  # fmt: skip
            return estimate
        if not fills:
            return estimate
        fee = 0.0
        for fill in fills:
            if fill.get("commissionAsset") == fill.get("marginAsset", "USDT"):
                fee += float(fill["commission"])
            else:
                fee += float(fill["quoteQty"]) * self.config.fee_rate
                log.info("%s: commission paid in %s; counted at the configured rate",
                         symbol, fill.get("commissionAsset"))  # fmt: skip
        return fee

    async def open_position(
        self,
        symbol: str,
        side: int,
        candle: Candle,
        order_id: str,
        *,
        quantity: float | None = None,
        protection: Protection | None = None,
        entry: EntrySettings | None = None,
    ) -> Position | None:
        """Enter ``side`` (+1 long, -1 short) at the candle's close; ``None`` when nothing was bought (an
        order below the exchange's minimums is skipped with a clear message; a limit entry that gave up).

        quantity: the position's size in base units (rounded down to ``stepSize``); default: sized from
            the budget (see the class).
        protection: places the exchange-side stop-loss and take-profit once the entry filled (none
            without it, as ``cryptoflow trade`` runs today).
        entry: with ``type="limit"``, LIMIT orders at close × (1 ± ``aggressiveness``), re-priced from
            the last price after ``timeout_s``, at most ``reprices`` times, then given up; a partial fill
            is the position (and the protection covers it). Else (or ``None``) one MARKET order.

        The position's ``entry_order_id`` is ``order_id`` (the first limit order's id; re-priced orders are
        ``<order_id>-r1``…); its price the average of its fills; its fee their commissions. If the price
        already passed a protective level when its order is sent (Binance's -2021), the position is
        closed at market at once (client order id ``<order_id>-sx``) with that level's reason, reported
        through ``on_exchange_close`` right after this returns, and :meth:`position` is ``None``.
        """
        filters = self.filters[symbol]
        if quantity is None:
            notional = self.budget * self.config.fraction * self.config.leverage
            ordered = filters.quantity(notional / candle.close)
        else:
            ordered = filters.quantity(quantity)
        try:
            filters.check(ordered, candle.close)
        except ExchangeRejection as exc:
            log.error("%s; entry skipped", exc.reason)
            return None
        async with self._lock(symbol):
            if entry is not None and entry.type == "limit":
                orders = await limit_entry(self._call, filters, side, ordered, candle.close, order_id, entry)
            else:
                orders = [await self._market(symbol, "BUY" if side > 0 else "SELL", ordered, order_id, False)]
            if not orders:
                return None
            executed = sum(float(o["executedQty"]) for o in orders)
            price = sum(float(o["executedQty"]) * float(o["avgPrice"]) for o in orders) / executed
            executed = float(filters.quantity(executed))
            fee = 0.0
            for order in orders:
                fee += await self._commission(symbol, order)
            position = Position(symbol, side, executed, price, candle.open_time, fee, price, 0, order_id)
            self.positions[symbol] = position
            if protection:
                self.protective[symbol] = ProtectiveOrders.plan(filters, side, price, order_id, protection)
            self.save()  # the plan first: a crash before the orders are placed is repaired by start()
            if protection:
                await self._protect(symbol)
            log.info(
                "%s: entered %s %g @ %.8g (fee %.6g)%s",
                symbol, "long" if side > 0 else "short", executed, price, fee,
                self._describe_protection(symbol),
            )  # fmt: skip
            return position

    async def close_position(self, symbol: str, candle: Candle, reason: str, order_id: str) -> ClosedTrade:
        """Exit with a reduce-only MARKET order for the whole position, then cancel its protective orders.

        When one of those orders closed the position first (the exchange refuses the reduce-only order,
        or the user data stream reported it), the answer is the exchange's round trip (reason
        ``stop_loss`` / ``take_profit``), the one ``on_exchange_close`` received.
        """
        async with self._lock(symbol):
            pos = self.positions.get(symbol)
            if pos is None:
                trade = self.closed.get(symbol)
                if trade is not None and trade.exit_reason in ("stop_loss", "take_profit"):
                    return trade  # the exchange's close, recorded (and reported) meanwhile
                raise ExchangeRejection(0, f"{symbol}: no open position to close")
            quantity = self.filters[symbol].quantity(pos.quantity)
            try:
                order = await self._market(
                    symbol, "SELL" if pos.side > 0 else "BUY", quantity, order_id, True
                )
            except ExchangeRejection as exc:
                if exc.code != _REDUCE_ONLY_REJECTED or symbol not in self.protective:
                    raise
                settled = await self._settle_exchange_close(symbol)
                if settled is None:
                    raise
                return settled
            price = float(order["avgPrice"])
            exit_fee = await self._commission(symbol, order)
            del self.positions[symbol]
            self.closed[symbol] = pos.close(candle.open_time, price, reason, exit_fee, order_id)
            plan = self.protective.pop(symbol, None)
            self.save()
            if plan is not None:
                cancelled = await plan.cancel(self._call)
                log.info("%s: protective orders cancelled: %s", symbol, ", ".join(cancelled) or "none open")
            return self.closed[symbol]

    # ---- protection --------------------------------------------------------------------------------

    def _describe_protection(self, symbol: str) -> str:
        plan = self.protective.get(symbol)
        if plan is None:
            return ""
        return "; protected: " + ", ".join(f"{leg} @ {price}" for leg, _, _, price in plan.legs())

    async def _protect(self, symbol: str) -> None:
        """Place the position's protective orders that are not open. When the price already passed a
        level (-2021, the order would trigger at once), the position is closed at market now with that
        level's reason, as the exchange would have closed it; another refusal is logged and the position
        stays open without that order (the strategy's own exits still apply). Called with the lock held."""
        plan = self.protective[symbol]
        placed, refused = await plan.place(self._call)
        for client_id in placed:
            log.info("%s: protective order %s placed", symbol, client_id)
        for leg, exc in refused:
            if exc.code == _WOULD_TRIGGER:
                log.warning("%s: the price already passed the %s level; closing at market", symbol, leg)
                await self._close_passed(symbol, leg)
                return
            log.error("%s: the %s order was refused (%s); the position lacks it", symbol, leg, exc)

    async def _close_passed(self, symbol: str, reason: str) -> None:
        """Close at market because the price passed a protective level before its order was placed; the
        trade is reported through ``on_exchange_close`` once the current caller has resumed."""
        pos, plan = self.positions[symbol], self.protective.pop(symbol)
        order_id = derived_id(pos.entry_order_id or f"cf-{symbol}", "sx")
        quantity = self.filters[symbol].quantity(pos.quantity)
        order = await self._market(symbol, "SELL" if pos.side > 0 else "BUY", quantity, order_id, True)
        fee = await self._commission(symbol, order)
        exit_time = int(order.get("updateTime") or time.time() * 1000)
        trade = pos.close(exit_time, float(order["avgPrice"]), reason, fee, order_id)
        del self.positions[symbol]
        self.closed[symbol] = trade
        self.save()
        await plan.cancel(self._call)
        asyncio.get_running_loop().call_soon(self._report, trade)

    async def _closed_by_exchange(self, pos: Position, plan: ProtectiveOrders) -> ClosedTrade | None:
        """The round trip of ``pos`` if one of its protective orders closed it (from that order's fills),
        recorded as the symbol's last closed trade; ``None`` when none did."""
        filled = await plan.filled_leg(self._call)
        if filled is None:
            return None
        reason, actual_order_id = filled
        fill = await order_fills(self._call, pos.symbol, actual_order_id, self.config.fee_rate)
        if fill is None:
            return None
        client_id = plan.stop_id if reason == "stop_loss" else plan.take_id
        trade = pos.close(fill.time, fill.price, reason, fill.fee, client_id)
        self.closed[pos.symbol] = trade
        log.info(
            "%s: the exchange closed the %s position: %s at %.8g (fee %.6g), PnL %.6g",
            pos.symbol, trade.side, reason, fill.price, fill.fee, trade.pnl,
        )  # fmt: skip
        return trade

    async def _settle_exchange_close(self, symbol: str) -> ClosedTrade | None:
        """If a protective order of the open position filled: record the close, cancel the other order,
        save, report; the trade (``None`` when nothing filled). Called with the lock held."""
        pos, plan = self.positions.get(symbol), self.protective.get(symbol)
        if pos is None or plan is None:
            return None
        trade = await self._closed_by_exchange(pos, plan)
        if trade is None:
            return None
        del self.positions[symbol]
        del self.protective[symbol]
        self.save()
        await plan.cancel(self._call)  # the other leg (Binance expires it too once the position is flat)
        self._report(trade)
        return trade

    def _report(self, trade: ClosedTrade) -> None:
        if self.on_exchange_close is None:
            return
        try:
            self.on_exchange_close(trade)
        except Exception:  # the owner's fault must not stop the broker
            log.exception("%s: on_exchange_close failed", trade.symbol)

    # ---- user data stream --------------------------------------------------------------------------

    def _follow_user_stream(self) -> None:
        base = self._sockets_cls.FSTREAM_URL
        self.user_stream = UserStream(
            self._call, base, self._on_user_event, self._catch_up, keepalive_s=self.user_stream_keepalive_s
        )
        self._stream_task = asyncio.create_task(self.user_stream.run(), name="binance-user-stream")
        self._stream_task.add_done_callback(_stream_ended)

    async def _catch_up(self) -> None:
        """On every (re)connection: what closed while the stream was down."""
        for symbol in list(self.protective):
            async with self._lock(symbol):
                await self._settle_exchange_close(symbol)

    async def _on_user_event(self, event: dict[str, Any]) -> None:
        """``ALGO_UPDATE`` FINISHED of one of our protective orders, or ``ACCOUNT_UPDATE`` with a held
        symbol now flat: settle the exchange's close."""
        kind = event.get("e")
        symbols: list[str] = []
        if kind == "ALGO_UPDATE":
            order = event.get("o", {})
            plan = self.protective.get(str(order.get("s")))
            if plan is not None and plan.reason_of(str(order.get("caid"))) and order.get("X") == "FINISHED":
                symbols.append(plan.symbol)
        elif kind == "ACCOUNT_UPDATE":
            for row in event.get("a", {}).get("P", []):
                if row.get("s") in self.protective and float(row.get("pa") or 0) == 0:
                    symbols.append(str(row["s"]))
        for symbol in symbols:
            async with self._lock(symbol):
                await self._settle_exchange_close(symbol)


def _stream_ended(task: asyncio.Task[None]) -> None:
    """The user data stream only ends when cancelled, or on HTTP 451: say so, it reports no more closes."""
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "user data stream stopped (%s): exchange closes are found at the next start", task.exception()
        )
